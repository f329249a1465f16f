"""Real EFetch answers (tests/fixtures/pubmed/real, from metapub's and Biopython's test suites)
stored with what they say: markup, dates, names, identifiers. Issue 25."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from evidence import markup
from evidence.cli import cli
from evidence.harvest import store
from evidence.harvest.files import detect_format
from evidence.harvest.files.medline import nbib_to_hit
from evidence.harvest.pubmed.client import parse_articles
from evidence.harvest.pubmed.convert import medline_date, to_hit
from evidence.markup import strip as plain_text

REAL = Path(__file__).resolve().parent / "fixtures" / "pubmed" / "real"
FILES = sorted(REAL.glob("*.xml"))


def _hits(name: str) -> list[dict]:
    return [store.normalise_hit(to_hit(a)) for a in parse_articles((REAL / name).read_bytes())]


def _one(name: str) -> dict:
    (hit,) = _hits(name)
    return hit


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_real_answer_parses_and_keeps_only_safe_markup(path):
    hits = _hits(path.name)
    assert hits
    for hit in hits:
        for text in (hit["title"], hit["abstract"]):
            tags = set(re.findall(r"</?([A-Za-z][\w:.-]*)[^<>]*>", text or ""))
            assert tags <= markup.ALLOWED_TAGS, tags
            plain = plain_text(text)
            assert not re.search(r"</?(?:sup|sub|i|b|u)>", plain or "")


def test_mathml_becomes_inline_markup_with_its_meaning():
    abstract = _one("pubmed6.xml")["abstract"]
    assert "V̇O<sub>2max</sub>" in abstract and "m a x" not in abstract
    assert "km·h<sup>-1</sup>" in abstract
    assert "V̇O₂ₘₐₓ" in plain_text(abstract) and "km·h⁻¹" in plain_text(abstract)
    lung = _one("pubmed7.xml")["abstract"]
    assert "<sup>3</sup>He/<sup>129</sup>Xe" in lung and "He 3 / Xe 129" not in lung
    assert "³He/¹²⁹Xe" in plain_text(lung)


def test_plain_text_keeps_what_scripts_mean():
    assert plain_text("2.5 × 10<sup>18</sup> cm<sup>-3</sup>") == "2.5 × 10¹⁸ cm⁻³"
    assert plain_text("year<sup>-1</sup>") == "year⁻¹"
    assert plain_text("x<sup>a+b</sup>") == "x^(a+b)"
    assert plain_text("CO<sub>2</sub> and <i>E. coli</i>") == "CO2 and E. coli"
    assert plain_text("LE<sub>min</sub>") == "LEₘᵢₙ"


def test_suffixes_and_full_names_are_kept():
    authors = json.loads(_one("26568896.xml")["authors"])
    assert "Wise, John Pierce Sr" in authors
    every = [a for p in FILES for h in _hits(p.name) for a in json.loads(h["authors"])]
    assert any(a.endswith(" Jr") for a in every) and any(a.endswith(" 3rd") for a in every)


def test_seasons_and_medline_dates_keep_what_they_say():
    dates = {h["pub_date"] for p in FILES for h in _hits(p.name)}
    assert {"2013 Jan-Mar", "2020 Winter", "2024 Winter-Spring"} <= dates
    assert any(h["pub_date"].endswith("Spring") for h in _hits("pubmed1.xml"))


def test_article_numbers_fill_the_pages_of_online_only_articles():
    assert _one("35358095.xml")["pages"] == "e154225"


def test_vernacular_title_is_kept():
    hit = _one("36987902.xml")
    assert hit["original_title"].startswith("Pasienter over 75 år")
    assert not hit["title"].startswith("Pasienter")


def test_a_books_editors_are_not_its_authors():
    hit = _one("book_20301577.xml")
    assert json.loads(hit["authors"]) == ["Napolitano, Carlo", "Priori, Silvia G"]
    creators = json.loads(hit["creators"])
    assert {c["role"] for c in creators} == {"editor"}
    assert creators[0]["name"] == "Adam, Margaret P"


def test_older_http_doctype_and_older_dtd_years_are_read_without_fetching(tmp_path):
    hit = _one("http_doctype_4.xml")
    assert hit["pmid"] == "4" and hit["title"].startswith("Effect of chloroquine")
    body = (REAL / "32294727.xml").read_bytes()
    older = re.sub(rb"<!DOCTYPE[^>]*>", b'<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD '
                   b'PubMedArticle, 1st January 2008//EN" "http://www.ncbi.nlm.nih.gov/entrez/'
                   b'query/DTD/pubmed_080101.dtd">', body, count=1)
    (article,) = parse_articles(older)
    assert to_hit(article)["abstract"] == _one("32294727.xml")["abstract"]


def test_a_single_string_abstract_is_one_paragraph_not_one_per_character():
    from evidence.harvest.pubmed.convert import _abstract
    assert _abstract({"AbstractText": "One whole abstract."}) == "One whole abstract."


def test_medline_text_stores_what_the_xml_stores():
    assert medline_date("2006 Mar 1") == "2006-03-01"
    assert medline_date("2006 Mar") == "2006-03" and medline_date("2024 Jan-Feb") == "2024 Jan-Feb"
    record = {"PMID": "1", "TI": "T", "TA": "J", "PT": ["Journal Article"], "DP": "2006 Mar 1",
              "MH": ["Humans", "*Depression/therapy"]}
    hit = nbib_to_hit(record)
    assert (hit["item_type"], hit["pub_date"]) == ("journalArticle", "2006-03-01")
    xml = _one("32294727.xml")
    assert json.loads(xml["mesh_terms"]), "the fixture has MeSH headings"
    assert all(re.fullmatch(r"\*?[^/*]+(?:/\*?[^/*]+)*", m) for m in json.loads(xml["mesh_terms"]))
    assert xml["item_type"] == "journalArticle"


def test_evidence_import_reads_pubmed_xml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    target = tmp_path / "saved.xml"
    target.write_bytes((REAL / "26568896.xml").read_bytes())
    assert detect_format(target) == "pubmed-xml"
    result = runner.invoke(cli, ["import", str(target), "--source", "pubmed-file", "--new-search"])
    assert result.exit_code == 0, result.output
    import sqlite_utils
    db = sqlite_utils.Database(tmp_path / "evidence.db")
    (row,) = db.query("SELECT external_id, authors, item_type FROM hits")
    assert row["external_id"] == "26568896" and "Wise, John Pierce Sr" in row["authors"]
    assert row["item_type"] == "journalArticle"


def test_search_folding_reads_scripts_as_their_digits_and_letters():
    from evidence.terms import fold

    assert fold("CO₂ 10¹⁸ ³He") == "co2 1018 3he"
    assert len(fold("℠™²")) == 3  # one character for one: spans map back to the text
