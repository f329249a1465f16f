"""Edits flow through: a changed item updates its hit and the record built from it.

A Zotero item edited in Zotero (against the Zotero stand-in), and a re-import of an export
with corrected fields, both reach the record that screening and publishing show.
"""

from __future__ import annotations

from pathlib import Path

from evidence.config import load_config, service_settings
from evidence.db.decisions import save_decision
from evidence.harvest.files.importing import import_file
from evidence.harvest.runs import harvest
from tests.standins.zotero import ZoteroState, make_key, serve


def zotero_config(tmp_path: Path):
    path = tmp_path / "evidence.yml"
    path.write_text("project: {title: T}\nsearches:\n  - {name: zot, source: zotero}\n"
                    "zotero:\n  libraries:\n    - {name: lib, type: group, id: '1234567'}\n")
    return load_config(path)


def record_of(db, external_id: str) -> dict:
    (row,) = db.query("SELECT r.* FROM records r JOIN hits h ON h.record_id = r.id"
                      " WHERE h.external_id = ?", [external_id])
    return row


def test_zotero_edit_updates_the_hit_and_its_record(db, tmp_path):
    config = zotero_config(tmp_path)
    key = make_key(3)
    with serve(ZoteroState.generated(20)) as (url, state):
        services = service_settings({"ZOTERO_API_URL": url})
        harvest(db, config, services)
        before = record_of(db, key)
        save_decision(db.conn, record_id=before["id"], reviewer="ana", decision="include")
        state.edit(key, title="Corrected: community mental health study 3",
                   abstractNote="Corrected abstract.", DOI="10.5555/corrected.3")
        result = harvest(db, config, services)
    (summary,) = result.runs
    assert (summary.fetched, summary.new) == (1, 0)
    assert "1 changed at the source" in summary.message
    after = record_of(db, key)
    assert after["id"] == before["id"]  # same record: its decision stays with it
    assert (after["title"], after["abstract"], after["doi"]) == (
        "Corrected: community mental health study 3", "Corrected abstract.",
        "10.5555/corrected.3")
    assert after["updated_at"] >= before["updated_at"]
    assert db.execute("SELECT count(*) FROM dedupe_keys k JOIN hits h ON h.id = k.hit_id"
                      " WHERE h.external_id = ?", [key]).fetchone()[0] == 0  # re-fingerprinted
    assert db["records"].count == 20


RIS = """TY  - JOUR
ID  - idunn-1
TI  - {title}
AB  - {abstract}
AU  - Nordmann, Kari
PY  - 2024
JO  - Tidsskrift for psykisk helsearbeid
DO  - 10.18261/tph.{n}
ER  -{sp}

TY  - JOUR
ID  - idunn-2
TI  - Rusarbeid i kommunen
AU  - Hansen, Ola
PY  - 2024
ER  -{sp}
"""


def test_reimport_with_corrected_fields_updates_hit_and_record(db, tmp_path):
    path = tmp_path / "idunn.ris"
    path.write_text(RIS.format(title="Psykisk helsearbeid for eldre", abstract="Tekst.", n=1,
                               sp=" "))
    import_file(db, path, source="idunn")
    before = record_of(db, "idunn-1")
    path.write_text(RIS.format(title="Psykisk helsearbeid for eldre i kommunene",
                               abstract="", n=2, sp=" ").replace("AB  - \n", ""))
    again = import_file(db, path, source="idunn")
    assert (again.new_hits, again.already_stored) == (0, 2)
    after = record_of(db, "idunn-1")
    assert after["id"] == before["id"]
    assert after["title"] == "Psykisk helsearbeid for eldre i kommunene"
    assert after["doi"] == "10.18261/tph.2"
    assert after["abstract"] == "Tekst."  # an export without the abstract blanks nothing
    assert record_of(db, "idunn-2")["title"] == "Rusarbeid i kommunen"
