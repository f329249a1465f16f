"""The lists around screening: a reviewer's own decisions, the lead's conflicts (and their
resolution), the summary with agreement figures, the duplicate pairs to judge, and the
themes, reasons and highlight words of the configuration.

Separate from :mod:`screening.record_view` (the queue and one record): these pages list
many records and link to a record's page; a resolution is saved by the same ``_decide``.
"""

from __future__ import annotations

import sqlite_utils
from datasette.utils.asgi import Response

from evidence.citation import byline, editors_of, original_title
from evidence.config import ConfigError
from evidence.db.decisions import (
    FULL_TEXT,
    RESOLUTION,
    SCREENING,
    resolution_of,
)
from evidence.db.values import json_list
from evidence.dedupe.cluster import (
    DedupeError,
    PairDecidedError,
    decide_pair,
    list_merged_pairs,
    list_uncertain_pairs,
    undo_merge,
)
from evidence.markup import sanitise
from evidence.screening import queries as q
from evidence.screening.app import evidence_config, plugin_settings
from evidence.screening.highlights import parse_words, save_highlight_words
from evidence.screening.pages import (
    Refusal,
    _form,
    _id,
    _labelled,
    _lang,
    _one,
    _page,
    _path,
    _read,
    _redirect,
    _t,
    _write,
    login_required,
)
from evidence.screening.record_view import STAGE_PATHS, _decide, _posted_stage, _stage
from evidence.terms import fold


@login_required
async def mine(request, datasette, user):
    lang = _lang(datasette, request)
    stage = _stage_arg(request, datasette)
    args = {k: request.args.get(k, "").strip() for k in ("q", "decision", "reason")}
    page_arg = request.args.get("page", "1")
    digits = page_arg.isascii() and page_arg.isdigit()
    page = min(max(int(page_arg[:8]), 1), 10**6) if digits else 1
    data = await _read(datasette, lambda c: (
        q.my_decisions(c, user["id"], limit=101, offset=(page - 1) * 100, stage=stage, **args),
        q.reasons(c, stage), q.themes(c),
        q.resolutions(c, stage, limit=100, lead=user["id"])
        if user["role"] == "lead" and page == 1 and not any(args.values()) else []))
    rows, reasons, themes, resolutions = data
    t = _t(datasette, request)
    searched = fold(args["q"])
    for row in rows:  # named as on the conflict cards; inline markup rendered safely
        # three names and " …", or everyone where the search matched a later name
        later = (row["authors"] or row["editors"])[3:]
        most = None if searched and any(searched in fold(n) for n in later) else 3
        row.update(_named(row, t, most), title_html=sanitise(row["title"]))
    for done in resolutions:  # the lead's resolutions name the work the same way
        done.update(_named(done, t, most=3), title_html=sanitise(done["title"]))
    return await _page(datasette, request, user, "screening_mine.html", rows=rows[:100],
                       resolutions=resolutions,
                       more=len(rows) > 100, page=page, args=args, stage=stage,
                       record_path=_path(datasette, f"{STAGE_PATHS[stage]}/record/"),
                       reasons=_labelled(reasons, lang),
                       reason_labels={r["slug"]: r["label"] for r in reasons},
                       theme_labels={t["slug"]: t["label"] for t in _labelled(themes, lang)})


def _stage_arg(request, datasette) -> str:
    """The reviewers' stage named by ``?stage=`` (title/abstract when absent)."""
    stage = request.args.get("stage") or SCREENING
    if stage not in STAGE_PATHS:
        raise Refusal(404, "not_found")
    return _stage(datasette, stage)


@login_required(lead=True)
async def conflicts(request, datasette, user):
    return await _conflicts_page(datasette, request, user, _stage_arg(request, datasette))


async def _conflicts_page(datasette, request, user, stage: str, *, status: int = 200,
                          failed: dict | None = None) -> Response:
    """One card per conflict: the record, each reviewer's vote side by side, "agree with"
    buttons and a full decision form with the reviewers' themes (their union) preselected.
    ``failed``: a resolution refused (no reason), shown on its card with what was chosen."""
    lang = _lang(datasette, request)

    def load(conn):
        items = q.conflicts(conn, stage)
        for item in items:
            record = q.record(conn, item["record_id"]) or {}
            item.update({k: record.get(k) for k in ("abstract", "authors", "editors", "journal",
                                                    "year", "original_title")})
        return items, q.reasons(conn, stage), q.themes(conn), q.resolutions(conn, stage)

    items, reasons, themes, resolved = await _read(datasette, load)
    reasons, themes = _labelled(reasons, lang), _labelled(themes, lang)
    t = _t(datasette, request)
    for item in items:
        item.update(_named(item, t, most=3), title_html=sanitise(item["title"]))
        item["union"] = {slug for vote in item["votes"] for slug in vote["themes"]}
        item["summary"] = next((v["summary"] for v in item["votes"] if v["summary"]), "")
        # "both" on a theme conflict: every includer's themes and every summary written
        item["both_themes"] = list(dict.fromkeys(
            slug for vote in item["votes"] for slug in vote["themes"]))
        item["both_summary"] = " ".join(dict.fromkeys(
            v["summary"].strip() for v in item["votes"] if v["summary"]))
        if failed and failed["record_id"] == item["record_id"]:
            item["error"], item["chosen"] = failed["error"], failed["chosen"]
            item["union"] = set(failed["chosen"].get("themes") or [])
    for done in resolved:  # the titles' inline markup, as on the cards
        done["title_html"] = sanitise(done["title"])
    return await _page(datasette, request, user, "screening_conflicts.html", items=items,
                       reasons=reasons, themes=themes, stage=stage, status=status,
                       resolved=resolved,
                       theme_count=sum(item["kind"] == "themes" for item in items),
                       record_path=_path(datasette, f"{STAGE_PATHS[stage]}/record/"),
                       resolve_path=_path(datasette, "/-/screen/resolve/" if stage == SCREENING
                                          else "/-/screen/full-text/resolve/"),
                       reason_labels={r["slug"]: r["label"] for r in reasons},
                       theme_labels={t["slug"]: t["label"] for t in themes})


@login_required(lead=True)
async def resolve(request, datasette, user):
    return await _decide(request, datasette, user, _id(request.url_vars.get("id")),
                         stage=RESOLUTION)


@login_required(lead=True)
async def full_text_resolve(request, datasette, user):
    return await _decide(request, datasette, user, _id(request.url_vars.get("id")),
                         stage=resolution_of(_stage(datasette, FULL_TEXT)))


@login_required(lead=True)
async def undo_resolution(request, datasette, user):
    """POST: take back the record's resolution at ``stage`` (the card comes back)."""
    record_id = _id(request.url_vars.get("id"))
    stage = await _posted_stage(request, datasette)
    done = await _write(datasette, lambda c: q.undo_resolution(c, record_id, stage, user["id"]))
    datasette.add_message(request, _t(datasette, request)(
        "resolution_undone" if done else "nothing_to_undo"))
    suffix = "" if stage == SCREENING else f"?stage={stage}"
    return _redirect(datasette, f"/-/screen/conflicts{suffix}")


@login_required(lead=True)
async def summary(request, datasette, user):
    stage = _stage_arg(request, datasette)
    needed = evidence_config(datasette).screening.reviewers_per_record
    counts, kappas, progress = await _read(datasette, lambda c: (
        q.reviewer_counts(c, stage), q.kappas(c, stage), q.team_progress(c, stage, needed)))
    why = None if kappas else ("no_kappa_single" if needed == 1 else "no_kappa_yet")
    mine = {row["reviewer"]: row for row in progress["reviewers"]}
    for row in counts:
        row.update(mine.get(row["reviewer"], {}))
    return await _page(datasette, request, user, "screening_summary.html", counts=counts,
                       kappas=kappas, stage=stage, no_kappa=why, progress=progress,
                       conflicts_path=_path(datasette, "/-/screen/conflicts" + (
                           "" if stage == SCREENING else f"?stage={stage}")))


@login_required
async def duplicates(request, datasette, user):
    if request.method == "POST":
        form = await _form(request)
        action = _one(form, "action")
        if action not in ("merge", "split", "undo"):
            raise Refusal(400, "page_not_found")
        pair_id, lead = _id(request.url_vars.get("id")), user["role"] == "lead"
        if action == "undo" and not lead:
            raise Refusal(403, "forbidden")

        def decide(conn):
            db = sqlite_utils.Database(conn)
            if action == "undo":
                undo_merge(db, pair_id, user["id"])
            else:
                decide_pair(db, pair_id, action, user["id"], lead=lead)
            conn.commit()

        try:
            await _write(datasette, decide)
        except PairDecidedError as e:
            raise Refusal(403, "forbidden") from e
        except DedupeError as e:
            raise Refusal(404, "not_found") from e
        datasette.add_message(request, _t(datasette, request)(
            "merge_undone" if action == "undo" else "pair_decided"))
        return _redirect(datasette, "/-/screen/duplicates")
    pairs, merged = await _read(datasette, lambda c: (
        list_uncertain_pairs(sqlite_utils.Database(c)),
        list_merged_pairs(sqlite_utils.Database(c)) if user["role"] == "lead" else []))
    t = _t(datasette, request)
    for pair in pairs:  # titles' inline markup rendered safely, as on the record page
        for side in ("record_a", "record_b"):
            rec = {**pair[side], "authors": json_list(pair[side].get("authors")),
                   "editors": editors_of(pair[side]),
                   "title_html": sanitise(pair[side].get("title"))}
            pair[side] = {**rec, **_named(rec, t)}
    for item in merged:
        item["title_html"] = sanitise(item.get("title"))
    return await _page(datasette, request, user, "screening_duplicates.html", pairs=pairs,
                       merged=merged)


def _named(item: dict, t, most: int | None = None) -> dict:
    """How a card names the work, as the record page does: ``byline`` (its authors, or its
    editors marked "(red.)" where it has none; see ``evidence.citation``) and
    ``original_title_html`` (the title in its own language, inline markup kept safely; None
    where it only repeats the title)."""
    original = original_title(item.get("original_title"), item.get("title"))
    return {"byline": byline(item, t, most),
            "original_title_html": sanitise(original) if original else None}


@login_required(lead=True)
async def lists(request, datasette, user):
    if request.method == "POST" and _one(await _form(request), "action") == "words":
        return await _save_words(request, datasette)
    if request.method == "POST":
        from evidence.db.config_sync import sync_config

        config = evidence_config(datasette, reload=True)

        def reload(conn):
            sync_config(sqlite_utils.Database(conn), config)
            conn.commit()

        await _write(datasette, reload)
        datasette.add_message(request, _t(datasette, request)("reloaded"))
        return _redirect(datasette, "/-/screen/lists")
    lang = _lang(datasette, request)
    screening = evidence_config(datasette).screening
    themes, reasons, full_text_reasons = await _read(datasette, lambda c: (
        q.themes(c), q.reasons(c), q.reasons(c, FULL_TEXT) if screening.full_text else []))
    return await _page(datasette, request, user, "screening_lists.html",
                       themes=_labelled(themes, lang), reasons=_labelled(reasons, lang),
                       full_text_reasons=_labelled(full_text_reasons, lang),
                       include_words=screening.highlight_include,
                       exclude_words=screening.highlight_exclude,
                       config_path=plugin_settings(datasette)["config_path"])


async def _save_words(request, datasette) -> Response:
    """The lead's include and exclude words, written into the configuration file."""
    form = await _form(request)
    path = plugin_settings(datasette)["config_path"]
    try:
        save_highlight_words(path, parse_words(_one(form, "include")),
                             parse_words(_one(form, "exclude")))
    except ConfigError as e:
        datasette.add_message(request, str(e), datasette.ERROR)
        return _redirect(datasette, "/-/screen/lists")
    evidence_config(datasette, reload=True)
    datasette.add_message(request, _t(datasette, request)("words_saved", path=path))
    return _redirect(datasette, "/-/screen/lists")


ROUTES = [
    (r"^/-/screen/mine$", mine),
    (r"^/-/screen/conflicts$", conflicts),
    (r"^/-/screen/resolve/(?P<id>\d+)$", resolve),
    (r"^/-/screen/full-text/resolve/(?P<id>\d+)$", full_text_resolve),
    (r"^/-/screen/resolve/(?P<id>\d+)/undo$", undo_resolution),
    (r"^/-/screen/summary$", summary),
    (r"^/-/screen/duplicates$", duplicates),
    (r"^/-/screen/duplicates/(?P<id>\d+)$", duplicates),
    (r"^/-/screen/lists$", lists),
]
