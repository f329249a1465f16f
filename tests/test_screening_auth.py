"""Accounts, password hashes, the `evidence users` and `evidence screen` commands, i18n, text."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from evidence.cli import cli
from evidence.db.migrations import open_db
from evidence.screening import auth
from evidence.screening.i18n import CATALOGUES, translator
from evidence.screening.text import abstract_sections, highlight, search_terms

TEMPLATES = Path(__file__).resolve().parent.parent / "screening" / "templates"


def test_password_hash_is_slow_salted_pbkdf2():
    first, second = auth.hash_password("s3cret-pass"), auth.hash_password("s3cret-pass")
    algorithm, iterations, salt, _ = first.split("$")
    assert algorithm == "pbkdf2_sha256" and int(iterations) >= 480_000
    assert first != second  # random salt
    assert auth.verify_password("s3cret-pass", first)
    assert not auth.verify_password("s3cret-pasS", first)
    assert not auth.verify_password("s3cret-pass", "garbage")


def test_users_add_and_list(tmp_path, monkeypatch):
    monkeypatch.setattr(auth, "ITERATIONS", 1_000)
    runner = CliRunner()
    db = str(tmp_path / "e.db")
    open_db(db)  # `users` needs an existing working database
    result = runner.invoke(cli, ["users", "add", "ana", "--role", "lead", "--password-stdin",
                                 "--db", db], input="long enough\n")
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["users", "add", "bo", "--password-stdin", "--db", db],
                           input="another one\n")
    assert result.exit_code == 0
    listed = runner.invoke(cli, ["users", "list", "--db", db])
    assert [line.split("\t")[:2] for line in listed.output.splitlines()] == [
        ["ana", "lead"], ["bo", "reviewer"]]
    conn = open_db(db).conn
    assert auth.authenticate(conn, "ana", "long enough") == {"id": "ana", "role": "lead"}
    assert auth.authenticate(conn, "ana", "wrong") is None
    assert auth.authenticate(conn, "nobody", "long enough") is None
    stored = conn.execute("SELECT password_hash FROM users WHERE username = 'ana'").fetchone()
    assert "long enough" not in stored[0]


def test_users_add_rejects_short_password_and_bad_names(tmp_path):
    runner = CliRunner()
    db = str(tmp_path / "e.db")
    open_db(db)  # `users` needs an existing working database
    result = runner.invoke(cli, ["users", "add", "ana", "--password-stdin", "--db", db],
                           input="short\n")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: password: use at least 8 characters"
    result = runner.invoke(cli, ["users", "add", "a b", "--password-stdin", "--db", db],
                           input="long enough\n")
    assert result.exit_code == 1
    assert "one word without spaces" in result.output


def test_screen_needs_a_configuration(tmp_path):
    result = CliRunner().invoke(cli, ["screen", "--db", str(tmp_path / "e.db"),
                                      "--config", str(tmp_path / "missing.yml")])
    assert result.exit_code == 1
    assert "missing.yml does not exist" in result.output


def test_catalogues_have_the_same_keys_and_templates_use_only_known_keys():
    assert set(CATALOGUES["nb"]) == set(CATALOGUES["en"])
    used = set()
    for template in TEMPLATES.glob("screening_*.html"):
        text = template.read_text(encoding="utf-8")
        used |= set(re.findall(r't\("([a-z_]+)"', text))
        # No literal words between tags: every text node is a {{ }} expression or punctuation.
        stripped = re.sub(r"{[{%#].*?[}%#]}", "", text, flags=re.S)
        stripped = re.sub(r"<(script|style)\b.*?</\1>", "", stripped, flags=re.S)
        for node in re.findall(r">([^<]+)<", stripped):
            words = re.findall(r"[A-Za-zÆØÅæøå]{3,}", node)
            assert not [w for w in words if w not in ("PubMed", "DOI", "URL", "PMID")], (
                template.name, node)
    assert used <= set(CATALOGUES["en"])
    assert translator("nb")("left", left=3, total=9) == "3 av 9 igjen"
    assert translator("xx")("include") == "Include"


def test_search_terms_drop_tags_operators_and_filters():
    query = ('("community mental health"[tiab] OR "primary care"[tiab]) AND '
             '"mental health"[tiab] AND systematic[sb] NOT child*')
    assert search_terms([query]) == ["community mental health", "mental health",
                                     "primary care", "child*"]


def test_highlight_escapes_before_marking():
    html = str(highlight('<b>Primary care</b> & "children" amp', ["primary care", "child*",
                                                                  "amp", "lt"]))
    assert html == ('<b><mark>Primary care</mark></b> &amp; "<mark>children</mark>" '
                    "<mark>amp</mark>")


def test_highlight_marks_words_inside_compounds_and_renders_inline_markup():
    html = str(highlight("Rusmiddelproblemer og <i>rusmiddel</i>bruk; virus <script>x</script>",
                         ["rusmiddel", "rus"]))
    assert html == ("<mark>Rusmiddel</mark>problemer og <i><mark>rusmiddel</mark></i>bruk; virus "
                    "&lt;script&gt;x&lt;/script&gt;")
    assert str(highlight("psykiske helseproblemer", ["problemer"])) == (
        "psykiske helse<mark>problemer</mark>")


def test_structured_abstract_sections():
    sections = abstract_sections("BACKGROUND: One.\n\nRESULTS: Two.\n\nPlain.", [])
    assert [(s["label"], str(s["text"])) for s in sections] == [
        ("BACKGROUND", "One."), ("RESULTS", "Two."), ("", "Plain.")]
