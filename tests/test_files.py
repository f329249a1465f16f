"""The file readers against real exports (ASReview and ASySD test data) and broken files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evidence.harvest.files import FileFormatError, detect_format, read_file, split_structured
from evidence.harvest.store import normalise_hit

EXPORTS = Path(__file__).resolve().parent / "fixtures" / "exports"

WOSFILE_TITLE = ("Knowledge networks as channels and conduits: The effects of spillovers in "
                 "the Boston biotechnology community")

#: file, format, entries, distinct ids, first title, first DOI, year, first author
EXPECTED = [
    ("asreview/_baseline.ris", "ris", 100, 100,
     "The Value of Radiologic Interventions and 18 F-DOPA PET in Diagnosing and Localizing "
     "Focal Congenital Hyperinsulinism: Systematic Review and Meta-Analysis",
     "10.1007/s11307-012-0572-0", 2012, "Blomberg, Björn A."),
    ("asreview/baseline_empty_values.ris", "ris", 4, 4, "Title of reference", None, None, None),
    ("asreview/baseline_reference_types.ris", "ris", 61, 61, None, None, None, None),
    ("asreview/baseline_tag-notes.ris", "ris", 12, 12, "Only title", None, None, None),
    ("asreview/baseline_tag-notes_labels.ris", "ris", 32, 32,
     'Record which is labeled "relevant" by the researcher using ASReview.', None, None, None),
    ("asreview/baseline_tag-notes_zotero.ris", "ris", 4, 4,
     "Zotero: notes in records come with XHTML tags around them.", None, None, None),
    ("asreview/baseline_tag_and_field_definitions.ris", "ris", 1, 1, "Title", None, None,
     "Authors"),
    ("asreview/baseline_tag_and_field_definitions_lists.ris", "ris", 1, 1, None, None, None,
     "Author 1"),
    ("asreview/baseline_zotero.ris", "ris", 100, 100,
     "An open source machine learning framework for efficient and transparent systematic "
     "reviews", "10.1038/s42256-020-00287-7", 2021, "van de Schoot, Rens"),
    ("asreview/duplicate_records.csv", "csv", 14, 14, "a", None, None, None),
    ("asreview/embase.csv", "csv", 6, 6,
     "Duplication cysts: Diagnosis, management, and the role of endoscopic ultrasound",
     None, 2014, "Liu R."),
    ("asreview/embase.ris", "ris", 6, 6,
     "Duplication cysts: Diagnosis, management, and the role of endoscopic ultrasound",
     "10.4103/2303-9027.138783", 2014, "Liu R."),
    ("asreview/embase_newpage.csv", "csv", 6, 6,
     "Duplication cysts: Diagnosis, management, and the role of endoscopic ultrasound",
     None, 2014, "Liu R."),
    ("asreview/faulty_year.ris", "ris", 1, 1,
     "The Value of Radiologic Interventions and 18 F-DOPA PET in Diagnosing and Localizing "
     "Focal Congenital Hyperinsulinism: Systematic Review and Meta-Analysis",
     None, None, None),
    ("asreview/generic.csv", "csv", 2, 2, "Title of reference", None, 2014, "Marx, Karl"),
    ("asreview/generic_bad_record_id.csv", "csv", 6, 6, "Title of reference", None, 2014,
     "Marx, Karl"),
    ("asreview/generic_column_names_with_spaces.csv", "csv", 2, 2, "Title of reference",
     None, 2014, "Marx, Karl"),
    ("asreview/generic_labels.csv", "csv", 6, 4, "Title of reference", None, 2014,
     "Marx, Karl"),
    ("asreview/generic_labels_no_abs.csv", "csv", 6, 4, "Title of reference", None, 2014,
     "Marx, Karl"),
    ("asreview/generic_labels_no_title.csv", "csv", 6, 4, None, None, 2014, "Marx, Karl"),
    ("asreview/generic_partial_labels.csv", "csv", 6, 5, "Title of reference", None, 2014,
     "Marx, Karl"),
    ("asreview/generic_semicolon.csv", "csv", 2, 2, "Title of reference", None, 2014,
     "Marx, Karl"),
    ("asreview/generic_tab.csv", "csv", 2, 2, "Title of reference", None, 2014, "Marx, Karl"),
    ("asreview/generic_tab.tsv", "csv", 2, 2, "Title of reference", None, 2014, "Marx, Karl"),
    ("asreview/missing_values.csv", "csv", 4, 2, "Title of reference", None, None, None),
    ("asreview/ovid_psycinfo.ris", "ris", 6, 6,
     "The influence of self-criticism on depression symptoms among ambulatory patients with "
     "inflammatory bowel disease.", "10.1002/cpp.2398", 2019, "Trindade, Ines A"),
    ("asreview/ovid_zotero.ris", "ris", 6, 6,
     "The influence of self-criticism on depression symptoms among ambulatory patients with "
     "inflammatory bowel disease.", "10.1002/cpp.2398", 2019, "Trindade, Ines A"),
    ("asreview/proquest.ris", "ris", 6, 6,
     "Predictors of posttraumatic stress symptom trajectories following the fatal 2011 "
     "Christchurch, New Zealand earthquake", "10.1002/jts.22387", 2019, "Jones, Hannah"),
    ("asreview/pubmed_endnote.txt", "ris", 6, 6,
     "Boswellia serrata: an overall assessment of in vitro, preclinical, pharmacokinetic and "
     "clinical data", "10.2165/11586800-000000000-00000", 2011, "Abdel-Tawab, M."),
    ("asreview/pubmed_zotero.ris", "ris", 6, 6,
     "The importance of cognitive flexibility and flexibility in coping with stress for the "
     "quality of life in inflammatory bowel disease patients during biological therapy. A "
     "preliminary report.", "10.5114/pg.2018.81081", 2019, "Rudnik, Agata"),
    ("asreview/record_id.csv", "csv", 10, 10, "Lorem Ipsum record_id 12 - row 0 (1 label)",
     None, None, None),
    ("asreview/ris_issue_1099.txt", "ris", 7, 7,
     "Design and prototyping of directly driven outer rotor permanent magnet generator for "
     "small scale wind turbines", "10.15598/aeee.v16i3.2698", 2018, "Vaimann, T."),
    ("asreview/ris_issue_992.txt", "ris", 19, 19,
     "Overcoming Medication Reconciliation Challenges", "10.4168/aair.2012.4.1.1", 2011, None),
    ("asreview/scopus.ris", "ris", 6, 6,
     "Stress and the brain-gut axis in functional and chronic-inflammatory gastrointestinal "
     "diseases: A transdisciplinary challenge", "10.1016/j.psyneuen.2019.104501", 2020,
     "Labanski, A."),
    ("asreview/web_of_science.txt", "ris", 10, 10,
     "Holding Yourself Captive: Perceptions of Custody During Interviews and Interrogations",
     "10.1016/j.jarmac.2018.03.001", 2018, "Alceste, F"),
    ("asysd/mendeley_export_first25.xml", "endnote-xml", 25, 25,
     "Myoclonus in older Cavalier King Charles Spaniels.", "10.1111/jvim.16404", 2022,
     "Rotter, Carina"),
    ("asysd/ris_export.txt", "ris", 69, 69,
     "Altered metabolism of familial Alzheimer's disease-linked amyloid precursor protein "
     "variants in yeast artificial chromosome transgenic mice", "10.1093/hmg/6.9.1535", 1997,
     # ASySD's test file carries all authors garbled into one AU line; kept as given
     "Wagner, Lamb B. T. Call L. M. Slunt H. H. Bardel K. A. Lawler A. M. Eckman C. B. "
     "Younkin S. G. Holtz G."),
    ("asysd/scopus.ris", "ris", 10, 10,
     "Development and Validation of a Robust and Straightforward LC-MS Method for Measuring "
     "Taurine in Whole Blood and Plasma of Dogs and Reference Intervals Calculation",
     "10.3390/ani15010003", 2025, "Furlanello, T."),
    ("asysd/test_export.bib", "bibtex", 3, 3, "Title 1", None, 2020, "Author 1"),
    ("asysd/test_export.csv", "csv", 3, 3, "Title 1", None, 2020, "Author 1"),
    ("asysd/test_export.ris", "ris", 3, 3, "Title 1", None, 2020, "Author 1"),
    ("asysd/test_export.txt", "csv", 3, 3, "Title 1", None, 2020, "Author 1"),
    ("asysd/wos_test.ris", "ris", 50, 50,
     "Microangiography of the humeral condyle in Cocker Spaniel and non-Cocker Spaniel dogs",
     "10.1590/s0103-84782013005000101", 1999, "Larsen, LJ"),
    ("asysd/zotero_export_first25.bib", "bibtex", 25, 25,
     "Microangiography of the humeral condyle in Cocker Spaniel and non-Cocker Spaniel dogs",
     "10.21521/mw.6330", 1999, "Larsen, LJ"),
    ("asysd/zotero_export_first25.csv", "csv", 25, 25,
     "Myoclonus in older Cavalier King Charles Spaniels.", "10.1111/jvim.16404", 2022,
     "Rotter, Carina"),
    ("asysd/zotero_export_first25.ris", "ris", 25, 25,
     "Microangiography of the humeral condyle in Cocker Spaniel and non-Cocker Spaniel dogs",
     "10.21521/mw.6330", 1999, "Larsen, LJ"),
    ("asysd/zotero_export_first25.xml", "endnote-xml", 25, 25,
     "Myoclonus in older Cavalier King Charles Spaniels.", "10.1111/jvim.16404", 2022,
     "Rotter, Carina"),
    ("wos/knh_other_reference_software_r4001-4012.txt", "wos", 12, 12,
     "Caregivers' views on stigmatization and discrimination of people affected by leprosy in "
     "Ghana", "10.1371/journal.pntd.0006219", 2018, "Asampong, Emmanuel"),
    ("wos/metaknowledge_OnePaper.isi", "wos", 1, 1,
     "The Motion Behind the Symbols: A Vital Role for Dynamism in the Conceptualization of "
     "Limits and Continuity in Expert Mathematics", "10.1111/tops.12013", 2013,
     "Marghetis, Tyler"),
    ("wos/metaknowledge_TwoPaper.isi", "wos", 2, 2,
     "Supervenience and causation: A probabilistic approach", "10.1023/a:1005282128866", 2000,
     "Kim, S"),
    ("wos/wosfile_plaintext_first10.txt", "wos", 10, 10, WOSFILE_TITLE,
     "10.1287/orsc.1030.0054", 2004, "Owen-Smith, J"),
    ("wos/wosfile_tab_utf16_first10.txt", "wos", 10, 10, WOSFILE_TITLE,
     "10.1287/orsc.1030.0054", 2004, "Owen-Smith, J"),
    ("wos/wosfile_tab_utf8_first10.txt", "wos", 10, 10, WOSFILE_TITLE,
     "10.1287/orsc.1030.0054", 2004, "Owen-Smith, J"),
    ("colrev/ais_enl.txt", "enw", 6, 6,
     "How Trust Leads to Commitment on Microsourcing Platforms: Unraveling the Effects of "
     "Governance and Third-Party Mechanisms on Triadic Microsourcing Relationships", None, 2021,
     "Guo, Wenbo"),
    ("colrev/ebsco_bib.bib", "bibtex", 2, 2, "Paper title.", None, 2000, "Smith, Tom"),
    ("colrev/eric_nbib.nbib", "nbib", 1, 1, "Paper title", "10.1000/123456789", 2000,
     "Smith, Tom"),
    ("colrev/ieee_csv.csv", "csv", 2, 2,
     "Rural Outsourcing: Delivering ITO and BPO Services from Remote Domestic Locations",
     "10.1109/mc.2011.377", None, "Joseph Rottman"),
    ("colrev/jstor_ris.ris", "ris", 4, 4, "This is the title - charset UTF-8 used",
     "10.1111/something.2014.3.4.56", 2016, "Lastname, Firstname"),
    ("colrev/psycinfo_ris.ris", "ris", 1, 1, "Primary Title", "10.1011/hea0004444", 2020,
     "Author-One, Matthias"),
    ("colrev/pubmed_csv.csv", "csv", 1, 1, "Paper title", "10.1111/nature1111", 2021,
     "Smith A"),
    ("colrev/scopus_bib.bib", "bibtex", 11, 11,
     "Article classified as document_type Article, NO Volume, NO Number, NO art_number",
     "10.1111/88888888.2022.7777777", 2022, "Firstwriter, Z."),
    ("colrev/springer_csv.csv", "csv", 1, 1, "Publication tilte", "10.1007/11111", 2000,
     "Andy Smith"),
    ("colrev/web_of_science_bib.bib", "bibtex", 2, 2, "Inproceedings Title",
     "10.1007/999-9-999-99999-9_3", 2017, "Writerone, Julia"),
    ("colrev/wiley_bib.bib", "bibtex", 2, 2, "Dummy: write down your ideas",
     "10.1111/1111222233334.ch29", 2016, "Inbookwriter, Luise"),
    ("litstudy/example.ris", "ris", 25, 25, "The European Approach to the Exascale Challenge",
     "10.1109/mcse.2018.2884139", 2019, "G. Kalbe"),
    ("litstudy/ieee.csv", "csv", 10, 10,
     'Exascale Computing Trends: Adjusting to the "New Normal"\' for Computer Architecture',
     "10.1109/mcse.2013.95", 2013, "P. Kogge"),
    ("litstudy/scopus_first6.csv", "csv", 6, 6, "Scalable molecular dynamics with NAMD",
     "10.1002/jcc.20289", 2005, "Phillips J.C."),
    ("litstudy/springer.csv", "csv", 18, 18,
     "Graph-Based Load Balancing Model for Exascale Computing Systems",
     "10.1007/978-3-030-92127-9_33", 2022, "Araz R. Aliev"),
    ("ovid/knh_embase_endnote_r3001-3002.cgi", "ovid", 2, 2,
     "Quality of life in patients with primary ciliary dyskinesia: A systematic review.",
     "10.1186/s12919-018-0099-8", 2018, "Behan L."),
    ("ovid/knh_embase_citavi_r3001-3002.ovd", "ovid", 2, 2,
     "Quality of life in patients with primary ciliary dyskinesia: A systematic review.",
     "10.1186/s12919-018-0099-8", 2018, "Behan L."),
    ("constructed/cochrane_central.txt", "cochrane", 3, 3,
     "Community mental health teams and hospital admissions: a randomised trial",
     "10.1177/14034948230000001", 2023, "Hansen K"),
]


def read_rows(path: Path) -> list[dict]:
    return [normalise_hit(hit) for hit in read_file(path)]


def test_every_fixture_is_listed():
    files = {str(p.relative_to(EXPORTS)) for p in EXPORTS.glob("*/*")}
    assert files == {row[0] for row in EXPECTED}


@pytest.mark.parametrize(("name", "fmt", "count", "distinct", "title", "doi", "year", "author"),
                         EXPECTED, ids=[row[0] for row in EXPECTED])
def test_real_export_reads_with_its_values(name, fmt, count, distinct, title, doi, year, author):
    path = EXPORTS / name
    assert detect_format(path) == fmt
    rows = read_rows(path)
    assert len(rows) == count
    assert len({row["external_id"] for row in rows}) == distinct
    first = rows[0]
    assert first["title"] == title
    if doi:
        assert doi in {r["doi"] for r in rows}
    assert first["year"] == year
    authors = json.loads(first["authors"])
    assert (authors[0] if authors else None) == author
    assert all(isinstance(json.loads(r["raw"]), dict) for r in rows)


def test_ris_keeps_all_fields_of_a_pubmed_entry_exported_by_endnote():
    row = read_rows(EXPORTS / "asreview/pubmed_endnote.txt")[0]
    assert row["external_id"] == "369"
    assert row["pmid"] == "21553931"
    assert row["journal"] == "Clin Pharmacokinet"
    assert (row["volume"], row["issue"], row["pages"]) == ("50", "6", "349-69")
    assert row["issn"] == "0312-5963"
    assert row["language"] == "eng"
    assert "Humans" in json.loads(row["keywords"])


def test_ris_continuation_lines_stay_with_their_tag():
    """Rayyan writes keywords one per line under a single KW tag (ASReview issue 992)."""
    row = read_rows(EXPORTS / "asreview/ris_issue_992.txt")[0]
    keywords = json.loads(row["keywords"])
    assert keywords[:3] == ["Health Facility Administration", "Joint Commission", "Standards"]
    assert row["external_id"] == "1"


def test_ris_scopus_notes_between_tags_do_not_break_entries():
    """Scopus/Citavi notes span several untagged lines (ASReview issue 1099)."""
    rows = read_rows(EXPORTS / "asreview/ris_issue_1099.txt")
    assert rows[0]["journal"] == "Advances in Electrical and Electronic Engineering"
    assert rows[0]["pages"] == "271-278"
    assert rows[1]["item_type"] == "BOOK"
    assert rows[1]["doi"] == "10.1007/978-3-030-58167-1_7"


def test_ovid_doi_resolver_url_becomes_a_bare_doi():
    row = read_rows(EXPORTS / "asreview/ovid_psycinfo.ris")[0]
    assert row["doi"] == "10.1002/cpp.2398"
    assert row["external_id"] == "2019-65183-001"


def test_structured_abstract_is_split_into_paragraphs():
    row = read_rows(EXPORTS / "asysd/zotero_export_first25.xml")[0]
    paragraphs = row["abstract"].split("\n\n")
    assert paragraphs[0].startswith("BACKGROUND: Myoclonus is observed")
    assert paragraphs[-1].startswith("CONCLUSIONS AND CLINICAL IMPORTANCE: Myoclonus occurs")


def test_mendeley_accession_number_is_the_pmid():
    row = read_rows(EXPORTS / "asysd/mendeley_export_first25.xml")[0]
    assert (row["external_id"], row["pmid"]) == ("35319117", "35319117")
    assert row["volume"] == "36" and row["pages"] == "1032-1038"


def test_bibtex_key_is_the_external_id_and_braces_are_dropped():
    rows = read_rows(EXPORTS / "asysd/zotero_export_first25.bib")
    assert rows[0]["external_id"] == "larsen_microangiography_1999"
    assert "{" not in rows[0]["title"]


def test_zotero_csv_key_column_is_the_external_id():
    row = read_rows(EXPORTS / "asysd/zotero_export_first25.csv")[0]
    assert row["external_id"] == "ACSRAG7N"
    assert row["journal"] == "Journal of veterinary internal medicine"


def test_zotero_csv_extra_field_gives_pmid_and_pmcid():
    """Zotero keeps PubMed ids in "Extra" (``PMID: 35319117 PMCID: PMC9151451``)."""
    row = read_rows(EXPORTS / "asysd/zotero_export_first25.csv")[0]
    assert (row["pmid"], row["pmcid"]) == ("35319117", "PMC9151451")


def test_pubmed_link_in_ris_gives_the_pmid():
    rows = read_rows(EXPORTS / "asreview/baseline_zotero.ris")
    assert {"33333165", "31024926"} <= {r["pmid"] for r in rows}


def test_ids_without_a_source_id_are_stable_content_hashes():
    first = [r["external_id"] for r in read_rows(EXPORTS / "asreview/scopus.ris")]
    again = [r["external_id"] for r in read_rows(EXPORTS / "asreview/scopus.ris")]
    assert first == again
    assert all(i.startswith("sha1:") for i in first)


def test_same_id_on_different_entries_gets_the_entry_number():
    """ASReview's generic CSVs give every row id 12345."""
    ids = [r["external_id"] for r in read_rows(EXPORTS / "asreview/generic_bad_record_id.csv")]
    assert ids[0] == "12345"
    assert ids[1:] == [f"12345#{i}" for i in range(2, 7)]


def test_split_structured_leaves_plain_text_alone():
    assert split_structured("We saw HIV: bad. Then ok") == "We saw HIV: bad. Then ok"
    assert split_structured("AIM: a. METHODS: b.") == "AIM: a.\n\nMETHODS: b."


# -- broken files ----------------------------------------------------------------------------

RIS_ENTRY = "TY  - JOUR\nTI  - A title {n}\nAU  - Hansen, Kari\nPY  - 2024\nER  - \n\n"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def error_of(path: Path, fmt: str | None = None) -> str:
    with pytest.raises(FileFormatError) as info:
        list(read_file(path, fmt))
    return str(info.value)


def test_truncated_ris_names_the_entry_and_line(tmp_path):
    text = "".join(RIS_ENTRY.format(n=i) for i in range(3)) + "TY  - JOUR\nTI  - Cut off\n"
    path = write(tmp_path, "cut.ris", text)
    assert error_of(path) == ("cut.ris: entry 4 (line 19) has no end tag 'ER  -'; the file "
                              "looks truncated: export it again")


def test_ris_entry_without_end_before_the_next(tmp_path):
    text = RIS_ENTRY.format(n=1) + "TY  - JOUR\nTI  - No end\n" + RIS_ENTRY.format(n=3)
    path = write(tmp_path, "noend.ris", text)
    assert error_of(path) == ("noend.ris: entry 2 (line 7) has no end tag 'ER  -' before the "
                              "next entry starts at line 9")


def test_ris_entry_without_its_ty_line_is_an_error(tmp_path):
    text = RIS_ENTRY.format(n=1) + "T1  - Lost entry\nAU  - Berg, Lise\nER  - \n"
    path = write(tmp_path, "lost.ris", text)
    assert error_of(path) == ("lost.ris: line 7: tag 'T1' outside an entry (no 'TY  - ' line "
                              "since the last 'ER  - '); its entry would be lost: export the "
                              "file again or add the entry's 'TY  - ' line")


def test_empty_file(tmp_path):
    path = write(tmp_path, "empty.ris", "  \n\n")
    assert error_of(path) == "empty.ris: the file is empty; export the references again"


def test_binary_junk(tmp_path):
    path = write(tmp_path, "junk.ris", bytes(range(256)) * 8)
    assert error_of(path) == ("junk.ris: this is a binary file, not a text export; export "
                              "RIS, .nbib, BibTeX, CSV or EndNote XML")


def test_latin1_csv_names_the_line_and_the_fix(tmp_path):
    text = "title,year\nPsykisk helse,2024\nRusomsorg i kommunene: Tromsø,2023\n"
    path = write(tmp_path, "kudos.csv", text.encode("latin-1"))
    message = error_of(path)
    assert message.startswith("kudos.csv: line 3 is not UTF-8 (byte 0xf8); the file is "
                              "probably Latin-1/Windows-1252")
    assert "iconv -f windows-1252 -t utf-8 kudos.csv" in message


def test_zotero_rdf_is_refused_with_the_fix(tmp_path):
    rdf = ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
           'xmlns:z="http://www.zotero.org/namespaces/export#"><bib:Article/></rdf:RDF>')
    path = write(tmp_path, "library.rdf", rdf)
    assert error_of(path) == ("library.rdf: this is Zotero RDF; export RIS or BibTeX instead "
                              "(Zotero: File > Export Library)")


def test_other_xml_is_refused(tmp_path):
    path = write(tmp_path, "feed.xml", "<?xml version='1.0'?><feed><entry/></feed>")
    assert "XML that is neither EndNote XML" in error_of(path)
    assert "not EndNote XML" in error_of(path, "endnote-xml")


def test_broken_endnote_xml_names_the_entry_and_line(tmp_path):
    text = ("<xml><records><record><titles><title>One</title></titles></record>\n"
            "<record><titles><title>Two</titles></record></records></xml>")
    path = write(tmp_path, "broken.xml", text)
    message = error_of(path)
    assert message.startswith("broken.xml: entry 2 (line 2): broken XML (mismatched tag")


def test_unknown_content_asks_for_the_format(tmp_path):
    path = write(tmp_path, "notes.dat", "just some notes\nand more\n")
    assert error_of(path) == (
        "notes.dat: not a known export format; the readers take RIS, MEDLINE/.nbib, PubMed "
        "XML, BibTeX, "
        "CSV/TSV, EndNote XML, EndNote tagged (.enw), Web of Science (plain text or "
        "tab-delimited), Cochrane Library plain text, Ovid tagged, Excel. If it is one of "
        "them, give it with --format (ris|nbib|bibtex|csv|endnote-xml|wos|cochrane|enw|ovid|"
        "pubmed-xml|xlsx)")


def test_csv_without_known_columns(tmp_path):
    path = write(tmp_path, "odd.csv", "foo,bar\n1,2\n")
    assert error_of(path) == ("odd.csv: line 1: no known column (found foo, bar); name the "
                              "columns title, abstract, authors, year, journal, doi ...")


def test_bibtex_without_entries(tmp_path):
    path = write(tmp_path, "x.bib", "% only a comment\n@comment{nothing}\n")
    assert error_of(path, "bibtex") == "x.bib: no BibTeX entries found (no '@type{key,' line)"


def test_nbib_without_records(tmp_path):
    path = write(tmp_path, "x.nbib", "no tags here\n")
    assert error_of(path, "nbib") == ("x.nbib: no MEDLINE records found (no 'PMID- ' or "
                                      "'TI  - ' lines); in PubMed use Send to > Citation "
                                      "manager")


def test_medline_file_from_another_database_gets_no_pubmed_advice(tmp_path):
    path = write(tmp_path, "eric.txt", "nothing useful\n")
    assert error_of(path, "nbib") == ("eric.txt: no MEDLINE records found (no 'PMID- ' or "
                                      "'TI  - ' lines)")


def test_detection_uses_content_not_extension(tmp_path):
    path = write(tmp_path, "export.txt", RIS_ENTRY.format(n=1))
    assert detect_format(path) == "ris"
    path = write(tmp_path, "pubmed.txt", "PMID- 123\nTI  - A title\n")
    assert detect_format(path) == "nbib"
    path = write(tmp_path, "refs.txt", "@article{key1,\n title={T}\n}\n")
    assert detect_format(path) == "bibtex"


def test_utf16_export_with_bom_is_read(tmp_path):
    path = write(tmp_path, "endnote.txt", RIS_ENTRY.format(n="ø").encode("utf-16"))
    assert read_rows(path)[0]["title"] == "A title ø"
