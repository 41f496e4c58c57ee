"""What the dashboard's pages need that the other domains' services do not give as is.

Signing in (a Firebase ID token exchanged for a session), turning the campaign
editor's form into a campaign definition (then checked by the same service as
the API and the files), and the figures of a campaign's charts. Everything a
page shows comes from the services the coordinator API uses
(``campaigns.service``, ``reviews.service``, ``reports.service``) and the scoring
jobs' reads, with the same checks of who may see what.
"""

from __future__ import annotations

import re
import secrets
import typing
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import msgspec
from markupsafe import Markup

from upscale_api.auth import Identity, TokenVerifier
from upscale_api.campaigns.structs import Campaign, CampaignStats, ChallengeRule, ContestOut, MemberRule
from upscale_api.catalogue.structs import Category
from upscale_api.dashboard import charts
from upscale_api.dashboard.texts import Language, day, localized, text
from upscale_api.errors import Problem
from upscale_api.reports.structs import CityImpact
from upscale_api.roles.service import grants_of
from upscale_api.roles.structs import Grant
from upscale_api.validation import FieldError, InvalidInput, collect_errors

STAFF_ROLES = ("coordinator", "admin")
SESSION_SECONDS = 12 * 3600
"""A session lasts a working day; the role is checked again on every page."""


class Staff(msgspec.Struct, frozen=True):
    """Who signed in: the uid, a CSRF token for this session, and until when it holds."""

    uid: str
    csrf: str
    expires_at: float


async def sign_in(verifier: TokenVerifier, pool: Any, id_token: str) -> tuple[Identity, list[Grant], str]:
    """Verify a Firebase ID token and check the caller is a coordinator or an admin.

    Returns the caller, their roles and a fresh CSRF token; raises the verifier's
    401 for a bad token and a 403 problem for anyone else."""
    identity = await verifier.verify(id_token.strip())
    grants = await grants_of(pool, identity.uid)
    if not any(g.role in STAFF_ROLES for g in grants):
        raise Problem(403, "forbidden", "dashboard: only coordinators of a city and admins sign in here")
    return identity, grants, secrets.token_urlsafe(32)


def csrf_matches(expected: object, given: str | None) -> bool:
    """Whether a form's or header's token is this session's (compared in constant time)."""
    return isinstance(expected, str) and bool(given) and secrets.compare_digest(expected, given or "")


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a dashboard path only, never another site."""
    if target and target.startswith("/dashboard") and "//" not in target and "\\" not in target:
        return target
    return "/dashboard/"


# --- The campaign editor ---------------------------------------------------------------

_PART = re.compile(r"([a-z_]+)(?:\[(\d{1,3})\])?")
LIST_FIELDS = frozenset({"action_types", "categories", "cities"})
"""Fields given as several values of one name (checkboxes)."""
BOOLEAN_FIELDS = frozenset({"residents_create_teams"})
MAX_ROWS = 200


def form_to_definition(form: list[tuple[str, str]], stored: dict[str, Any] | None) -> dict[str, Any]:
    """The editor's fields (named by their path in the definition: ``challenge[0].rule.share``)
    laid over the stored definition. Lists the form edits (``action``, ``team``, ``challenge``)
    are replaced by the form's rows; a row with ``_remove`` is left out; blank fields are left
    out so that defaults apply; a rule keeps only the fields of its ``kind``."""
    definition = dict(stored or {})
    edited: dict[str, Any] = {}
    names = {name for name, _ in form}
    for name, value in form:
        if name.startswith("_") or not name or name.endswith("._present"):
            continue
        _put(edited, name, value)
    for key in BOOLEAN_FIELDS:
        if f"{key}._present" in names:  # a checkbox left unchecked posts nothing: the marker says it was there
            edited[key] = key in edited
    for key, value in edited.items():
        if key in ("action", "team", "challenge"):
            rows = [row for _, row in sorted(value.items())] if isinstance(value, dict) else []
            definition[key] = [_rule_of_kind(row) for row in rows if isinstance(row, dict) and not row.get("_remove")]
        elif isinstance(value, dict) and isinstance(definition.get(key), dict):
            definition[key] = definition[key] | value  # e.g. title.en alone keeps title.sl
        else:
            definition[key] = value
    return definition


def _put(tree: dict[str, Any], path: str, value: str) -> None:
    node: Any = tree
    parts = path.split(".")
    for depth, part in enumerate(parts):
        match = _PART.fullmatch(part)
        if match is None:
            return  # not a field of the editor: ignored, as unknown keys would be refused by name
        key, index = match.group(1), match.group(2)
        last = depth == len(parts) - 1
        if index is not None:
            if int(index) >= MAX_ROWS:
                return
            rows = node.setdefault(key, {})
            if not isinstance(rows, dict):
                return
            if last:
                rows[int(index)] = value
                return
            node = rows.setdefault(int(index), {})
            continue
        if last:
            _put_value(node, key, value)
            return
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            return
        node = child


def _put_value(node: dict[str, Any], key: str, value: str) -> None:
    if key in LIST_FIELDS:
        values = node.setdefault(key, [])
        if value:  # a group of checkboxes posts an empty value first, so that none checked is an empty list
            values.append(value)
    elif key == "_remove":
        node["_remove"] = True
    elif key in ("sl", "en"):
        node[key] = value  # a text emptied is an error to show, not a text to keep
    elif value.strip() != "":
        node[key] = value.strip()


def _fields_of(union: Any, kind: object) -> set[str] | None:
    for member in typing.get_args(union):
        info = msgspec.inspect.type_info(member)
        if isinstance(info, msgspec.inspect.StructType) and info.tag == kind:
            return {f.encode_name for f in info.fields} | {"kind"}
    return None


def _rule_of_kind(row: dict[str, Any]) -> dict[str, Any]:
    """A challenge row's rule (and member rule) keeps the fields of its kind: the form shows every
    kind's parameters, and a value typed for another kind is not an error."""
    rule = row.get("rule")
    if not isinstance(rule, dict):
        return row
    fields = _fields_of(ChallengeRule, rule.get("kind"))
    if fields is not None:
        rule = {k: v for k, v in rule.items() if k in fields}
    member = rule.get("member_rule")
    if isinstance(member, dict):
        member_fields = _fields_of(MemberRule, member.get("kind"))
        if member_fields is not None:
            rule["member_rule"] = {k: v for k, v in member.items() if k in member_fields}
    return row | {"rule": rule}


def to_campaign(definition: dict[str, Any]) -> Campaign:
    """The definition as a :class:`Campaign`, numbers typed in a form read as numbers;
    :class:`InvalidInput` naming every bad field otherwise."""
    try:
        return msgspec.convert(definition, Campaign, strict=False)
    except msgspec.ValidationError:
        errors = collect_errors(definition, Campaign, strict=False)
        raise InvalidInput(errors or [FieldError("", "the campaign is not valid")]) from None


def errors_by_field(errors: list[FieldError]) -> dict[str, str]:
    """Each bad field's reason, keyed as the editor names its fields."""
    found: dict[str, str] = {}
    for error in errors:
        found.setdefault(error.field, error.reason)
    return found


def new_campaign(city: str, today: date) -> dict[str, Any]:
    """What the editor starts a new campaign from: a draft of four weeks from next Monday."""
    starts = today + timedelta(days=7 - today.weekday())
    return {
        "code": "",
        "cities": [city],
        "title": {"sl": "", "en": ""},
        "description": {"sl": "", "en": ""},
        "starts_on": starts.isoformat(),
        "ends_on": (starts + timedelta(days=27)).isoformat(),
        "status": "draft",
        "enrolment": "open",
        "action": [],
        "team": [],
        "challenge": [],
        "ranking": {"measure": "points_per_member", "action_types": []},
    }


# --- A campaign's charts -------------------------------------------------------------


class Series(msgspec.Struct):
    labels: list[str]
    series: list[tuple[str, list[float]]]


def active_per_day(stats: CampaignStats, starts_on: date, ends_on: date, today: date) -> Series:
    """Active participants on every day of the campaign so far (days without any: 0)."""
    by_day = {d.day: d.active_residents for d in stats.by_day}
    last = min(ends_on, today)
    days = [starts_on + timedelta(days=n) for n in range(max((last - starts_on).days + 1, 0))]
    return Series([f"{d.day}.{d.month}." for d in days], [("", [float(by_day.get(d, 0)) for d in days])])


def co2e_per_week(stats: CampaignStats, categories: list[str]) -> tuple[list[date], list[tuple[str, list[float]]]]:
    """kg CO2e per ISO week, one series per category that has any."""
    weeks = sorted({w.week for w in stats.by_week_and_category})
    values: dict[str, dict[date, float]] = defaultdict(dict)
    for cell in stats.by_week_and_category:
        values[cell.category][cell.week] = cell.co2e_kg
    present = [c for c in categories if c in values]
    return weeks, [(c, [values[c].get(w, 0.0) for w in weeks]) for c in present]


def campaign_figures(
    campaign: Campaign, stats: CampaignStats, contest: ContestOut, language: Language, today: date
) -> dict[str, Any]:
    """The campaign page's charts (SVG) and the rows of the tables beside them."""
    categories = list(typing.get_args(Category))
    active = active_per_day(stats, campaign.starts_on, campaign.ends_on, today)
    weeks, by_category = co2e_per_week(stats, categories)
    cohorts = sorted({c.cohort for c in stats.retention})
    retention_weeks = sorted({c.week for c in stats.retention})
    goals: list[tuple[Any, Markup]] = [
        (
            g,
            charts.progress(
                localized(g.title, language), g.value, g.target, "kg CO2e" if g.measure == "co2e_kg" else "", language
            ),
        )
        for g in contest.goals
    ]
    return {
        "active": charts.bars(
            text(language, "active_per_day"),
            active.labels,
            active.series,
            text(language, "residents"),
            label_every=max(1, len(active.labels) // 12),
            whole=True,
            language=language,
        ),
        "active_rows": list(zip(active.labels, [int(v) for v in active.series[0][1]], strict=True)),
        "co2e": charts.bars(
            text(language, "co2e_per_week"),
            [day(w, language) for w in weeks],
            [(text(language, f"cat_{c}"), v) for c, v in by_category],
            "kg CO2e",
            language=language,
        ),
        "weeks": weeks,
        "by_category": by_category,
        "retention": charts.heatmap(
            text(language, "retention"),
            [day(c, language) for c in cohorts],
            [day(w, language) for w in retention_weeks],
            {(day(c.cohort, language), day(c.week, language)): (c.active, c.size) for c in stats.retention},
        ),
        "retention_rows": [(day(c.cohort, language), day(c.week, language), c.size, c.active) for c in stats.retention],
        "contest": charts.ranking(
            text(language, "contest"), [(c.name, c.value) for c in contest.cities], contest.unit, language
        ),
        "goals": goals,
    }


def impact_figures(report: CityImpact, language: Language) -> tuple[Markup, Markup | None, list[str]]:
    """The city report's chart of kg CO2e per month and category, its progress toward the city's
    climate target (None without one), and the categories with any savings."""
    present = {x.category for m in report.months for x in m.by_category if x.co2e_kg}
    used = [c for c in typing.get_args(Category) if c in present]
    chart = charts.bars(
        text(language, "per_month"),
        [m.month for m in report.months],
        [
            (
                text(language, f"cat_{c}"),
                [next((x.co2e_kg for x in m.by_category if x.category == c), 0.0) for m in report.months],
            )
            for c in used
        ],
        "kg CO2e",
        language=language,
    )
    target = None
    if report.climate_target is not None and report.climate_target.reduction_t_co2e > 0:
        target = charts.progress(
            text(language, "climate_target"),
            report.co2e_kg / 1000,
            report.climate_target.reduction_t_co2e,
            "t CO2e",
            language,
        )
    return chart, target, used
