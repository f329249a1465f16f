"""Property tests for the normalisers the file readers rely on (evidence/normalise.py)."""

from __future__ import annotations

import string
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from evidence import normalise as n
from evidence.harvest.files import content_id, split_structured

suffix = st.text(alphabet=string.ascii_letters + string.digits + "-._;()/:",
                 min_size=1, max_size=30).filter(lambda s: s[-1] not in ".,;)]}>")
registrant = st.integers(min_value=1000, max_value=999999999)


@given(registrant, suffix, st.sampled_from(["", "doi:", "https://doi.org/",
                                             "http://dx.doi.org/", "DOI: "]))
def test_doi_prefixes_and_case_do_not_matter(reg, rest, prefix):
    doi = f"10.{reg}/{rest}"
    assert n.normalise_doi(prefix + doi) == doi.lower()
    assert n.normalise_doi(prefix + doi.upper()) == doi.lower()


@given(st.text(alphabet=string.ascii_lowercase + string.digits, min_size=2, max_size=12)
       .filter(lambda s: any(c.isalpha() for c in s)),
       st.sampled_from(["", "doi:", "https://doi.org/", "http://dx.doi.org/"]))
def test_short_doi_is_kept_as_given(code, prefix):
    assert n.normalise_doi(f"{prefix}10/{code.upper()}") == f"10/{code}"


@given(st.integers(min_value=1, max_value=31), st.integers(min_value=1900, max_value=2100))
def test_dates_are_not_short_dois(day, year):
    assert n.normalise_doi(f"10/{year}") is None
    assert n.normalise_doi(f"10/{day}/{year}") is None


@given(st.text(max_size=40))
def test_doi_is_idempotent(text):
    once = n.normalise_doi(text)
    assert once is None or n.normalise_doi(once) == once


@given(st.integers(min_value=1500, max_value=2199), st.sampled_from(
    ["{}", "{} Jan-Feb", "{}/03/01", "{}//", "Spring {}", "{}-12-24", " {} "]))
def test_year_is_found_in_date_shapes(year, shape):
    assert n.normalise_year(shape.format(year)) == year


@given(st.text(alphabet="0123456789 /-", max_size=12))
def test_year_is_plausible_or_none(text):
    year = n.normalise_year(text)
    assert year is None or 1500 <= year <= 2199


names = st.lists(st.from_regex(r"[A-ZÆØÅ][a-zæøå]{1,10}, [A-ZÆØÅ][a-zæøå]{0,8}", fullmatch=True),
                 max_size=6)


@given(names)
def test_authors_round_trip_through_a_semicolon_string(authors):
    assert n.normalise_authors("; ".join(authors)) == authors
    assert n.normalise_authors(authors) == authors


@given(st.text(max_size=200))
def test_clean_text_is_idempotent_and_trimmed(text):
    once = n.clean_text(text)
    assert once is None or (once == once.strip() and n.clean_text(once) == once)


@given(st.text(max_size=300))
def test_split_structured_only_changes_white_space(text):
    out = split_structured(text)
    assert "".join((out or "").split()) == "".join((text or "").split())


@given(st.text(max_size=50), st.integers(1900, 2100), names)
def test_content_id_ignores_case_and_spacing(title, year, authors):
    hit = {"title": title, "year": year, "authors": authors}
    spaced = {"title": f"  {title.upper()} ".replace(" ", "  "), "year": str(year),
              "authors": authors}
    if title.upper().lower() == title.lower():
        assert content_id(hit) == content_id(spaced)



def _collapsed(text: str) -> str | None:
    return " ".join(unicodedata.normalize("NFC", text).split()) or None


_SPACES = [" ", "  ", *string.whitespace, "\x1c", "\x1d", "\x1e", "\x1f", "\u00a0",
           "\u2009", "\u3000", "\x85"]


def test_clean_text_equals_collapsing_for_every_kind_of_space():
    """clean_text's shortcut for clean ASCII text gives what collapsing the words gives."""
    samples = ["", "a", "a b", "Title: a study", "é", "e\u0301"]
    samples += [f"{s}x" for s in _SPACES] + [f"x{s}" for s in _SPACES]
    samples += [f"a{s}b" for s in _SPACES] + [f"a{s}{s}b" for s in _SPACES]
    for text in samples:
        assert n.clean_text(text) == _collapsed(text), repr(text)


@given(st.lists(st.sampled_from(["a", "b", "é", "e\u0301", *_SPACES])).map("".join))
def test_clean_text_equals_collapsing_any_text(text):
    assert n.clean_text(text) == _collapsed(text)


def _split_at_every_colon(abstract):
    """split_structured as first written: a look at every colon (the specification)."""
    import re

    label = re.compile(r"[A-Z][A-Z0-9 ,/&()'-]{1,60}[A-Z)]$")
    if not abstract or "\n\n" in abstract:
        return abstract
    abstract = abstract.strip()
    starts = []
    colon = abstract.find(": ")
    while colon != -1:
        match = label.search(abstract, max(colon - 62, 0), colon)
        if match:
            before = abstract[max(match.start() - 3, 0):match.start()].rstrip()[-1:]
            if before in ("", ".", "?", "!", ")"):
                starts.append(match.start())
        colon = abstract.find(": ", colon + 2)
    if len(starts) < 2 or starts[0] != 0:
        return abstract
    bounds = [*starts, len(abstract)]
    return "\n\n".join(abstract[a:b].strip() for a, b in zip(bounds, bounds[1:], strict=False))


_PIECES = ["BACKGROUND:", "METHODS:", "RESULTS AND DISCUSSION:", "AIM(S):", "Background:",
           "HIV:", "II:", "A" * 61 + ":", "x", "the study.", "was done?", "(n = 3)", ":", " ",
           "  ", "\n", "\n\n", "."]


@given(st.lists(st.sampled_from(_PIECES), max_size=12).map(" ".join))
def test_split_structured_looks_once_at_unstructured_text_with_the_same_result(text):
    assert split_structured(text) == _split_at_every_colon(text)
