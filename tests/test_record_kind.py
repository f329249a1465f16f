"""The kind of a work (models/record_kind.py), as the theme suggester sees it."""

from __future__ import annotations

import pytest

from evidence.models.record_kind import is_nordic_language, kinds


@pytest.mark.parametrize("title", [
    "Effectiveness of Syringe Services Programs: A Systematic Review",
    "Harm reduction in medical education: a systematic scoping review",
    "Barriers and facilitators in community pharmacy: a qualitative evidence synthesis",
    "Prevalence of intimate partner violence: meta-analysis",
    "Ettervern etter rusbehandling: en kunnskapsoppsummering",
    "Brukermedvirkning i psykisk helsearbeid – en systematisk litteraturgjennomgang",
])
def test_reviews_are_recognised_in_english_and_norwegian(title):
    assert "review" in kinds(title)


@pytest.mark.parametrize("title, nordic", [
    ("Samvalg som helsefremmende relasjonsarbeid", True),
    ("Psykisk helsearbeid i trange sko", True),
    ("Samarbeid om brukarmedverknad. Refleksjonar frå deltakarar", True),
    ("Psykosocial rehabilitering af ældre selvmordsefterladte", True),
    ("Nurses' experiences when conducting the mental state examination", False),
    ("Psychoeducational group interventions for adults diagnosed with ADHD", False),
])
def test_nordic_language_by_letters_and_short_words(title, nordic):
    assert is_nordic_language(title) is nordic


def test_nordic_place_or_journal_makes_an_english_title_nordic():
    assert "nordic" in kinds("Social workers in private sector employment: the case of Sweden")
    assert "nordic" in kinds("Homeless at heart", "", "Nordic Journal of Wellbeing")
    assert "nordic" not in kinds("Homeless at heart", "", "BMC Public Health")


def test_substance_use_books_and_other():
    assert kinds("«Vi er jo ikke stonere»: bruk av cannabis blant ungdommer") == [
        "nordic", "substance_use"]
    assert "substance_use" in kinds("Ruspolitikens etikk")
    assert "book" in kinds("Relasjonens betydning", "", "Gyldendal")
    assert "book" in kinds("Psykisk helsearbeid", "", "Universitetsforlaget")
    assert kinds("Global prevalence of loneliness", "", "Lancet") == ["other"]
