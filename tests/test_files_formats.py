"""Every entry of a real export, every field it carries: Web of Science, Cochrane, BibTeX
recovery, the CSV exports' own column names, DOIs wherever the file puts them, MEDLINE files
without a PMID, line endings, and "entries read" equal to the entries in the file."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from evidence.cli import cli
from evidence.harvest.files import READERS, FileFormatError, detect_format, read_file
from evidence.harvest.store import normalise_hit
from tests.test_files import EXPECTED, EXPORTS, error_of, write


def rows_of(path: Path, fmt: str | None = None) -> list[dict]:
    return [normalise_hit(hit) for hit in read_file(path, fmt)]


# -- "entries read" equals the entries in the file ------------------------------------------


def count_entries(path: Path, fmt: str) -> int:
    """The entries in a file counted without our readers: one start marker per entry."""
    data = path.read_bytes()
    text = data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data.decode(
        "utf-8-sig")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    patterns = {"ris": r"^TY {1,2}-", "nbib": r"^(?:PMID- |OWN - )", "cochrane": r"^ID: ",
                "enw": r"^%T ", "ovid": r"^<\s*\d+\.?\s*>\s*$",
                "bibtex": r"^\s*@(?!comment|string|preamble)", "endnote-xml": r"<record>"}
    if fmt == "wos":
        lines = [line for line in text.split("\n") if line.strip()]
        return (len(lines) - 1 if lines[0].startswith("PT\t")
                else sum(line.startswith("ER") for line in lines))
    if fmt == "csv":
        delimiter = max((",", ";", "\t"), key=text.split("\n", 1)[0].count)
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        return sum(1 for row in rows[1:] if any(c.strip() for c in row))
    return len(re.findall(patterns[fmt], text, re.M | re.I))


@pytest.mark.parametrize("name", [row[0] for row in EXPECTED])
def test_entries_read_equal_the_entries_in_the_file(name):
    path = EXPORTS / name
    fmt = detect_format(path)
    assert len(list(read_file(path))) == count_entries(path, fmt)


# -- Web of Science -------------------------------------------------------------------------

WOS = EXPORTS / "wos"


def test_wos_plain_text_and_tab_delimited_give_the_same_hits():
    keys = ("external_id", "title", "doi", "authors", "journal", "year", "volume", "pages",
            "keywords", "abstract")
    plain = [{k: r[k] for k in keys} for r in rows_of(WOS / "wosfile_plaintext_first10.txt")]
    for name in ("wosfile_tab_utf8_first10.txt", "wosfile_tab_utf16_first10.txt"):
        assert [{k: r[k] for k in keys} for r in rows_of(WOS / name)] == plain


def test_wos_tags_map_to_fields():
    row = rows_of(WOS / "knh_other_reference_software_r4001-4012.txt")[0]
    assert row["external_id"] == "WOS:000424022700066"
    assert (row["doi"], row["pmid"]) == ("10.1371/journal.pntd.0006219", "29377890")
    assert row["journal"] == "PLOS NEGLECTED TROPICAL DISEASES"
    assert row["journal_abbrev"] == "Plos Neglect. Trop. Dis."
    assert (row["volume"], row["issue"], row["pages"]) == ("12", "1", "e0006219")
    assert (row["issn"], row["language"], row["item_type"]) == ("1935-2735", "English",
                                                                "Article")
    assert json.loads(row["authors"]) == ["Asampong, Emmanuel", "Gyeke, Mavis Dako Plusminus",
                                          "Oduro, Razak"]
    assert json.loads(row["keywords"]) == ["MENTAL-HEALTH", "STIGMA", "INDIA"]
    assert row["abstract"].split("\n\n")[:2] == [
        "Background", "Leprosy is a condition that has long been associated with stigma and "
        "discrimination, even when infected persons have been cured. This paper describes "
        "stigma and discrimination as viewed by caregivers who are associated with people "
        "affected by leprosy in Ghana."]
    assert row["pub_date"] == "2018 JAN"


def test_wos_keywords_plus_are_never_the_id():
    for name in ("wosfile_tab_utf8_first10.txt", "wosfile_plaintext_first10.txt"):
        rows = rows_of(WOS / name)
        assert all(r["external_id"].startswith("WOS:") for r in rows)
        assert "STRATEGIC ALLIANCE FORMATION" in json.loads(rows[0]["keywords"])


def test_wos_tab_delimited_saved_as_csv_is_read_by_tag(tmp_path):
    text = (WOS / "wosfile_tab_utf8_first10.txt").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    path = write(tmp_path, "savedrecs.csv", out.getvalue())
    assert detect_format(path) == "csv"
    got = rows_of(path)
    assert [r["external_id"] for r in got] == [
        r["external_id"] for r in rows_of(WOS / "wosfile_tab_utf8_first10.txt")]


OTHER_DATABASES = """FN Clarivate Analytics Web of Science
VR 1.0
PT J
AU Berg, L
TI Parasites of Norwegian freshwater fish
SO Journal of Fish Biology
PY 2019
VL 94
PS 112-120
DE Parasites; freshwater
UT BCI:BCI201900123456
ER

PT J
AU Lund, M
TI A new species of beetle from Svalbard
SO Zootaxa
PY 2020
UT ZOOR:15601234567
ER

PT J
AU Dahl, E
TI Depression in primary care
SO Scand J Prim Health Care
PY 2021
MH Depression; Primary Health Care
UT MEDLINE:33333333
ER

PT J
TI Record with an accession number only
PY 2022
AN 2022-12345-001
ER

EF
"""


def test_wos_records_of_biosis_zoological_record_and_medline(tmp_path):
    path = write(tmp_path, "savedrecs.txt", OTHER_DATABASES)
    assert detect_format(path) == "wos"
    biosis, zoor, medline, other = rows_of(path)
    assert (biosis["external_id"], biosis["pages"]) == ("BCI:BCI201900123456", "112-120")
    assert zoor["external_id"] == "ZOOR:15601234567"
    assert (medline["external_id"], medline["pmid"]) == ("MEDLINE:33333333", "33333333")
    assert json.loads(medline["mesh_terms"]) == ["Depression", "Primary Health Care"]
    assert other["external_id"] == "2022-12345-001"


def test_wos_truncated_and_unended_files_are_errors(tmp_path):
    text = (WOS / "wosfile_plaintext_first10.txt").read_text(encoding="utf-8-sig")
    cut = text[:text.rindex("\nER")]
    path = write(tmp_path, "cut.txt", cut)
    assert error_of(path) == ("cut.txt: record 10 (line 1325) has no end tag 'ER'; the file "
                              "looks truncated: export it again")
    path = write(tmp_path, "noef.txt", text[:text.rindex("EF")])
    assert error_of(path) == ("noef.txt: the file has no end-of-file tag 'EF' after record 10; "
                              "it looks truncated: export it again")


def test_wos_record_without_its_pt_line_is_an_error(tmp_path):
    path = write(tmp_path, "savedrecs.txt", OTHER_DATABASES.replace("ER\n\nPT J\nAU Lund",
                                                                      "ER\n\nAU Lund"))
    assert error_of(path) == ("savedrecs.txt: line 14: 'AU' outside a record (no 'PT' line "
                              "since the last 'ER'); its record would be lost: export the file "
                              "again")


def test_wos_tab_row_with_more_fields_than_the_header_is_an_error(tmp_path):
    lines = (WOS / "wosfile_tab_utf8_first10.txt").read_text(encoding="utf-8-sig").split("\n")
    lines[3] = lines[3].replace("\t", "\tstray\t", 1) + "\tmore"
    path = write(tmp_path, "savedrecs.txt", "\n".join(lines))
    assert error_of(path).startswith("savedrecs.txt: line 4: 62 columns, but the header has 59")


# -- Cochrane -------------------------------------------------------------------------------

COCHRANE = EXPORTS / "constructed/cochrane_central.txt"


def test_cochrane_central_export_fields():
    first, registry, _ = rows_of(COCHRANE)
    assert first["external_id"] == "CN-09000001"
    assert (first["doi"], first["pmid"], first["year"]) == ("10.1177/14034948230000001",
                                                            "39000001", 2023)
    assert (first["journal"], first["volume"], first["issue"], first["pages"]) == (
        "Scandinavian journal of public health", "51", "4", "512-520")
    assert json.loads(first["publication_types"]) == ["Journal Article",
                                                      "Randomized Controlled Trial"]
    assert first["abstract"].startswith("BACKGROUND: Community teams may reduce admissions."
                                        "\n\nMETHODS:")
    assert (registry["doi"], registry["pmid"]) == (None, None)


def test_cochrane_truncated_export_is_an_error(tmp_path):
    text = COCHRANE.read_text(encoding="utf-8").replace("of 3", "of 4")
    path = write(tmp_path, "cochrane.txt", text)
    assert error_of(path) == ("cochrane.txt: the file says 4 records but holds 3; it looks "
                              "truncated: export it again")


def test_cochrane_without_record_lines_is_detected(tmp_path):
    text = re.sub(r"Record #\d+ of \d+\r\n", "", COCHRANE.read_text(encoding="utf-8"))
    path = write(tmp_path, "central.txt", text)
    assert detect_format(path) == "cochrane"
    assert [r["external_id"] for r in rows_of(path)] == ["CN-09000001", "CN-09000002",
                                                         "CN-09000003"]


# -- line endings ---------------------------------------------------------------------------

LINE_ENDING_FILES = ["asreview/scopus.ris", "asysd/zotero_export_first25.csv",
                     "asysd/zotero_export_first25.bib", "colrev/eric_nbib.nbib",
                     "wos/wosfile_plaintext_first10.txt", "wos/wosfile_tab_utf8_first10.txt",
                     "constructed/cochrane_central.txt", "asreview/generic_semicolon.csv"]


@pytest.mark.parametrize("name", LINE_ENDING_FILES)
@pytest.mark.parametrize("ending", ["\r", "\r\n"])
def test_cr_only_and_crlf_files_read_like_lf(tmp_path, name, ending):
    original = EXPORTS / name
    text = original.read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
    lf = write(tmp_path, "lf" + original.suffix, text)
    other = write(tmp_path, "other" + original.suffix, text.replace("\n", ending))
    assert detect_format(other) == detect_format(original)
    expected = [{k: v for k, v in r.items() if k != "raw"} for r in rows_of(lf)]
    assert [{k: v for k, v in r.items() if k != "raw"} for r in rows_of(other)] == expected


# -- BibTeX: unbalanced braces --------------------------------------------------------------

SCOPUS_BIB = """@ARTICLE{Hansen2023,
author={Hansen, K. and Berg, L.},
title={Community care for substance use},
journal={Nordic Studies on Alcohol and Drugs},
year={2023},
volume={40},
abstract={We followed {n = 120 people for a year. Outcomes improved.},
doi={10.1177/14550725231111111},
}

@ARTICLE{Lund2022,
author={Lund, M.},
title={Loneliness among older adults},
journal={Aging \\& Mental Health},
year={2022},
doi={10.1080/13607863.2022.2222222},
}

@ARTICLE{Dahl2021,
author={Dahl, E.},
title={Stigma in primary care},
abstract={Stigma} was common.},
year={2021},
}
"""


def test_bibtex_entries_with_unbalanced_braces_are_recovered(tmp_path):
    path = write(tmp_path, "scopus.bib", SCOPUS_BIB)
    rows = rows_of(path)
    assert [r["external_id"] for r in rows] == ["Hansen2023", "Lund2022", "Dahl2021"]
    assert rows[0]["abstract"] == "We followed n = 120 people for a year. Outcomes improved."
    assert rows[0]["doi"] == "10.1177/14550725231111111"
    assert rows[1]["journal"] == "Aging & Mental Health"
    assert rows[2]["abstract"] == "Stigma was common."


def test_bibtex_entry_that_cannot_be_recovered_names_key_and_line(tmp_path):
    text = SCOPUS_BIB + "\n@article{Broken2020, title={One {line entry}, year={2020}}\n"
    path = write(tmp_path, "scopus.bib", text)
    assert error_of(path) == ("scopus.bib: entry 4 'Broken2020' (line 26): 1 unclosed "
                              "brace(s); fix it in the file and import again")


def test_bibtex_entries_the_old_parser_dropped_are_read():
    """bibtexparser alone returned 1 of these 2 entries and 10 of the 11 (a key with a space)."""
    assert len(rows_of(EXPORTS / "colrev/ebsco_bib.bib")) == 2
    ids = [r["external_id"] for r in rows_of(EXPORTS / "colrev/scopus_bib.bib")]
    assert "Conference paper2022775" in ids


# -- CSV exports' own column names ----------------------------------------------------------


def test_springer_csv_columns_and_run_together_authors():
    row = rows_of(EXPORTS / "litstudy/springer.csv")[0]
    assert row["title"] == "Graph-Based Load Balancing Model for Exascale Computing Systems"
    assert row["doi"] == "10.1007/978-3-030-92127-9_33"
    assert row["item_type"] == "Chapter"
    assert json.loads(row["authors"]) == ["Araz R. Aliev", "Nigar T. Ismayilova"]
    book = rows_of(EXPORTS / "litstudy/springer.csv")[1]
    assert json.loads(book["authors"])[:2] == ["Prof. Rafik A. Aliev",
                                               "Prof. Dr. Janusz Kacprzyk"]


def test_pubmed_csv_uses_the_pmid_as_id_and_reads_the_citation():
    row = rows_of(EXPORTS / "colrev/pubmed_csv.csv")[0]
    assert (row["external_id"], row["pmid"], row["pmcid"]) == ("11223344", "11223344",
                                                               "PMC1122334")
    assert (row["journal"], row["volume"], row["issue"], row["pages"]) == ("Nature", "1", "2",
                                                                           "10-11")


def test_scopus_csv_eid_is_the_id_and_extra_funding_columns_do_not_shift_fields():
    rows = rows_of(EXPORTS / "litstudy/scopus_first6.csv")
    assert rows[0]["external_id"] == "2-s2.0-27344436659"
    shifted = rows[3]
    assert (shifted["external_id"], shifted["pmid"]) == ("2-s2.0-85138069321", "35994517")
    assert (shifted["language"], shifted["item_type"]) == ("English", "Article")
    assert shifted["journal_abbrev"] == "PLoS Comput. Biol."
    assert rows[2]["pages"] == "1135"


def test_ieee_csv_columns():
    row = rows_of(EXPORTS / "litstudy/ieee.csv")[0]
    assert row["journal"] == "Computing in Science & Engineering"
    assert (row["volume"], row["issue"], row["pages"]) == ("15", "6", "16-26")
    assert row["issn"] == "1558-366X"


def test_embase_csv_source_gives_journal_volume_and_pages():
    row = rows_of(EXPORTS / "asreview/embase.csv")[0]
    assert (row["journal"], row["volume"], row["issue"], row["pages"]) == (
        "Endoscopic Ultrasound", "3", "3", "152-160")


POP = ("Cites,Authors,Title,Year,Source,Publisher,ArticleURL,CitesURL,GSRank,QueryDate,Type,"
       "DOI,ISSN,CitationURL,Volume,Issue,StartPage,EndPage,ECC,CitesPerYear,CitesPerAuthor,"
       "AuthorCount,Age,Abstract,FullTextURL,RelatedURL\n"
       '12,"K Hansen, O Nordmann",Psykisk helsearbeid i kommunene,2023,Tidsskrift for psykisk '
       "helsearbeid,idunn.no,https://www.idunn.no/doi/10.18261/tph.20.1.3,,1,2024-10-21,,"
       "10.18261/tph.20.1.3,,,20,1,22,35,12,12.00,6,2,1,Vi undersøkte tjenestene,,\n")


def test_publish_or_perish_csv_columns(tmp_path):
    row = rows_of(write(tmp_path, "pop.csv", POP))[0]
    assert row["journal"] == "Tidsskrift for psykisk helsearbeid"
    assert json.loads(row["authors"]) == ["K Hansen", "O Nordmann"]
    assert (row["doi"], row["pages"], row["url"]) == (
        "10.18261/tph.20.1.3", "22-35", "https://www.idunn.no/doi/10.18261/tph.20.1.3")


def test_unclosed_quote_that_would_swallow_rows_is_an_error_in_our_words(tmp_path):
    path = write(tmp_path, "refs.csv", 'title,year\n"Open quote,2024\nOther,2023\n')
    assert error_of(path) == (
        "refs.csv: line 2: the CSV is malformed here (a quoted field is not closed, so the "
        "rows after it would be read as its text); save it again from the database or "
        "spreadsheet as CSV")


def test_ieee_unescaped_quotes_inside_a_quoted_title_do_not_stop_the_import(tmp_path):
    """IEEE Xplore's real export (litstudy's ieee_1.csv, line 25) writes inner quotes as is."""
    text = ('"Document Title","Authors","Publication Title","Publication Year","DOI"\n'
            '"GPU electromagnetics","P. P. M. So","EUROCON 2007 - The International '
            'Conference on "Computer as a Tool"","2007","10.1109/EURCON.2007.4400"\n'
            '"Next","A. B","Computer","2008","10.1109/MC.2008.1"\n')
    rows = rows_of(write(tmp_path, "ieee.csv", text))
    assert [r["doi"] for r in rows] == ["10.1109/eurcon.2007.4400", "10.1109/mc.2008.1"]
    assert rows[0]["year"] == 2007


def test_csv_row_shifted_by_an_unquoted_separator_is_an_error(tmp_path):
    path = write(tmp_path, "refs.csv", "title,year\nA, b and c,2024\n")
    assert error_of(path) == ("refs.csv: line 2: 3 fields but the header has 2; a value holds "
                              "the separator without quotes: save the file again as CSV")


WOS_EXCEL_HEADER = [
    "Publication Type", "Authors", "Book Authors", "Author Full Names", "Article Title",
    "Source Title", "Language", "Document Type", "Author Keywords", "Keywords Plus", "Abstract",
    "ISSN", "Journal Abbreviation", "Journal ISO Abbreviation", "Publication Date",
    "Publication Year", "Volume", "Issue", "Start Page", "End Page", "Article Number", "DOI",
    "Pubmed Id", "UT (Unique WOS ID)"]


def test_excel_export_of_a_database_is_read_like_its_csv(db, tmp_path):
    """Web of Science's "Excel" export: the column names of its CSV, not an evidence table."""
    import openpyxl

    from evidence.harvest.files.importing import import_file

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(WOS_EXCEL_HEADER)
    sheet.append(["J", "Hansen, K; Berg, L", None, "Hansen, Kari; Berg, Lise",
                  "Loneliness in municipal care", "SCANDINAVIAN JOURNAL OF PUBLIC HEALTH",
                  "English", "Article", "loneliness; municipalities", "OLDER-ADULTS; HEALTH",
                  "We asked.", "1403-4948", "SCAND J PUBLIC HEALTH", "Scand. J. Public Health",
                  "MAR 2024", 2024, 52, 2, 101, 110, None, "10.1177/14034948241234567",
                  38000001, "WOS:001100000000001"])
    path = tmp_path / "savedrecs.xlsx"
    book.save(path)
    row = rows_of(path)[0]
    assert (row["external_id"], row["pmid"], row["doi"]) == (
        "WOS:001100000000001", "38000001", "10.1177/14034948241234567")
    assert (row["journal"], row["journal_abbrev"]) == ("SCANDINAVIAN JOURNAL OF PUBLIC HEALTH",
                                                       "Scand. J. Public Health")
    assert (row["year"], row["volume"], row["pages"]) == (2024, "52", "101-110")
    assert "OLDER-ADULTS" not in row["external_id"]
    result = import_file(db, path, source="wos")
    assert (result.format, result.entries, result.new_hits) == ("xlsx", 1, 1)


# -- DOIs wherever the file puts them -------------------------------------------------------

RIS_DOIS = """TY  - JOUR
TI  - DOI in DO
DO  - 10.1000/do
ER  -

TY  - JOUR
TI  - DOI in L3
L3  - 10.1000/l3
ER  -

TY  - JOUR
TI  - DOI link in UR
UR  - https://doi.org/10.1000/ur
ER  -

TY  - JOUR
TI  - DOI link in L2
L2  - http://dx.doi.org/10.1000/l2
ER  -

TY  - JOUR
TI  - DOI in M3
M3  - 10.1000/m3
ER  -

TY  - JOUR
TI  - shortDOI
DO  - 10/abcd
M3  - Journal Article
ER  -
"""


def test_ris_dois_from_every_tag_and_short_dois_kept(tmp_path):
    rows = rows_of(write(tmp_path, "dois.ris", RIS_DOIS))
    assert [r["doi"] for r in rows] == ["10.1000/do", "10.1000/l3", "10.1000/ur", "10.1000/l2",
                                        "10.1000/m3", "10/abcd"]
    assert json.loads(rows[4]["publication_types"]) == []
    assert json.loads(rows[5]["publication_types"]) == ["Journal Article"]


# -- MEDLINE without a PMID -----------------------------------------------------------------


def test_eric_medline_file_uses_its_own_id():
    path = EXPORTS / "colrev/eric_nbib.nbib"
    assert detect_format(path) == "nbib"
    row = rows_of(path)[0]
    assert (row["external_id"], row["pmid"]) == ("EJ1131633", None)
    assert (row["doi"], row["issn"]) == ("10.1000/123456789", "1234-4567")
    assert row["url"] == "http://eric.ed.gov/?id=EJ1131633"


def test_pubmed_records_without_blank_lines_between_them_stay_apart(tmp_path):
    text = "PMID- 1\nTI  - One\nDP  - 2020\nPMID- 2\nTI  - Two\nDP  - 2021\n"
    rows = rows_of(write(tmp_path, "pubmed.nbib", text))
    assert [(r["pmid"], r["title"]) for r in rows] == [("1", "One"), ("2", "Two")]


# -- EndNote tagged (.enw) -----------------------------------------------------------------

ENW = """%0 Journal Article
%T Psykisk helsearbeid i kommunene
%A Hansen, Kari
%A Nordmann, Ola
%J Tidsskrift for psykisk helsearbeid
%V 20
%N 1
%P 22-35
%@ 1504-3010
%D 2023
%R 10.18261/tph.20.1.3
%K psykisk helse; kommuner
%X Vi undersøkte
tjenestene i 12 kommuner.
%M 12345

%0 Book
%T Rusarbeid i praksis
%A Berg, Lise
%I Universitetsforlaget
%D 2022
"""


def test_endnote_tagged_file_fields(tmp_path):
    path = write(tmp_path, "scholar.enw", ENW)
    assert detect_format(path) == "enw"
    article, book = rows_of(path)
    assert (article["external_id"], article["doi"], article["issn"]) == (
        "12345", "10.18261/tph.20.1.3", "1504-3010")
    assert (article["journal"], article["volume"], article["issue"], article["pages"]) == (
        "Tidsskrift for psykisk helsearbeid", "20", "1", "22-35")
    assert json.loads(article["authors"]) == ["Hansen, Kari", "Nordmann, Ola"]
    assert json.loads(article["keywords"]) == ["psykisk helse", "kommuner"]
    assert article["abstract"] == "Vi undersøkte tjenestene i 12 kommuner."
    assert (book["item_type"], book["year"], book["journal"]) == ("Book", 2022, None)


# -- Ovid ------------------------------------------------------------------------------------

OVID_MEDLINE = """Database: Ovid MEDLINE(R) ALL <1946 to October 18, 2024>
Search Strategy:
--------------------------------------------------------------------------------
1     community mental health.ti,ab. (9000)

<1>
VN  - Ovid Technologies
DB  - Ovid MEDLINE(R) ALL
UI  - 39000002
TI  - Peer workers in community mental health teams: a systematic
      review.
SO  - Journal of Clinical Psychology. 76(1):1-10, 2020 Jan.
AU  - Hansen K
AU  - Berg L
AB  - BACKGROUND: Peer workers are common. METHODS: We searched five databases.
MH  - *Community Mental Health Services
MH  - Humans
PT  - Journal Article
PT  - Systematic Review
LG  - English
DO  - https://dx.doi.org/10.1002/jclp.22000
YR  - 2020
"""


def test_ovid_embase_export_fields():
    rows = rows_of(EXPORTS / "ovid/knh_embase_endnote_r3001-3002.cgi")
    first = rows[0]
    assert (first["external_id"], first["pmid"]) == ("621381829", None)
    assert (first["journal"], first["volume"], first["issue"]) == ("BMC Proceedings", "12",
                                                                   "Supplement 3")
    assert first["doi"] == "10.1186/s12919-018-0099-8"
    assert "Kartagener syndrome" in json.loads(first["mesh_terms"])
    assert first["abstract"].split("\n\n")[1].startswith("Method(s): We searched MEDLINE")
    citavi = rows_of(EXPORTS / "ovid/knh_embase_citavi_r3001-3002.ovd")
    assert [r["external_id"] for r in citavi] == [r["external_id"] for r in rows]


def test_ovid_medline_record_after_the_search_strategy(tmp_path):
    path = write(tmp_path, "ovid.txt", OVID_MEDLINE)
    assert detect_format(path) == "ovid"
    row = rows_of(path)[0]
    assert (row["external_id"], row["pmid"]) == ("39000002", "39000002")
    assert row["title"] == "Peer workers in community mental health teams: a systematic review."
    assert (row["journal"], row["volume"], row["issue"], row["pages"]) == (
        "Journal of Clinical Psychology", "76", "1", "1-10")
    assert row["doi"] == "10.1002/jclp.22000"
    assert json.loads(row["publication_types"]) == ["Journal Article", "Systematic Review"]


# -- formats registry and unknown formats ---------------------------------------------------


def test_cli_format_choices_come_from_the_registry():
    result = CliRunner().invoke(cli, ["import", "--help"])
    for name in READERS:
        assert name in result.output


def test_zotero_rdf_and_other_xml_are_named(tmp_path):
    path = write(tmp_path, "feed.xml", "<?xml version='1.0'?><feed/>")
    with pytest.raises(FileFormatError, match="feed.xml: XML that is neither EndNote XML"):
        detect_format(path)
