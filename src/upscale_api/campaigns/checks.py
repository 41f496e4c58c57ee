"""The checks every campaign definition passes, from a file or from a coordinator.

The Structs (:mod:`upscale_api.campaigns.structs`) check each field; these check
what a type cannot express: references to the catalogue, the cities, the
campaign's own questions, challenges and action types, dates in order, texts in
every required language. Each problem is a (field, reason) pair.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from upscale_api.campaigns.structs import (
    Campaign,
    ChallengeMetBadge,
    CollectiveRule,
    Counted,
    PersonalRule,
    QuantityRule,
    TeamParticipationRule,
)
from upscale_api.catalogue.structs import REQUIRED_LANGUAGES


def check_campaign(c: Campaign, cities: set[str], units: Mapping[str, str]) -> list[tuple[str, str]]:
    """Problems of one campaign that its type cannot express, as (field, reason).

    ``cities`` are the known city codes, ``units`` the unit of each action type.
    """
    return [
        *_check_frame(c, cities),
        *_check_codes(c, units),
        *_check_challenges(c, units),
        *_check_badges_and_questions(c),
        *_check_ranking(c, units),
    ]


def _check_frame(c: Campaign, cities: set[str]) -> list[tuple[str, str]]:
    """Cities, dates, enrolment and the campaign's own texts."""
    problems = [
        (f"cities[{i}]", f"no city with code {city!r}") for i, city in enumerate(c.cities) if city not in cities
    ]
    if len(set(c.cities)) != len(c.cities):
        problems.append(("cities", "a city is listed twice"))
    if c.ends_on < c.starts_on:
        problems.append(("ends_on", "must not be before starts_on"))
    if c.enrolment == "invite" and c.invite_code is None:
        problems.append(("invite_code", "is required when enrolment is invite"))
    if c.enrolment == "team" and not c.team and not c.residents_create_teams:
        problems.append(("team", "enrolment by team needs teams or residents_create_teams"))
    for key in ("title", "description"):
        problems += _languages(key, getattr(c, key))
    return problems


def _check_codes(c: Campaign, units: Mapping[str, str]) -> list[tuple[str, str]]:
    """Action types that exist, codes used once, teams in the campaign's cities."""
    problems = [
        (f"action[{i}].type", f"no action type with code {action.type!r}")
        for i, action in enumerate(c.action)
        if action.type not in units
    ]
    problems += _duplicates("action", [a.type for a in c.action], "type")
    for kind in ("team", "question", "challenge", "badge", "nudge"):
        problems += _duplicates(kind, [x.code for x in getattr(c, kind)], "code")
    problems += [
        (f"team[{i}].city", f"{team.city!r} is not one of the campaign's cities")
        for i, team in enumerate(c.team)
        if team.city is not None and team.city not in c.cities
    ]
    return problems


def _check_challenges(c: Campaign, units: Mapping[str, str]) -> list[tuple[str, str]]:
    """Each challenge's texts, and what its rule counts and refers to."""
    problems: list[tuple[str, str]] = []
    counted_types = {a.type for a in c.action}
    questions = {q.code for q in c.question}
    for i, challenge in enumerate(c.challenge):
        where = f"challenge[{i}]"
        problems += _languages(f"{where}.title", challenge.title)
        problems += _languages(f"{where}.description", challenge.description)
        rule = challenge.rule
        if isinstance(rule, TeamParticipationRule):
            if not c.team and not c.residents_create_teams:
                problems.append((f"{where}.rule", "a team rule needs teams in the campaign"))
            problems += _counted(f"{where}.rule.member_rule", rule.member_rule, units, counted_types)
        else:
            problems += _counted(f"{where}.rule", rule, units, counted_types)
        if isinstance(rule, PersonalRule) and rule.question not in questions:
            problems.append((f"{where}.rule.question", f"no question with code {rule.question!r}"))
    return problems


def _check_badges_and_questions(c: Campaign) -> list[tuple[str, str]]:
    challenges = {ch.code for ch in c.challenge}
    problems = [
        (f"badge[{i}].rule.challenge", f"no challenge with code {badge.rule.challenge!r}")
        for i, badge in enumerate(c.badge)
        if isinstance(badge.rule, ChallengeMetBadge) and badge.rule.challenge not in challenges
    ]
    problems += [
        (f"question[{i}].max", "must be greater than min")
        for i, question in enumerate(c.question)
        if question.min >= question.max
    ]
    return problems


def _check_ranking(c: Campaign, units: Mapping[str, str]) -> list[tuple[str, str]]:
    """A quantity ranking adds up listed action types of one unit that count in the campaign."""
    ranking = c.ranking
    if ranking.measure != "quantity":
        if ranking.action_types:
            return [("ranking.action_types", "only a ranking by quantity adds up action types")]
        return []
    if not ranking.action_types:
        return [("ranking.action_types", "a ranking by quantity needs the action types it adds up")]
    counted = {a.type for a in c.action}
    problems = []
    for j, code in enumerate(ranking.action_types):
        if code not in units:
            problems.append((f"ranking.action_types[{j}]", f"no action type with code {code!r}"))
        elif code not in counted:
            problems.append((f"ranking.action_types[{j}]", f"{code!r} does not count in this campaign"))
    if len({units[code] for code in ranking.action_types if code in units}) > 1:
        problems.append(("ranking.action_types", "ranked action types must share one unit"))
    return problems


def _counted(where: str, rule: Counted, types: Mapping[str, str], counted: set[str]) -> list[tuple[str, str]]:
    problems = []
    if not rule.action_types and not rule.categories:
        problems.append((where, "name the action_types or categories it counts"))
    for j, code in enumerate(rule.action_types):
        if code not in types:
            problems.append((f"{where}.action_types[{j}]", f"no action type with code {code!r}"))
        elif code not in counted:
            problems.append((f"{where}.action_types[{j}]", f"{code!r} does not count in this campaign"))
    measures_quantity = isinstance(rule, QuantityRule | CollectiveRule) and rule.measure == "quantity"
    if (measures_quantity or isinstance(rule, PersonalRule)) and rule.categories:
        problems.append((f"{where}.categories", "quantities of different units cannot be added: list action_types"))
    if measures_quantity or isinstance(rule, PersonalRule):
        units = {types[code] for code in rule.action_types if code in types}
        if len(units) > 1:
            problems.append((f"{where}.action_types", "counted action types must share one unit"))
    return problems


def _languages(field: str, texts: dict[str, str]) -> list[tuple[str, str]]:
    missing = [lang for lang in REQUIRED_LANGUAGES if lang not in texts]
    return [(field, f"missing language: {', '.join(missing)}")] if missing else []


def _duplicates(kind: str, codes: list[str], key: str) -> list[tuple[str, str]]:
    seen = Counter(codes)
    return [(f"{kind}[{i}].{key}", f"{code!r} is used twice") for i, code in enumerate(codes) if seen[code] > 1]
