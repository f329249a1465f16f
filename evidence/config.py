"""Read and validate ``evidence.yml`` into plain dataclasses.

Validation walks the YAML node tree (not the loaded dict) so that every error can name the
file, the line and the dotted key path, e.g. ``evidence.yml:14: searches[1].query: required``.
Unknown keys are errors: a misspelt option silently ignored is a search run with the wrong window.
Secrets never live here; they come from the environment (see :func:`service_settings`).
"""

from __future__ import annotations

import calendar
import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evidence.errors import EvidenceError

LANGUAGES = ("nb", "en")
#: An edition's name (``project.edition``, ``evidence publish --edition``): it shows in URLs,
#: feeds and sentences ("Nytt i 2024-utgaven"), so letters, digits and a few signs only.
EDITION_MAX = 40
EDITION_NAME = re.compile(r"^\w[\w .:/+-]*$")
EDITION_RULE = (f"use up to {EDITION_MAX} letters, digits, spaces and . : / + - _"
                " (for example 2024 or 2024-autumn)")
SCREEN_ORDERS = ("newest", "oldest", "search", "random", "relevance")
#: Stopping rules a screener can be shown (docs/ranking.md); "none" shows the figures only.
STOPPING_RULES = ("none", "safe")
#: Screening stages in the order a record passes them; the first is always there.
SCREEN_STAGES = ("title_abstract", "full_text")
#: The built-in full-text exclusion "the report could not be retrieved" (PRISMA 2020's
#: "reports not retrieved"): always offered at the full-text stage, never configured.
NOT_RETRIEVED = "not-retrieved"


class ConfigError(EvidenceError):
    """A problem in the configuration file, with its location."""

    def __init__(self, path: str | Path, line: int | None, key: str, message: str):
        self.path, self.line, self.key, self.message = str(path), line, key, message
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")


class NotConfigured(EvidenceError, KeyError):
    """A search or library name that the configuration does not define.

    Still a KeyError for callers that look names up, but printed as a plain message.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class DateWindow:
    """Either fixed dates, or ``last_months`` up to ``cutoff`` (today when absent)."""

    start: dt.date | None = None
    end: dt.date | None = None
    last_months: int | None = None
    cutoff: dt.date | None = None

    def resolve(self, today: dt.date | None = None) -> tuple[dt.date | None, dt.date | None]:
        """The concrete (start, end) dates of this window."""
        if self.last_months is None:
            return self.start, self.end
        end = self.cutoff or today or dt.date.today()
        return months_before(end, self.last_months), end


@dataclass(frozen=True)
class Search:
    """A stored search. ``settings`` holds the keys its source adds (PubMed's ``date_field``,
    Zotero's ``library``, ``tag``, ``item_type``), validated by the source's spec."""

    name: str
    source: str
    query: str = ""
    window: DateWindow | None = None
    description: str = ""
    settings: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class ZoteroLibrary:
    name: str
    library_type: str  # "user" or "group"
    library_id: str
    collection: str | None = None
    local: bool = False


@dataclass(frozen=True)
class Theme:
    id: str
    nb: str
    en: str
    group: str

    def label(self, language: str) -> str:
        return self.nb if language == "nb" else self.en


@dataclass(frozen=True)
class ThemeGroup:
    id: str
    nb: str
    en: str
    themes: tuple[Theme, ...]

    def label(self, language: str) -> str:
        return self.nb if language == "nb" else self.en


@dataclass(frozen=True)
class Reason:
    id: str
    nb: str
    en: str

    def label(self, language: str) -> str:
        return self.nb if language == "nb" else self.en


@dataclass(frozen=True)
class AuthSettings:
    """Sign-in through a reverse proxy that authenticates (``screening.auth``).

    A request whose direct peer is in ``trusted_proxies`` and carries ``header`` is that user;
    the header from any other address is ignored. ``trusted_proxies`` also decides whose
    ``X-Forwarded-For`` is believed (the client address that login throttling counts), so it
    may be given without ``header``.
    """

    header: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    create_users: bool = False


@dataclass(frozen=True)
class ScreeningSettings:
    reviewers_per_record: int = 1
    order: str = "newest"
    require_reason_on_exclude: bool = True
    public_fields: tuple[str, ...] = ()
    #: Words coloured in titles and abstracts while screening (as Rayyan does): green for
    #: words that point to inclusion, red for exclusion. A lead edits them in the app, which
    #: writes them back here (see :func:`evidence.screening.highlights.save_highlight_words`).
    highlight_include: tuple[str, ...] = ()
    highlight_exclude: tuple[str, ...] = ()
    #: With ``order: relevance``: the order used until the model has one inclusion and one
    #: exclusion to learn from.
    relevance_fallback: str = "newest"
    #: The stopping rule shown beside the stopping figures (docs/ranking.md).
    stopping_rule: str = "none"
    stopping_min_share: float = 0.10
    stopping_run: int = 50
    #: Screening was stopped by the rule: PRISMA counts the records nobody screened as
    #: "not screened: stopping rule" instead of "awaiting".
    stopping_applied: bool = False

    @property
    def fixed_order(self) -> str:
        """The SQL-served order: the configured one, or the fallback of ``relevance``."""
        return self.relevance_fallback if self.order == "relevance" else self.order

    @property
    def rule(self) -> str:
        """The publishing rule in words, as ``publish`` and ``status`` print it."""
        if self.reviewers_per_record == 1:
            return "single screening (one reviewer's decision counts)"
        return (f"dual screening ({self.reviewers_per_record} reviewers must agree, "
                "or a lead resolves the conflict)")
    #: ``("title_abstract",)`` or ``("title_abstract", "full_text")``.
    stages: tuple[str, ...] = ("title_abstract",)
    #: A folder of full-text PDFs named by record id, PMID or DOI (``/`` as ``_``), or None.
    full_text_folder: str | None = None
    auth: AuthSettings = field(default_factory=AuthSettings)

    @property
    def full_text(self) -> bool:
        """Whether records included at title/abstract go on to a full-text stage."""
        return "full_text" in self.stages


@dataclass(frozen=True)
class DedupeSettings:
    upper_threshold: float = 0.92
    lower_threshold: float = 0.75
    merge_preprints: bool = False
    merge_errata: bool = False


#: Where `evidence enrich` looks works up, in order (the first that knows an abstract fills it).
ENRICH_SOURCES = ("openalex", "crossref")


@dataclass(frozen=True)
class EnrichSettings:
    """``enrich:``: whether `evidence harvest` runs `evidence enrich` on its new records, and
    which services it asks."""

    after_harvest: bool = False
    sources: tuple[str, ...] = ENRICH_SOURCES


@dataclass(frozen=True)
class Config:
    title: str
    language: str = "nb"
    description: str = ""
    licence: str = ""
    #: ``project.edition``: the edition ``evidence publish`` writes ("" = the current year).
    edition: str = ""
    searches: tuple[Search, ...] = ()
    zotero_libraries: tuple[ZoteroLibrary, ...] = ()
    theme_groups: tuple[ThemeGroup, ...] = ()
    exclusion_reasons: tuple[Reason, ...] = ()
    full_text_exclusion_reasons: tuple[Reason, ...] = ()
    screening: ScreeningSettings = field(default_factory=ScreeningSettings)
    dedupe: DedupeSettings = field(default_factory=DedupeSettings)
    enrich: EnrichSettings = field(default_factory=EnrichSettings)
    #: The project's own synonym groups for the published search (beside the built-in ones).
    synonyms: tuple[tuple[str, ...], ...] = ()
    path: str = ""

    @property
    def themes(self) -> tuple[Theme, ...]:
        return tuple(theme for group in self.theme_groups for theme in group.themes)

    def search(self, name: str) -> Search:
        for search in self.searches:
            if search.name == name:
                return search
        known = ", ".join(s.name for s in self.searches) or "none configured"
        raise NotConfigured(f"no search named {name!r} in {self.path} (known: {known})")

    def zotero_library(self, name: str) -> ZoteroLibrary:
        for library in self.zotero_libraries:
            if library.name == name:
                return library
        raise NotConfigured(f"no Zotero library named {name!r} in {self.path}")


@dataclass(frozen=True)
class ServiceSettings:
    """Addresses and secrets of outside services, read from the environment only."""

    eutils_url: str
    ncbi_api_key: str | None
    ncbi_email: str | None
    ncbi_tool: str
    zotero_url: str
    zotero_api_key: str | None
    crossref_url: str = "https://api.crossref.org"
    openalex_url: str = "https://api.openalex.org"
    #: An address for Crossref's and OpenAlex's polite pools (``mailto=``).
    mailto: str | None = None
    openalex_api_key: str | None = None


def service_settings(environ: dict[str, str] | None = None) -> ServiceSettings:
    env = os.environ if environ is None else environ
    return ServiceSettings(
        eutils_url=env.get("NCBI_EUTILS_URL", "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"),
        ncbi_api_key=env.get("NCBI_API_KEY") or None,
        ncbi_email=env.get("NCBI_EMAIL") or None,
        ncbi_tool=env.get("NCBI_TOOL") or "evidence-tracker",
        zotero_url=env.get("ZOTERO_API_URL", "https://api.zotero.org"),
        zotero_api_key=env.get("ZOTERO_API_KEY") or None,
        crossref_url=env.get("CROSSREF_API_URL") or "https://api.crossref.org",
        openalex_url=env.get("OPENALEX_API_URL") or "https://api.openalex.org",
        mailto=env.get("EVIDENCE_MAILTO") or None,
        openalex_api_key=env.get("OPENALEX_API_KEY") or None,
    )


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months earlier, clamped to the month's length."""
    total = day.year * 12 + (day.month - 1) - months
    year, month = divmod(total, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last_day))


# --- validation -----------------------------------------------------------------------------
#: Keys every search may have; a source adds its own (``Source.settings`` in its module).
_SEARCH_KEYS: dict[str, Any] = {
    "name": ("str", True),
    "query": ("str", False),
    "description": ("str", False),
    "window": (("map", {
        "from": ("date", False),
        "to": ("date", False),
        "last_months": ("int", False),
        "cutoff": ("date", False),
    }), False),
}
# A spec is a dict: key -> (kind, required). Kinds: "str", "int", "bool", "date", "float",
# ("enum", choices), ("list", kind), ("map", spec), and "filters": a mapping of any keys to
# values or lists of values, each kept as written (a source passes them through to its API).

_LABELLED = {"id": ("str", True), "nb": ("str", True), "en": ("str", True)}
_SPEC: dict[str, Any] = {
    "project": (("map", {
        "title": ("str", True),
        "language": (("enum", LANGUAGES), False),
        "description": ("str", False),
        "licence": ("str", False),
        "edition": ("str", False),
    }), True),
    # Each search's keys: the common ones below plus its source's settings (_search_spec).
    "searches": (("list", "search"), False),
    "zotero": (("map", {
        "libraries": (("list", ("map", {
            "name": ("str", True),
            "type": (("enum", ("user", "group")), True),
            "id": ("str", True),
            "collection": ("str", False),
            "local": ("bool", False),
        })), False),
    }), False),
    "theme_groups": (("list", ("map", {
        **_LABELLED,
        "themes": (("list", ("map", _LABELLED)), True),
    })), False),
    "exclusion_reasons": (("list", ("map", _LABELLED)), False),
    "full_text_exclusion_reasons": (("list", ("map", _LABELLED)), False),
    "screening": (("map", {
        "reviewers_per_record": (("enum", (1, 2)), False),
        "order": (("enum", SCREEN_ORDERS), False),
        "require_reason_on_exclude": ("bool", False),
        "public_fields": (("list", "str"), False),
        "highlight": (("map", {
            "include": (("list", "str"), False),
            "exclude": (("list", "str"), False),
        }), False),
        "stages": (("list", ("enum", SCREEN_STAGES)), False),
        "full_text_folder": ("str", False),
        "relevance_fallback": (("enum", SCREEN_ORDERS[:-1]), False),
        "stopping": (("map", {
            "rule": (("enum", STOPPING_RULES), False),
            "min_share": ("float", False),
            "consecutive_exclusions": ("int", False),
            "stopped": ("bool", False),
        }), False),
        "auth": (("map", {
            "header": ("str", False),
            "trusted_proxies": (("list", "str"), False),
            "create_users": ("bool", False),
        }), False),
    }), False),
    "synonyms": (("list", ("list", "str")), False),
    "dedupe": (("map", {
        "upper_threshold": ("float", False),
        "lower_threshold": ("float", False),
        "merge_preprints": ("bool", False),
        "merge_errata": ("bool", False),
    }), False),
    "enrich": (("map", {
        "after_harvest": ("bool", False),
        "sources": (("list", ("enum", ENRICH_SOURCES)), False),
    }), False),
}


class _Validator:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, node: yaml.Node | None, key: str, message: str) -> ConfigError:
        line = node.start_mark.line + 1 if node is not None else None
        return ConfigError(self.path, line, key, message)

    def value(self, node: yaml.Node, kind: Any, key: str) -> Any:
        if kind == "search":
            return self.mapping(node, _search_spec(node), key)
        if kind == "filters":
            return self.filters(node, key)
        if isinstance(kind, tuple) and kind[0] == "map":
            return self.mapping(node, kind[1], key)
        if isinstance(kind, tuple) and kind[0] == "list":
            if not isinstance(node, yaml.SequenceNode):
                raise self.fail(node, key, "must be a list")
            return [self.value(item, kind[1], f"{key}[{i}]") for i, item in enumerate(node.value)]
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, key, "must be a single value, not a list or mapping")
        try:
            raw = _scalar(node)
        except yaml.YAMLError as e:  # a python/... tag: SafeLoader knows no constructor
            raise self.fail(node, key, f"unsupported tag {node.tag!r}: write a plain value") from e
        except (ValueError, OverflowError) as e:  # 2024-02-30: a date that does not exist
            raise self.fail(node, key, f"not a valid value ({e})") from e
        return self.scalar(node, raw, kind, key)

    def scalar(self, node: yaml.Node, raw: Any, kind: Any, key: str) -> Any:
        if isinstance(kind, tuple) and kind[0] == "enum":
            if raw not in kind[1]:
                choices = ", ".join(str(c) for c in kind[1])
                raise self.fail(node, key, f"must be one of {choices} (got {raw!r})")
            return raw
        if kind == "str":
            if raw is None or isinstance(raw, (dict, list)):
                raise self.fail(node, key, "must be text")
            return str(raw)
        if kind == "bool":
            if not isinstance(raw, bool):
                raise self.fail(node, key, f"must be true or false (got {raw!r})")
            return raw
        if kind == "int":
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise self.fail(node, key, f"must be a whole number (got {raw!r})")
            return raw
        if kind == "float":
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                raise self.fail(node, key, f"must be a number (got {raw!r})")
            return float(raw)
        if kind == "date":
            if isinstance(raw, dt.datetime):
                return raw.date()
            if isinstance(raw, dt.date):
                return raw
            raise self.fail(node, key, f"must be a date like 2024-10-21 (got {raw!r})")
        raise AssertionError(kind)

    def filters(self, node: yaml.Node, key: str) -> dict[str, str | list[str]]:
        """An API's filters, passed through: each value as written in the file, so
        ``language: no`` stays "no" (not YAML's false) and a date stays its text."""
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, key, "must be a mapping of filter names to values")
        result: dict[str, str | list[str]] = {}
        for key_node, value_node in node.value:
            child = f"{key}.{key_node.value}"
            if not isinstance(key_node, yaml.ScalarNode) or not str(key_node.value).strip():
                raise self.fail(key_node, key, "a filter needs a name")
            if key_node.value in result:
                raise self.fail(key_node, child, "appears twice")
            if isinstance(value_node, yaml.SequenceNode):
                values = value_node.value
            else:
                values = [value_node]
            texts = []
            for item in values:
                if not isinstance(item, yaml.ScalarNode) or not str(item.value).strip():
                    raise self.fail(item, child, "must be a value or a list of values")
                texts.append(str(item.value).strip())
            result[key_node.value] = texts if isinstance(value_node, yaml.SequenceNode) \
                else texts[0]
        return result

    def mapping(self, node: yaml.Node, spec: dict[str, Any], key: str) -> dict[str, Any]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, key, "must be a mapping of keys to values")
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            name = key_node.value
            child = f"{key}.{name}" if key else name
            if name not in spec:
                allowed = ", ".join(spec)
                raise self.fail(key_node, child, f"unknown key (allowed here: {allowed})")
            if name in result:
                raise self.fail(key_node, child, "appears twice")
            kind, _required = spec[name]
            result[name] = self.value(value_node, kind, child)
        for name, (_kind, required) in spec.items():
            if required and name not in result:
                raise self.fail(node, f"{key}.{name}" if key else name, "required")
        return result


def _search_spec(node: yaml.Node) -> dict[str, Any]:
    """The keys a search may have: the common ones and those of its ``source``.

    The harvest registry knows the sources; their modules are light to import (see
    evidence.harvest.sources), so asking it here costs little.
    """
    from evidence.harvest import get_source, source_names

    spec = {"name": _SEARCH_KEYS["name"], "source": (("enum", source_names()), True),
            **{k: v for k, v in _SEARCH_KEYS.items() if k != "name"}}
    source_node = _find_node(node, "source") if isinstance(node, yaml.MappingNode) else None
    name = _scalar(source_node) if isinstance(source_node, yaml.ScalarNode) else None
    source = get_source(name) if isinstance(name, str) else None
    for key, setting in (source.settings if source else {}).items():
        spec[key] = (setting.kind, setting.required)
    return spec


def _scalar(node: yaml.ScalarNode) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def load_config(path: str | Path) -> Config:
    """Read, validate and return the configuration at ``path``."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(path, None, "", "file not found (run `evidence init` to write one)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(path, None, "", f"not UTF-8 text ({e.reason})") from e
    return parse_config(text, path)


def parse_config(text: str, path: str | Path = "evidence.yml") -> Config:
    path = Path(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = str(getattr(e, "problem", e))
        if "cannot start any token" in problem or "alias" in problem:
            problem += (" (a value starting with * & ! % @ ` | > - ? { [ or a quote is YAML"
                        ' syntax: put it in quotes, "*rus")')
        raise ConfigError(path, line, "", f"not valid YAML: {problem}") from e
    if root is None:
        raise ConfigError(path, None, "", "the file is empty")
    _check_size(root, path)
    validator = _Validator(path)
    data = validator.mapping(root, _SPEC, "")
    return _build(data, root, validator)


#: Nodes a configuration may hold once aliases are expanded; the real report's has about 300.
#: YAML aliases can nest (a "billion laughs" file is a few lines): counting with a cap stops
#: one before the validator walks it for minutes.
MAX_NODES = 20_000


def _check_size(root: yaml.Node, path: Path) -> None:
    """Refuse a document that expands to more than ``MAX_NODES`` nodes (an alias bomb)."""
    count, stack = 0, [root]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ConfigError(path, node.start_mark.line + 1, "",
                              f"more than {MAX_NODES:,} values once aliases (*name) are "
                              "expanded: remove the nested aliases")
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                stack.extend((key_node, value_node))


def _find_node(root: yaml.Node, *keys: str | int) -> yaml.Node | None:
    node: yaml.Node | None = root
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            node = node.value[key]
        else:
            return None
    return node


def _build(data: dict[str, Any], root: yaml.Node, v: _Validator) -> Config:
    project = data["project"]
    libraries = tuple(
        ZoteroLibrary(name=lib["name"], library_type=lib["type"], library_id=lib["id"],
                      collection=lib.get("collection"), local=lib.get("local", False))
        for lib in data.get("zotero", {}).get("libraries", [])
    )
    _unique(libraries, "name", root, ("zotero", "libraries"), v)
    context = Config(title=project["title"], zotero_libraries=libraries, path=str(v.path))
    searches = [_search(s, i, root, v, context) for i, s in enumerate(data.get("searches", []))]
    _unique(searches, "name", root, ("searches",), v)
    groups = tuple(
        ThemeGroup(id=g["id"], nb=g["nb"], en=g["en"], themes=tuple(
            Theme(id=t["id"], nb=t["nb"], en=t["en"], group=g["id"]) for t in g["themes"]))
        for g in data.get("theme_groups", [])
    )
    _unique(groups, "id", root, ("theme_groups",), v)
    _unique([t for g in groups for t in g.themes], "id", root, ("theme_groups",), v)
    reasons = tuple(Reason(**r) for r in data.get("exclusion_reasons", []))
    _unique(reasons, "id", root, ("exclusion_reasons",), v)
    full_text_reasons = tuple(Reason(**r) for r in data.get("full_text_exclusion_reasons", []))
    _unique(full_text_reasons, "id", root, ("full_text_exclusion_reasons",), v)
    if any(r.id == NOT_RETRIEVED for r in full_text_reasons):
        raise v.fail(_find_node(root, "full_text_exclusion_reasons"),
                     "full_text_exclusion_reasons",
                     f"{NOT_RETRIEVED!r} is built in (full text not retrievable): use another id")
    edition = str(project.get("edition", "")).strip()
    if edition and (len(edition) > EDITION_MAX or not EDITION_NAME.match(edition)):
        raise v.fail(_find_node(root, "project", "edition"), "project.edition",
                     f"{edition[:EDITION_MAX]!r} is not a usable edition name: {EDITION_RULE}")
    screening = data.get("screening", {})
    stages = tuple(screening.get("stages", ["title_abstract"]))
    if stages not in (("title_abstract",), SCREEN_STAGES):
        raise v.fail(_find_node(root, "screening", "stages"), "screening.stages",
                     "must be [title_abstract] or [title_abstract, full_text]")
    dedupe = data.get("dedupe", {})
    dedupe_settings = DedupeSettings(**dedupe)
    if dedupe_settings.lower_threshold > dedupe_settings.upper_threshold:
        raise v.fail(_find_node(root, "dedupe"), "dedupe.lower_threshold",
                     "must not be above dedupe.upper_threshold")
    synonyms = tuple(_synonym_group(g, i, root, v) for i, g in enumerate(data.get("synonyms", [])))
    return Config(
        title=project["title"], language=project.get("language", "nb"),
        description=project.get("description", ""), licence=project.get("licence", ""),
        edition=edition,
        searches=tuple(searches), zotero_libraries=libraries, theme_groups=groups,
        exclusion_reasons=reasons, full_text_exclusion_reasons=full_text_reasons,
        screening=ScreeningSettings(
            reviewers_per_record=screening.get("reviewers_per_record", 1),
            order=screening.get("order", "newest"),
            require_reason_on_exclude=screening.get("require_reason_on_exclude", True),
            public_fields=tuple(screening.get("public_fields", ())),
            highlight_include=_words(screening.get("highlight", {}).get("include", [])),
            highlight_exclude=_words(screening.get("highlight", {}).get("exclude", [])),
            stages=stages, full_text_folder=_folder(screening.get("full_text_folder"), v.path),
            relevance_fallback=screening.get("relevance_fallback", "newest"),
            stopping_rule=screening.get("stopping", {}).get("rule", "none"),
            stopping_min_share=screening.get("stopping", {}).get("min_share", 0.10),
            stopping_run=screening.get("stopping", {}).get("consecutive_exclusions", 50),
            stopping_applied=screening.get("stopping", {}).get("stopped", False),
            auth=_auth(screening.get("auth"), root, v),
        ),
        dedupe=dedupe_settings, synonyms=synonyms,
        enrich=_enrich(data.get("enrich", {}), root, v), path=str(v.path),
    )


def _synonym_group(group: list[str], i: int, root: yaml.Node, v: _Validator
                   ) -> tuple[str, ...]:
    """One group of ``synonyms``: two or more words or phrases that find each other."""
    terms = _words(group)
    if any(not re.search(r"\w", t) for t in terms):
        raise v.fail(_find_node(root, "synonyms", i), f"synonyms[{i}]",
                     "each term needs a letter or digit")
    if len(terms) < 2:
        raise v.fail(_find_node(root, "synonyms", i), f"synonyms[{i}]",
                     "a group needs two or more different words or phrases, e.g."
                     " [rusbehandling, addiction treatment]")
    return terms


def _enrich(raw: dict[str, Any], root: yaml.Node, v: _Validator) -> EnrichSettings:
    sources = tuple(dict.fromkeys(raw.get("sources", ENRICH_SOURCES)))
    if not sources:
        raise v.fail(_find_node(root, "enrich", "sources"), "enrich.sources",
                     f"name at least one of {', '.join(ENRICH_SOURCES)}")
    return EnrichSettings(after_harvest=raw.get("after_harvest", False), sources=sources)


def _search(raw: dict[str, Any], i: int, root: yaml.Node, v: _Validator,
            context: Config) -> Search:
    """One validated search; its source checks its own settings (and fills defaults)."""
    from evidence.harvest import get_source
    from evidence.harvest.sources import SettingError, unnarrowed

    key = f"searches[{i}]"
    node = _find_node(root, "searches", i)
    window = _window(raw.get("window"), _find_node(root, "searches", i, "window"), key, v)
    source = get_source(raw["source"])
    settings: dict[str, Any] = {}
    if source:
        if source.query_required and not raw.get("query"):
            raise v.fail(node, f"{key}.query", f"required for {source.name}")
        settings = {k: raw.get(k, setting.default) for k, setting in source.settings.items()}
        try:
            settings = source.check(settings, context) if source.check else settings
        except SettingError as e:
            found = _find_node(node, *e.key.split(".")) or _find_node(node, e.key.split(".")[0])
            raise v.fail(found or node, f"{key}.{e.key}", e.message) from e
        refused = unnarrowed(source, raw["name"], raw.get("query"), settings)
        if refused:
            raise v.fail(node, f"{key}.query", refused)
    return Search(name=raw["name"], source=raw["source"], query=raw.get("query", ""),
                  window=window, description=raw.get("description", ""), settings=settings)


_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


def _auth(raw: dict[str, Any] | None, root: yaml.Node, v: _Validator) -> AuthSettings:
    """``screening.auth``: a header name, proxy addresses or CIDR networks, create_users."""
    if not raw:
        return AuthSettings()
    import ipaddress

    node = _find_node(root, "screening", "auth")
    header = raw.get("header")
    if header is not None and not _HEADER_NAME.fullmatch(header):
        raise v.fail(_find_node(node, "header"), "screening.auth.header",
                     f"{header!r} is not an HTTP header name (letters, digits and -, e.g. "
                     "X-Remote-User)")
    proxies = raw.get("trusted_proxies", [])
    for i, value in enumerate(proxies):
        try:
            ipaddress.ip_network(value.strip(), strict=True)
        except ValueError as e:
            raise v.fail(_find_node(node, "trusted_proxies", i),
                         f"screening.auth.trusted_proxies[{i}]",
                         f"not an IP address or network such as 127.0.0.1 or 10.0.0.0/8 ({e})"
                         ) from e
    if header and not proxies:
        raise v.fail(node, "screening.auth.trusted_proxies",
                     "required with header: the addresses of the proxy that sets it")
    if raw.get("create_users") and not header:
        raise v.fail(_find_node(node, "create_users"), "screening.auth.create_users",
                     "needs screening.auth.header")
    return AuthSettings(header=header, trusted_proxies=tuple(p.strip() for p in proxies),
                        create_users=raw.get("create_users", False))


def _words(words: list[str]) -> tuple[str, ...]:
    """Highlight words trimmed, blanks and repeats (ignoring case) dropped, order kept."""
    seen: dict[str, str] = {}
    for word in words:
        word = " ".join(word.split())
        if word:
            seen.setdefault(word.casefold(), word)
    return tuple(seen.values())


def _folder(value: str | None, config_path: Path) -> str | None:
    """A folder named in the configuration, relative to the configuration file."""
    if not value:
        return None
    return str((Path(config_path).parent / Path(value).expanduser()).resolve())


def _window(raw: dict | None, node: yaml.Node | None, key: str, v: _Validator) -> DateWindow | None:
    if raw is None:
        return None
    fixed = "from" in raw or "to" in raw
    rolling = "last_months" in raw or "cutoff" in raw
    if fixed and rolling:
        raise v.fail(node, f"{key}.window", "use either from/to or last_months/cutoff, not both")
    if rolling and "last_months" not in raw:
        raise v.fail(node, f"{key}.window.last_months", "required with cutoff")
    if rolling and raw["last_months"] < 1:
        raise v.fail(node, f"{key}.window.last_months", "must be at least 1")
    if fixed and raw.get("from") and raw.get("to") and raw["from"] > raw["to"]:
        raise v.fail(node, f"{key}.window.from", "must not be after window.to")
    return DateWindow(start=raw.get("from"), end=raw.get("to"),
                      last_months=raw.get("last_months"), cutoff=raw.get("cutoff"))


def _unique(items, attr: str, root: yaml.Node, keys: tuple, v: _Validator) -> None:
    seen: set[str] = set()
    for item in items:
        value = getattr(item, attr)
        if value in seen:
            raise v.fail(_find_node(root, *keys), ".".join(keys),
                         f"{attr} {value!r} is used twice")
        seen.add(value)


def starter_config_text() -> str:
    """The commented example configuration that ``evidence init`` and the demo start from."""
    from importlib import resources

    return resources.files("evidence").joinpath("templates/evidence.example.yml").read_text(
        encoding="utf-8")
