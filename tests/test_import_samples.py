"""The bundled demo samples read as promised in evidence/samples/SAMPLES.md."""

from __future__ import annotations

import json

from evidence.demo import SAMPLES, sample_path
from evidence.harvest.files import detect_format, read_file
from evidence.harvest.files.importing import import_file
from evidence.harvest.store import normalise_hit


def rows(name: str) -> list[dict]:
    return [normalise_hit(hit) for hit in read_file(sample_path(name))]


def test_sample_counts_and_formats():
    found = {name: (detect_format(sample_path(name)), len(rows(name))) for name, _ in SAMPLES}
    assert found == {
        "pubmed-mental-health.nbib": ("nbib", 25), "pubmed-substance-use.nbib": ("nbib", 15),
        "idunn.ris": ("ris", 15), "kudos.csv": ("csv", 8),
    }


def test_two_substance_use_records_are_mental_health_records():
    mental = {r["pmid"] for r in rows("pubmed-mental-health.nbib")}
    substance = {r["pmid"] for r in rows("pubmed-substance-use.nbib")}
    assert mental & substance == {"99100024", "99100025"}


def test_one_idunn_record_is_a_pubmed_record_without_pmid():
    pubmed = {r["doi"]: r for r in rows("pubmed-mental-health.nbib")}
    twins = [r for r in rows("idunn.ris") if r["doi"] in pubmed]
    assert len(twins) == 1
    assert twins[0]["pmid"] is None
    assert twins[0]["title"] == pubmed[twins[0]["doi"]]["title"]


def test_nbib_fields_and_structured_abstract():
    first = rows("pubmed-mental-health.nbib")[0]
    assert first["external_id"] == first["pmid"] == "99100001"
    assert first["title"] == ("Integrated care models for adults with mental illness in primary "
                              "care: a systematic review")
    assert first["abstract"].split("\n\n")[0].startswith("BACKGROUND: ")
    assert first["year"] == 2024 and first["doi"] == "10.9999/demo.mh.2024.001"
    assert "Systematic Review" in json.loads(first["publication_types"])
    assert json.loads(first["authors"])[0] == "Brekke, Marte"


def test_a_title_carries_markup_characters_for_escaping_tests():
    titles = [r["title"] for r in rows("pubmed-mental-health.nbib")]
    assert any("<i>" in t and "&" in t for t in titles)


def test_kudos_csv_norwegian_columns():
    first = rows("kudos.csv")[0]
    assert first["title"] == "Kommunalt psykisk helse- og rusarbeid 2024: årsrapport"
    assert first["journal"] == "Helsedirektoratet" and first["year"] == 2024
    assert json.loads(first["keywords"]) == ["psykisk helse", "rusarbeid", "kommune"]


def test_importing_all_samples_joins_the_shared_works(db):
    for name, search in SAMPLES:
        import_file(db, sample_path(name), source=search)
    hits = db.execute("SELECT count(*) FROM hits").fetchone()[0]
    assert hits == 63
