"""Theme suggestions (models/theme_suggestions.py) and `evidence simulate-themes`."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner

from evidence.cli import cli
from evidence.models.simulation import read_legend, read_themed, simulate_themes
from evidence.models.theme_suggestions import Example, group_of, suggest

FIXTURES = Path(__file__).parent / "fixtures" / "themes"


def test_norwegian_title_alone_finds_the_theme():
    examples = [
        Example("Rusbehandling i kommunale tjenester", "", "", ("rus",)),
        Example("Kunst og kultur som helsefremming", "", "", ("kultur",)),
        Example("Digitale verktøy i helsetjenesten", "", "", ("teknologi",)),
    ]
    got = suggest(examples, "Erfaringer med rusbehandlingen i en liten kommune")
    assert got[0].theme == "rus"
    assert len(got) == 3 and all(0 < s.confidence <= 1 for s in got)
    assert got[0].confidence >= got[1].confidence


def test_nothing_themed_gives_no_suggestions():
    assert suggest([], "Any title") == []
    assert suggest([Example("A title", "", "", ())], "Any title") == []


def test_a_review_gets_review_themes_though_it_shares_no_word_with_them():
    """The kind of work (a review, Nordic research) picks the neighbours before the words."""
    examples = [
        Example("Digital interventions for cannabis use: a systematic review", "", "", ("r1",)),
        Example("Stigma among nurses: a scoping review and meta-analysis", "", "", ("r2",)),
        Example("Brukermedvirkning i kommunale tjenester", "", "", ("n1",)),
        Example("Erfaringer med oppfølging i kommunen", "", "", ("n1",)),
        Example("Samarbeid mellom fastleger og kommunen", "", "", ("n2",)),
    ]
    got = [s.theme for s in suggest(examples, "Loneliness in older adults: a systematic review")]
    assert set(got[:2]) == {"r1", "r2"}
    got = [s.theme for s in suggest(examples, "Ensomhet blant eldre i distriktene")]
    assert got[0] == "n1"


def test_group_of_dotted_ids_and_configured_groups():
    assert group_of("1.4.2.1") == "1.4.2"
    assert group_of("stigma", {"stigma": "mental"}) == "mental"


def test_simulate_themes_learns_from_earlier_test_records(tmp_path):
    train = tmp_path / "train.csv"
    test = tmp_path / "test.csv"
    out = tmp_path / "out.csv"
    train.write_text("record_id,title,abstract,themes\n1,Stigma og diskriminering,,a\n"
                     "2,Ensomhet blant eldre,,b\n", encoding="utf-8")
    test.write_text("record_id,title,abstract,themes\n"
                    "10,Kunstterapi og kultur for ungdom,,c\n"
                    "11,Kunstterapi og kulturtilbud for unge voksne,,c\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["simulate-themes", str(test), "--train", str(train),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    with open(out, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["record_id"] for r in rows] == ["10", "11"]
    assert "c" not in rows[0]["suggestions"].split(";")   # not known yet
    assert rows[1]["suggestions"].split(";")[0] == "c"    # learned from record 10


def test_simulate_themes_on_the_report_beats_most_used(tmp_path):
    """First half of the 2024 report's themed works as training, the rest in order."""
    with open(FIXTURES / "sintef2024_dev.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    fields = ["record_id", "title", "abstract", "journal", "themes"]

    def write(path, part):
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(part)

    write(tmp_path / "train.csv", rows[::2])
    write(tmp_path / "test.csv", rows[1::2])
    result = CliRunner().invoke(cli, ["simulate-themes", str(tmp_path / "test.csv"), "--train",
                                      str(tmp_path / "train.csv"), "--out",
                                      str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    truth = {r["record_id"]: set(r["themes"].split(";")) for r in rows[1::2]}
    with open(tmp_path / "out.csv", encoding="utf-8") as f:
        got = list(csv.DictReader(f))
    hits = sum(bool(set(r["suggestions"].split(";")) & truth[r["record_id"]]) for r in got)
    assert hits / len(got) >= 0.6  # 65 % measured; "three most used so far": 46 %


def test_simulate_themes_learns_theme_headings_from_a_legend(tmp_path):
    """With --themes, a theme nobody has used yet can be suggested from its heading."""
    (tmp_path / "train.csv").write_text("record_id,title,abstract,themes\n"
                                        "1,Stigma og diskriminering i helsetjenesten,,a\n",
                                        encoding="utf-8")
    (tmp_path / "test.csv").write_text("record_id,title,abstract,themes\n"
                                       "10,Kunstterapi og kultur for ungdom,,c\n",
                                       encoding="utf-8")
    (tmp_path / "legend.csv").write_text("theme_id,heading,group\na,Stigma,norsk\n"
                                         "c,Kunst og kultur,norsk\n", encoding="utf-8")
    args = ["simulate-themes", str(tmp_path / "test.csv"), "--train",
            str(tmp_path / "train.csv"), "--out", str(tmp_path / "out.csv")]
    result = CliRunner().invoke(cli, args + ["--themes", str(tmp_path / "legend.csv")])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "out.csv", encoding="utf-8") as f:
        assert next(csv.DictReader(f))["suggestions"].split(";")[0] == "c"


def test_a_bad_legend_names_its_file_line_and_column(tmp_path):
    (tmp_path / "t.csv").write_text("record_id,title,abstract,themes\n1,T,,a\n",
                                    encoding="utf-8")
    legend = tmp_path / "legend.csv"
    args = ["simulate-themes", str(tmp_path / "t.csv"), "--train", str(tmp_path / "t.csv"),
            "--out", str(tmp_path / "out.csv"), "--themes", str(legend)]
    legend.write_text("theme_id,heading\na,Stigma\nb,\n", encoding="utf-8")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert f"Error: {legend}:3: heading: empty" in result.output
    legend.write_text("id,heading\na,Stigma\n", encoding="utf-8")
    result = CliRunner().invoke(cli, args)
    assert f"Error: {legend}:1: missing column(s) theme_id" in result.output


def test_each_work_of_the_report_from_the_other_51_reaches_the_goal():
    """Leave one out, as bench/themes_bench.py: 78.8 % (82.7 % with the legend); the goal of
    issue 14 is 70 %, "three most used so far" gets 40 %."""
    rows = read_themed(FIXTURES / "sintef2024_dev.csv")
    legend = read_legend(FIXTURES / "legend.csv")
    for extra, goal in ((None, 0.75), (legend, 0.8)):
        hits = 0
        for i, row in enumerate(rows):
            [(_, got)] = simulate_themes(rows[:i] + rows[i + 1:], [row], extra)
            hits += bool(set(got) & set(row.value.split(";")))
        assert hits / len(rows) >= goal


def test_suggest_is_features_then_rank_so_the_bench_can_try_settings_on_one_matrix():
    """bench/themes_bench.py scores each setting on a row of one similarity matrix of the
    training works (fitted on them all): that is what ``suggest`` computes for each left-out
    work, because the features are fitted on the examples and the work together."""
    import numpy as np

    from evidence.models import theme_suggestions as ts

    rows = read_themed(FIXTURES / "sintef2024_dev.csv")[:20]
    examples = [Example(r.title, r.abstract, r.journal, tuple(r.value.split(";"))) for r in rows]
    settings = ts.Settings(neighbours=4, group_lift=0.5, kind_weight=1.5)
    matrix = ts.features([(e.title, e.abstract, e.journal) for e in examples],
                         settings.kind_weight)
    gram = (matrix @ matrix.T).toarray()
    for i, row in enumerate(rows):
        others = [j for j in range(len(rows)) if j != i]
        direct = suggest([examples[j] for j in others], row.title, row.abstract, row.journal,
                         settings=settings)
        ranked = ts.rank([examples[j] for j in others], gram[i, others], settings=settings)
        assert [s.theme for s in direct] == [s.theme for s in ranked]
        assert np.allclose([s.confidence for s in direct], [s.confidence for s in ranked])
