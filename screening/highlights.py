"""The lead's highlight words, written back into ``evidence.yml`` (``screening.highlight``).

The configuration file stays the one source: the browser edits it the way a person would,
replacing only the ``include`` and ``exclude`` lists and leaving every other line, comment and
key as it was. The new text is validated with :func:`evidence.config.parse_config` before it
replaces the file (atomically), so a bad edit can never leave a configuration that does not load.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import yaml

from evidence.config import Config, parse_config

KINDS = ("include", "exclude")


def parse_words(text: str) -> list[str]:
    """One word or phrase per line (commas also separate), blanks and repeats dropped."""
    seen: dict[str, str] = {}
    for line in text.replace(",", "\n").splitlines():
        word = " ".join(line.split())
        if word:
            seen.setdefault(word.casefold(), word)
    return list(seen.values())


#: A word YAML reads as itself without quotes: a letter or digit first (YAML's indicators
#: ``* ! % @ & | > ` - ? '`` and the rest start nothing), then letters, digits, spaces and
#: a few joiners.
_PLAIN = re.compile(r"^\w[\w .'-]*$")


def _flow(words: list[str]) -> str:
    """A YAML flow list, each word quoted as JSON (valid YAML) unless it is plainly a word
    that YAML reads back as the same string (``yes``, ``null`` and ``1e3`` are not)."""
    def plain(word: str) -> bool:
        if not _PLAIN.match(word) or word != word.strip():
            return False
        try:
            return yaml.safe_load(word) == word
        except yaml.YAMLError:
            return False

    return "[" + ", ".join(w if plain(w) else json.dumps(w, ensure_ascii=False)
                           for w in words) + "]"


def _node(root: yaml.Node, *keys: str) -> tuple[yaml.Node | None, yaml.Node | None]:
    """(key node, value node) at the path ``keys`` in a mapping tree, or (None, None)."""
    key_node, node = None, root
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            return None, None
        pair = next(((k, v) for k, v in node.value if k.value == key), None)
        if pair is None:
            return None, None
        key_node, node = pair
    return key_node, node


def highlight_text(text: str, words: dict[str, list[str]]) -> str:
    """``text`` of a configuration file with ``screening.highlight`` set to ``words``."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    lines = text.splitlines(keepends=True)
    _, screening = _node(root, "screening")
    _, block = _node(root, "screening", "highlight")
    if block is not None and isinstance(block, yaml.MappingNode):
        # Replace the existing lists from the last to the first, so offsets stay valid.
        edits = []
        for kind in KINDS:
            _, value = _node(block, kind)
            if value is not None:
                # A block list ends where the next key starts: stop after its last item.
                last = value.value[-1] if isinstance(value, yaml.SequenceNode) and (
                    value.flow_style is False and value.value) else value
                edits.append((value.start_mark.index, last.end_mark.index, _flow(words[kind])))
        for start, end, new in sorted(edits, reverse=True):
            text = text[:start] + new + text[end:]
        missing = [k for k in KINDS if _node(block, k)[1] is None]
        if missing:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            key_node, _ = _node(root, "screening", "highlight")
            indent = " " * (key_node.start_mark.column + 2)
            lines = text.splitlines(keepends=True)
            at = key_node.start_mark.line + 1
            lines[at:at] = [f"{indent}{k}: {_flow(words[k])}\n" for k in missing]
            text = "".join(lines)
        return text
    if screening is not None and isinstance(screening, yaml.MappingNode) and screening.value:
        first_key = screening.value[0][0]
        indent = " " * first_key.start_mark.column
        at = screening.end_mark.line if screening.end_mark.column == 0 else (
            screening.end_mark.line + 1)
        new = [f"{indent}highlight:\n"] + [
            f"{indent}  {k}: {_flow(words[k])}\n" for k in KINDS]
        if at > 0 and not lines[at - 1].endswith("\n"):
            lines[at - 1] += "\n"
        lines[at:at] = new
        return "".join(lines)
    suffix = "" if text.endswith("\n") or not text else "\n"
    return (text + suffix + "screening:\n  highlight:\n"
            + "".join(f"    {k}: {_flow(words[k])}\n" for k in KINDS))


def save_highlight_words(path: str | Path, include: list[str], exclude: list[str]) -> Config:
    """Write the include and exclude words into the configuration file at ``path``.

    Returns the configuration as re-read from the new text; the file is replaced only when
    that text validates (a :class:`evidence.config.ConfigError` otherwise, file untouched).
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    new = highlight_text(text, {"include": include, "exclude": exclude})
    config = parse_config(new, path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(new)
        shutil.copymode(path, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return config
