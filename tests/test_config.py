"""Configuration: the example loads, and every mistake names file, line and key."""

import datetime as dt

import pytest

from evidence.config import ConfigError, DateWindow, load_config, months_before, parse_config
from tests.conftest import EXAMPLE_CONFIG

MINIMAL = "project:\n  title: Test\n"


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "evidence.yml")
    return str(info.value)


def test_example_config_has_the_reports_searches_and_themes():
    config = load_config(EXAMPLE_CONFIG)
    assert config.language == "nb"
    pubmed = [s for s in config.searches if s.source == "pubmed"]
    assert [s.name for s in pubmed] == ["pubmed-mental-health", "pubmed-substance-use"]
    assert '"community mental health"[tiab]' in pubmed[0].query
    assert "systematic[sb]" in pubmed[1].query
    assert len(config.theme_groups) == 3
    assert len(config.themes) == 19
    assert config.themes[0].nb == "Psykososiale intervensjoner"
    assert config.search("zotero-included").settings["library"] == "report-library"
    assert config.screening.reviewers_per_record == 1


def test_minimal_config_gets_defaults():
    config = parse_config(MINIMAL)
    assert config.language == "nb"
    assert config.searches == ()
    assert config.dedupe.lower_threshold < config.dedupe.upper_threshold


def test_missing_required_key_names_line_and_path():
    text = MINIMAL + "searches:\n  - name: a\n    source: file\n  - name: b\n    source: pubmed\n"
    assert error_of(text) == "evidence.yml:6: searches[1].query: required for pubmed"


def test_missing_project_title():
    assert error_of("project:\n  language: en\n") == "evidence.yml:2: project.title: required"


def test_unknown_key_is_an_error():
    message = error_of(MINIMAL + "searches:\n  - name: a\n    source: file\n    qurey: x\n")
    assert message.startswith("evidence.yml:6: searches[0].qurey: unknown key")


def test_bad_enum_value():
    message = error_of("project:\n  title: T\n  language: de\n")
    assert message == "evidence.yml:3: project.language: must be one of nb, en (got 'de')"


def test_bad_date_and_mixed_window():
    base = MINIMAL + "searches:\n  - name: a\n    source: pubmed\n    query: x\n    window:\n"
    assert "must be a date" in error_of(base + "      from: yesterday\n")
    assert "not both" in error_of(base + "      from: 2024-01-01\n      last_months: 12\n")


def test_duplicate_search_names():
    text = MINIMAL + "searches:\n  - {name: a, source: file}\n  - {name: a, source: file}\n"
    assert "name 'a' is used twice" in error_of(text)


def test_invalid_yaml_names_the_line():
    assert error_of("project:\n  title: [unclosed\n").startswith("evidence.yml:")


def test_empty_file():
    assert error_of("") == "evidence.yml: the file is empty"


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yml")


def test_zotero_search_must_name_a_library():
    text = MINIMAL + "searches:\n  - {name: z, source: zotero, library: nope}\n"
    expected = "evidence.yml:4: searches[0].library: must name one of zotero.libraries"
    assert error_of(text) == expected


def test_rolling_window_resolves_to_cutoff():
    window = DateWindow(last_months=12, cutoff=dt.date(2024, 10, 21))
    assert window.resolve() == (dt.date(2023, 10, 21), dt.date(2024, 10, 21))
    assert DateWindow(last_months=1).resolve(dt.date(2024, 3, 31)) == (
        dt.date(2024, 2, 29), dt.date(2024, 3, 31))


def test_months_before_clamps_month_end():
    assert months_before(dt.date(2024, 5, 31), 3) == dt.date(2024, 2, 29)
    assert months_before(dt.date(2024, 1, 15), 13) == dt.date(2022, 12, 15)


def test_secrets_are_not_configuration():
    assert "unknown key" in error_of(MINIMAL + "api_key: abc\n")


def test_synonyms_are_groups_of_two_or_more_terms():
    config = parse_config(MINIMAL + "synonyms:\n  - [rusbehandling, addiction treatment]\n"
                          "  - [Lavterskel, ' low  threshold ', lavterskel]\n")
    assert config.synonyms == (("rusbehandling", "addiction treatment"),
                               ("Lavterskel", "low threshold"))
    assert parse_config(MINIMAL).synonyms == ()
    one = error_of(MINIMAL + "synonyms:\n  - [angst]\n")
    assert one.startswith("evidence.yml:4: synonyms[0]: a group needs two or more")
    assert error_of(MINIMAL + "synonyms:\n  - [angst, '---']\n").startswith(
        "evidence.yml:4: synonyms[0]: each term needs a letter")
    assert "must be a list" in error_of(MINIMAL + "synonyms: angst\n")


def test_reading_the_configuration_imports_no_http_client():
    """Every command reads evidence.yml, and validating a search imports its source's module:
    those stay light (pyzotero, httpx and requests cost 0.15 s a command; clients are imported
    when a harvest runs)."""
    import subprocess
    import sys

    code = ("import sys; from evidence.config import load_config; "
            f"load_config({str(EXAMPLE_CONFIG)!r}); "
            "print(sorted(m for m in ('pyzotero', 'httpx2', 'httpx', 'requests', 'Bio')"
            " if m in sys.modules))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert found == "[]"
