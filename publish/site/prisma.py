"""The PRISMA flow diagram as SVG, drawn from the ``prisma`` table's counts.

Plain SVG text (no drawing library): three boxes down the left (identified, screened,
included), the removed and excluded counts to their right, each box as tall as its lines.
"""

from __future__ import annotations

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

    boxes = [
        ([f"{t('identified')} (n = {count.get('identified_total', 0)})", *per_search],
         [f"{t('duplicates_removed')} (n = {count.get('duplicates_removed', 0)})"]),
        ([f"{t('records')} (n = {count.get('records', 0)})",
          *([f"{t('not_screened_stopping_rule')}: {count['not_screened_stopping_rule']}"]
            if "not_screened_stopping_rule" in count else []),
          f"{t('awaiting')}: {count.get('awaiting', 0)}"],
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


def _box(x: int, y: int, lines: list[str], height: int) -> str:
    parts = [f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{height}" rx="4" '
             'fill="#fff" stroke="#333"/>']
    for i, line in enumerate(lines):
        weight = ' font-weight="bold"' if i == 0 else ""
        parts.append(f'<text x="{x + PAD}" y="{y + PAD + 14 + i * LINE}"{weight}>'
                     f"{escape(line[:48])}</text>")
    return "".join(parts)


def prisma_svg(rows: list[dict[str, Any]], t: Callable[[str], str]) -> str:
    """The whole diagram as an SVG document (its text)."""
    body, y = [], 20
    previous_bottom = None
    for left, right in flow(rows, t):
        height = max(len(left), len(right), 1) * LINE + 2 * PAD
        if previous_bottom is not None:
            mid = LEFT_X + BOX_W // 2
            body.append(f'<line x1="{mid}" y1="{previous_bottom}" x2="{mid}" y2="{y}" '
                        'stroke="#333" marker-end="url(#arrow)"/>')
        body.append(_box(LEFT_X, y, left, height))
        if right:
            body.append(f'<line x1="{LEFT_X + BOX_W}" y1="{y + height // 2}" x2="{RIGHT_X}" '
                        f'y2="{y + height // 2}" stroke="#333" marker-end="url(#arrow)"/>')
            body.append(_box(RIGHT_X, y, right, height))
        previous_bottom = y + height
        y += height + GAP
    total = y - GAP + 20
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{total}" '
        f'viewBox="0 0 {WIDTH} {total}" font-family="sans-serif" font-size="14" role="img" '
        f'aria-label="{escape(t("prisma"))}">'
        '<defs><marker id="arrow" markerWidth="10" markerHeight="10" refX="9" refY="3" '
        'orient="auto"><path d="M0,0 L0,6 L9,3 z" fill="#333"/></marker></defs>'
        + "".join(body) + "</svg>"
    )
