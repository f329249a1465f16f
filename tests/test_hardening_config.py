"""Hostile configuration files (issue 13): python tags, impossible dates, alias bombs."""

from __future__ import annotations

import time

import pytest

from evidence.config import ConfigError, load_config
from tests.conftest import EXAMPLE_CONFIG


def _variant(tmp_path, old: str, new: str, count: int = -1):
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "evidence.yml"
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return path


def test_python_tag_is_a_config_error_naming_line_and_key(tmp_path):
    path = _variant(tmp_path, "date_field: pdat", "date_field: !!python/name:os.system")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    line = next(i for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if "date_field: !!python" in text)
    assert str(error.value).startswith(f"{path}:{line}: searches[0].date_field: unsupported tag")


def test_impossible_date_is_a_config_error(tmp_path):
    path = _variant(tmp_path, "cutoff: 2024-10-21", "cutoff: 2024-02-30")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "searches[0].window.cutoff: not a valid value (day is out of range" in str(error.value)


def test_alias_bomb_fails_fast(tmp_path):
    """Aliases repeat a node without repeating its text: 300 themes x 300 groups in 4 kB."""
    themes = ", ".join(["*t"] * 300)
    groups = "\n".join(["  - *g"] * 300)
    path = tmp_path / "evidence.yml"
    path.write_text(
        "project: {title: Bomb}\n"
        "x-theme: &t {id: t, nb: t, en: t}\n"
        f"theme_groups:\n  - &g {{id: g, nb: g, en: g, themes: [{themes}]}}\n{groups}\n",
        encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert time.monotonic() - started < 2
    assert "once aliases (*name) are expanded" in str(error.value)
