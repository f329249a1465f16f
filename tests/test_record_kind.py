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


#: One example per alternative of each pattern, in the pattern's order.
EXAMPLES = {
    "_REVIEW": ["Reviews", "Scoping", "meta-analyses", "Metasynthesis", "evidence synthesis",
                "qualitative synthesis", "systematiske litteraturstudier",
                "Kunnskapsoppsummeringen", "litteraturgjennomgang", "litteraturstudie",
                "forskningsoversikter", "kunnskapsoversikt"],
    "_SUBSTANCE": ["Substance", "alcoholism", "drugs", "cannabis", "addiction", "opioids",
                   "heroin", "cocaine", "harm reduction", "syringes", "needle", "smoking",
                   "tobacco", "nicotine", "gambling", "overdoses", "rusmidler", "narkotika",
                   "avhengighet", "alkoholbruk", "spilleavhengighet", "legemiddelassistert"],
    "_NORDIC_PLACE": ["Norwegian", "Norge", "norske", "Nordic", "nordiske", "Nordens",
                      "Scandinavian", "skandinaviske", "Sweden", "Swedish", "svenske",
                      "Denmark", "Danish", "danske", "Finland", "Finnish", "Icelandic",
                      "Sámi", "Oslo", "Bergen", "Trondheim", "Tromsø", "kommunene",
                      "Tidsskriftet", "tidskrift"],
}
STEMS = {"_REVIEW": "REVIEW_STEMS", "_SUBSTANCE": "SUBSTANCE_STEMS",
         "_NORDIC_PLACE": "NORDIC_STEMS"}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_stems_never_hide_a_match(name):
    """kinds() runs a pattern only when one of its stems is in the text: every alternative
    of the pattern needs one (an alternative added without a stem or example fails here)."""
    import evidence.models.record_kind as rk

    pattern, stems = getattr(rk, name), getattr(rk, STEMS[name])
    inner = pattern.pattern[len(r"\b(?:"):-1]
    depth, alternatives = 0, 1
    for char in inner:
        depth += {"(": 1, ")": -1}.get(char, 0)
        alternatives += char == "|" and depth == 0
    assert alternatives == len(EXAMPLES[name])
    for word in EXAMPLES[name]:
        text = f"A study of {word} in care"
        assert pattern.search(text), word
        assert any(stem in text.lower() for stem in stems), word
