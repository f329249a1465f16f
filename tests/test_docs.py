"""The README and docs/ say what is true: every relative link resolves, every flow folder says
in one line what it is for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FLOW = ["evidence", "harvest", "dedupe", "models", "screening", "db", "publish", "publish/site"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page):
    text = page.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{page.name}: link to {target} does not resolve"


@pytest.mark.parametrize("folder", FLOW)
def test_every_flow_folder_says_what_it_is_for(folder):
    init = (ROOT / folder / "__init__.py").read_text(encoding="utf-8")
    assert init.startswith('"""') and len(init.split("\n")[0]) > 20, folder


def test_readme_layout_names_every_folder():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    folders = [p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")
               and p.name not in ("demo", "build") and not p.name.endswith(".egg-info")
               and p.name != "__pycache__"]
    for name in folders:
        assert f"`{name}/`" in layout, f"README layout does not name {name}/"


def test_every_package_folder_is_installed():
    """pyproject lists packages by name: a new sub-package left out would work in a checkout
    and be missing from an installed copy."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = project["tool"]["setuptools"]
    folders = {name: ROOT / path for name, path in setuptools["package-dir"].items()}
    folders.setdefault("evidence", ROOT / "evidence")
    found = set()
    for name, folder in folders.items():
        for init in folder.rglob("__init__.py"):
            relative = init.parent.relative_to(folder).parts
            found.add(".".join((name, *relative)))
    assert found == set(setuptools["packages"])


def test_models_use_neither_app():
    """models/ sits below both web apps (the flow reads harvest -> dedupe -> models ->
    screening -> publish): a model that imported the app or the site would pull the one into
    the other."""
    for path in sorted((ROOT / "models").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for app in ("evidence.screening", "evidence.publish"):
            assert not re.search(rf"^\s*(from|import) {re.escape(app)}\b", text, re.M), (
                f"models/{path.name} imports {app}")


def test_the_site_reads_models_not_the_app():
    for path in sorted((ROOT / "publish").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import) evidence\.screening\b", text, re.M), path.name
