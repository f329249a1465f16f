"""Theme suggestions for one record, as JSON: ``/-/screen/suggest/ID``.

Fetched by the record page only when the reviewer chooses *include*, so the page itself stays
as fast as before; the suggester (:mod:`models.theme_suggestions`) learns from the records
already themed (all years) that this reviewer may see, plus the configured theme names.
Nothing is applied here: the page shows the suggestions and the reviewer accepts one with a
key or a click.
"""

from __future__ import annotations

import sqlite3

from datasette.utils.asgi import Response

from evidence.models import theme_suggestions as ts
from evidence.screening.pages import _id, _labelled, _lang, _read, login_required

#: The themes a reviewer's suggestions may learn from: their own, those of records whose
#: title/abstract outcome is settled, and those read in with an earlier year's evidence table.
#: Another reviewer's themes on a record still waiting for its second vote are not among them:
#: in blind dual screening they would tell this reviewer how the other voted (the relevance
#: ranking follows the same rule, models/relevance.py ``training_labels``).
_VISIBLE_THEMES = """
SELECT r.id, r.title, r.abstract, r.journal, group_concat(t.slug, char(31))
FROM record_themes rt JOIN records r ON r.id = rt.record_id JOIN themes t ON t.id = rt.theme_id
WHERE r.id != :record AND (
  rt.reviewer = :me
  OR EXISTS (SELECT 1 FROM stage_status s WHERE s.stage = 'screening'
             AND s.record_id = rt.record_id AND s.decision IS NOT NULL)
  OR EXISTS (SELECT 1 FROM current_decisions c JOIN decisions d ON d.id = c.decision_id
             WHERE c.record_id = rt.record_id AND c.reviewer = rt.reviewer
             AND d.origin = 'import'))
GROUP BY r.id
"""


def themed_examples(conn: sqlite3.Connection, record_id: int,
                    reviewer: str | None = None) -> list[ts.Example]:
    """Records with themes this ``reviewer`` may learn from (not this one; see
    :data:`_VISIBLE_THEMES`), and each theme's names as one more example (with its group's
    names, which tell the kind of work: "Systematic reviews of ...")."""
    rows = conn.execute(_VISIBLE_THEMES, {"record": record_id, "me": reviewer})
    examples = [ts.Example(title or "", abstract or "", journal or "",
                           tuple(dict.fromkeys(slugs.split("\x1f"))))
                for _, title, abstract, journal, slugs in rows]
    for slug, *names in conn.execute(
            "SELECT slug, name_nb, name_en, group_nb, group_en FROM themes"):
        examples.append(ts.name_example(slug, names))
    return examples


def suggestions_for(conn: sqlite3.Connection, record_id: int,
                    reviewer: str | None = None) -> list[ts.Suggestion]:
    row = conn.execute("SELECT title, abstract, journal FROM records WHERE id = ?",
                       [record_id]).fetchone()
    if row is None:
        return []
    groups = dict(conn.execute("SELECT slug, group_slug FROM themes"))
    return ts.suggest(themed_examples(conn, record_id, reviewer), row[0] or "", row[1] or "",
                      row[2] or "", groups=groups)


@login_required
async def suggest(request, datasette, user):
    record_id = _id(request.url_vars.get("id"))

    def load(conn):
        from evidence.screening import queries as q
        return suggestions_for(conn, record_id, user["id"]), q.themes(conn)

    found, themes = await _read(datasette, load)
    labels = {t["slug"]: t for t in _labelled(themes, _lang(datasette, request))}
    return Response.json({"suggestions": [
        {"slug": s.theme, "label": labels[s.theme]["label"],
         "number": labels[s.theme]["number"], "confidence": s.confidence}
        for s in found if s.theme in labels]})


ROUTES = [(r"^/-/screen/suggest/(?P<id>\d+)$", suggest)]
