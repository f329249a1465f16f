"""The PRISMA flow diagram as SVG, drawn from the ``prisma`` table's counts.

Plain SVG text (no drawing library): three boxes down the left (identified, screened,
included), the removed and excluded counts to their right, each box as tall as its lines.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from html import escape
from typing import Any

WIDTH, BOX_W, GAP, LINE, PAD = 760, 330, 40, 20, 12
LEFT_X, RIGHT_X = 20, 20 + 330 + 60


def flow(rows: list[dict[str, Any]], t: Callable[[str], str]) -> list[tuple[list[str], list[str]]]:
    """Lines of each (left box, right box) pair, from the prisma rows."""
    listed = ("identified", "excluded_reason", "full_text_excluded_reason")
    count = {r["step"]: r["count"] for r in rows if r["step"] not in listed}
    per_search = [f"{r['label']}: {r['count']}" for r in rows if r["step"] == "identified"]

    def reasons(step: str) -> list[str]:
        return [f"{r['label']}: {r['count']}" for r in rows if r["step"] == step]

    # the screened box counts the works with a decision: those still undecided, and those a
    # stopping rule left unscreened, are set aside beside the duplicates (PRISMA 2020's
    # "records removed before screening")
    not_screened = count.get("not_screened_stopping_rule", 0)
    awaiting = count.get("awaiting", 0)
    screened = max(count.get("records", 0) - awaiting - not_screened, 0)
    boxes = [
        ([f"{t('identified')} (n = {count.get('identified_total', 0)})", *per_search],
         [f"{t('duplicates_removed')} (n = {count.get('duplicates_removed', 0)})",
          f"{t('awaiting')} (n = {awaiting})",
          *([f"{t('not_screened_stopping_rule')} (n = {not_screened})"]
            if "not_screened_stopping_rule" in count else [])]),
        ([f"{t('records')} (n = {screened})"],
         [f"{t('excluded')} (n = {count.get('excluded', 0)})", *reasons("excluded_reason")]),
    ]
    if "sought" in count:  # a full-text stage: PRISMA 2020's reports boxes
        boxes += [
            ([f"{t('sought')} (n = {count['sought']})"],
             [f"{t('not_retrieved')} (n = {count.get('not_retrieved', 0)})"]),
            ([f"{t('assessed')} (n = {count.get('assessed', 0)})",
              f"{t('awaiting')}: {count.get('full_text_awaiting', 0)}"],
             [f"{t('full_text_excluded')} (n = {count.get('full_text_excluded', 0)})",
              *reasons("full_text_excluded_reason")]),
        ]
    return [*boxes, ([f"{t('included')} (n = {count.get('included', 0)})"], [])]


#: Characters of one line: 14 px sans-serif text in a box of BOX_W (or NARROW_W) pixels.
CHARS, NARROW_CHARS = 44, 40
NARROW_WIDTH, NARROW_W, INDENT = 380, 340, 24


def _wrap(lines: list[str], chars: int) -> list[tuple[str, bool]]:
    """Lines wrapped at word boundaries (none cut); True marks a count's heading, "(n = …)",
    bold (the lines under it are its parts: searches, reasons)."""
    out = []
    for line in lines:
        for part in textwrap.wrap(line, chars, break_long_words=True) or [""]:
            out.append((part, "(n = " in line))
    return out


def _box(x: int, y: int, lines: list[tuple[str, bool]], height: int, width: int = BOX_W,
         dashed: bool = False) -> str:
    dash = ' stroke-dasharray="5 3"' if dashed else ""
    parts = [f'<rect x="{x}" y="{y}" width="{width}" height="{height}" rx="4" '
             f'fill="#fff" stroke="#333"{dash}/>']
    for i, (line, bold) in enumerate(lines):
        weight = ' font-weight="bold"' if bold else ""
        parts.append(f'<text x="{x + PAD}" y="{y + PAD + 14 + i * LINE}"{weight}>'
                     f"{escape(line)}</text>")
    return "".join(parts)


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="14" role="img" '
        f'aria-label="{escape(label)}">'
        '<defs><marker id="arrow" markerWidth="10" markerHeight="10" refX="9" refY="3" '
        'orient="auto"><path d="M0,0 L0,6 L9,3 z" fill="#333"/></marker></defs>'
        + "".join(body) + "</svg>"
    )


def prisma_svg(rows: list[dict[str, Any]], t: Callable[[str], str],
               narrow: bool = False) -> str:
    """The whole diagram as an SVG document (its text). ``narrow``: one column for phones
    (380 px wide, so its 14 px text stays about 13 px on a 390 px screen), each side box
    under its step, dashed and indented."""
    if narrow:
        return _narrow_svg(rows, t)
    body, y = [], 20
    previous_bottom = None
    for left, right in flow(rows, t):
        left_lines, right_lines = _wrap(left, CHARS), _wrap(right, CHARS)
        height = max(len(left_lines), len(right_lines), 1) * LINE + 2 * PAD
        if previous_bottom is not None:
            mid = LEFT_X + BOX_W // 2
            body.append(f'<line x1="{mid}" y1="{previous_bottom}" x2="{mid}" y2="{y}" '
                        'stroke="#333" marker-end="url(#arrow)"/>')
        body.append(_box(LEFT_X, y, left_lines, height))
        if right:
            body.append(f'<line x1="{LEFT_X + BOX_W}" y1="{y + height // 2}" x2="{RIGHT_X}" '
                        f'y2="{y + height // 2}" stroke="#333" marker-end="url(#arrow)"/>')
            body.append(_box(RIGHT_X, y, right_lines, height))
        previous_bottom = y + height
        y += height + GAP
    return _svg(WIDTH, y - GAP + 20, t("prisma"), body)


def _narrow_svg(rows: list[dict[str, Any]], t: Callable[[str], str]) -> str:
    body, y, x = [], 20, 20
    previous_bottom = None
    for left, right in flow(rows, t):
        lines = _wrap(left, NARROW_CHARS)
        height = len(lines) * LINE + 2 * PAD
        if previous_bottom is not None:
            body.append(f'<line x1="{x + 8}" y1="{previous_bottom}" x2="{x + 8}" y2="{y}" '
                        'stroke="#333" marker-end="url(#arrow)"/>')
        body.append(_box(x, y, lines, height, NARROW_W))
        previous_bottom = y + height
        y += height + 12
        if right:
            side = _wrap(right, NARROW_CHARS - 3)
            side_height = len(side) * LINE + 2 * PAD
            body.append(f'<line x1="{x + 8}" y1="{y - 12}" x2="{x + 8}" y2="{y + 16}" '
                        f'stroke="#333"/><line x1="{x + 8}" y1="{y + 16}" x2="{x + INDENT}" '
                        f'y2="{y + 16}" stroke="#333" marker-end="url(#arrow)"/>')
            body.append(_box(x + INDENT, y, side, side_height, NARROW_W - INDENT, dashed=True))
            y += side_height + 12
        y += GAP - 12
    return _svg(NARROW_WIDTH, y - GAP + 20, t("prisma"), body)
