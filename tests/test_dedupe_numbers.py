"""Numbers in titles (dedupe/numbers.py): one spelling per number, and works told apart by one.

The end-to-end cases store hits and run the deduplication: distinct works whose titles differ
only in a number stay apart even with the same authors, journal and DOI; one work with its
number written two ways is one record, with or without DOIs.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.config import DedupeSettings
from evidence.dedupe.cluster import dedupe
from evidence.dedupe.keys import fold, title_key
from evidence.dedupe.numbers import canonical_numbers, title_numbers
from tests.test_dedupe import add, record_of

SERIES = {
    "authors": ["Hansen, Kari", "Olsen, Per", "Berg, Ida"], "year": 2023,
    "journal": "Tidsskrift for psykisk helsearbeid", "volume": "20", "issue": "2",
}


@pytest.mark.parametrize(("one", "other"), [
    ("Recovery in municipal services, part II", "Recovery in municipal services, part 2"),
    ("A twelve-month follow-up of ACT teams", "A 12-month follow-up of ACT teams"),
    ("Suicide mortality in Norway 1990\u20132019", "Suicide mortality in Norway 1990-2019"),
    ("Psychiatric admissions 2010 to 2015", "Psychiatric admissions 2010\u20132015"),
    ("Psychiatric admissions 2010-15", "Psychiatric admissions 2010-2015"),
    ("Depression in type II diabetes", "Depression in Type 2 diabetes"),
    ("Loneliness during COVID-19", "Loneliness during COVID 19"),
    ("Loneliness during COVID19", "Loneliness during COVID-19"),
    ("Twenty-four-month outcomes", "24-month outcomes"),
    ("The first and second wave", "The 1st and 2nd wave"),
    ("A survey of 31 000 women", "A survey of 31,000 women"),
    ("Human papillomavirus and cervical cancer. [Review] [133 refs]",
     "Human papillomavirus and cervical cancer"),
    ("Eculizumab in aHUS.[Erratum appears in N Engl J Med. 2009;360(25):2687]",
     "Eculizumab in aHUS"),
])
def test_one_number_written_two_ways_gives_one_title(one, other):
    assert title_key(one) == title_key(other)


@pytest.mark.parametrize(("one", "other"), [
    ("Recovery in municipal services, part 1", "Recovery in municipal services, part 2"),
    ("Recovery in municipal services, part I", "Recovery in municipal services, part II"),
    ("Ungdata 2023: national results", "Ungdata 2024: national results"),
    ("12-month outcomes of assertive community treatment",
     "24-month outcomes of assertive community treatment"),
    ("Suicide mortality in Norway 1990-2019", "Suicide mortality in Norway 1990-2017"),
    ("Case A: a municipal merger", "Case B: a municipal merger"),
    ("Vaccination against hepatitis B in prisons", "Vaccination against hepatitis C in prisons"),
])
def test_titles_that_differ_in_a_number(one, other):
    a, b = title_numbers(title_key(one)), title_numbers(title_key(other))
    assert a - b and b - a


def test_letters_that_are_not_numbers():
    assert title_numbers(title_key("Alzheimer's disease in chronic kidney d isease")) == set()
    assert title_numbers(title_key("I think, therefore: a study")) == set()


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 -,.", max_size=60))
def test_canonical_numbers_is_idempotent(text):
    once = canonical_numbers(fold(text))
    assert canonical_numbers(once) == once


DISTINCT = [
    # two parts of one article series: same authors, journal, year and issue
    ({"title": "Recovery-oriented practice in municipal services. Part 1: the users' view",
      "pages": "101-115"},
     {"title": "Recovery-oriented practice in municipal services. Part 2: the staff's view",
      "pages": "116-130"}),
    ({"title": "Recovery-oriented practice in municipal services, part I", "pages": "101-115"},
     {"title": "Recovery-oriented practice in municipal services, part II", "pages": "116-130"}),
    # waves of a survey
    ({"title": "Loneliness among older adults in Norway: wave 1 of the HUNT survey",
      "pages": "12-20"},
     {"title": "Loneliness among older adults in Norway: wave 2 of the HUNT survey",
      "pages": "12-20", "year": 2024}),
    # a yearly report series: grey literature, no journal, pages or DOI
    ({"title": "Kommunalt psykisk helse- og rusarbeid 2023: årsverk, kompetanse og innhold",
      "journal": None, "volume": None, "issue": None, "year": 2023},
     {"title": "Kommunalt psykisk helse- og rusarbeid 2024: årsverk, kompetanse og innhold",
      "journal": None, "volume": None, "issue": None, "year": 2024}),
    # the same yearly report, its year in the title only
    ({"title": "Ungdata 2023. Nasjonale resultater", "journal": None, "volume": None,
      "issue": None},
     {"title": "Ungdata 2024. Nasjonale resultater", "journal": None, "volume": None,
      "issue": None}),
    # follow-ups of one trial
    ({"title": "Assertive community treatment in rural Norway: 12-month follow-up of a "
               "randomised trial", "pages": "44-52"},
     {"title": "Assertive community treatment in rural Norway: 24-month follow-up of a "
               "randomised trial", "pages": "201-210", "year": 2024}),
    # two year ranges
    ({"title": "Involuntary admissions in Norway 1990-2019: a registry study"},
     {"title": "Involuntary admissions in Norway 2000\u20132019: a registry study"}),
]


@pytest.mark.parametrize("with_doi", [True, False], ids=["same DOI", "no DOI"])
@pytest.mark.parametrize(("one", "other"), DISTINCT)
def test_works_differing_only_in_a_number_stay_apart(db, one, other, with_doi):
    doi = "10.1234/series.2023.2" if with_doi else None
    a, b = add(db, "idunn", {**SERIES, "doi": doi, **one}, {**SERIES, "doi": doi, **other})
    dedupe(db, DedupeSettings())
    assert record_of(db, a) != record_of(db, b)


SAME = [
    ("Recovery-oriented practice in municipal services, part II",
     "Recovery-oriented practice in municipal services, part 2"),
    ("A twelve-month follow-up of assertive community treatment in Tromsø",
     "A 12-month follow-up of assertive community treatment in Tromsø"),
    ("Suicide mortality in Norway 1990\u20132019: a registry study",
     "Suicide mortality in Norway 1990-2019: a registry study"),
    ("Psychiatric admissions in Norway 2010 to 2015: a registry study",
     "Psychiatric admissions in Norway 2010\u20132015: a registry study"),
    ("Depression and type II diabetes in municipal health care",
     "Depression and type 2 diabetes in municipal health care"),
    ("Loneliness among students during COVID-19: a survey",
     "Loneliness among students during COVID 19: a survey"),
]


@pytest.mark.parametrize("with_doi", [True, False], ids=["DOI", "no DOI"])
@pytest.mark.parametrize(("one", "other"), SAME)
def test_one_work_with_its_number_written_two_ways_is_one_record(db, one, other, with_doi):
    doi = "10.1234/one.work" if with_doi else None
    a, b = add(db, "idunn", {**SERIES, "doi": doi, "pages": "5-19", "title": one},
               {**SERIES, "doi": None, "pages": "5-19", "title": other,
                "journal": "Tidsskr Psykisk Helsearb"})
    dedupe(db, DedupeSettings())
    assert record_of(db, a) == record_of(db, b)


def test_typo_in_a_number_on_the_same_page_is_one_work(db):
    """``p6INK4a`` for ``p16INK4a``: two works never start on one page of one volume."""
    base = {**SERIES, "pages": "1099-1103", "doi": None}
    a, b = add(db, "embase",
               {**base, "title": "p16(INK4a) expression does not predict the outcome of CIN 2"},
               {**base, "title": "p6INK4a expression does not predict the outcome of CIN 2"})
    dedupe(db)
    assert record_of(db, a) == record_of(db, b)
