"""The checks study and survey files pass beyond what their types say.

Each problem is a (field, reason) pair. Campaigns named by a study are checked
here when they are among the files; a campaign made over the API is checked
when the study is stored (``store.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from upscale_api.campaigns.structs import Campaign
from upscale_api.catalogue.structs import REQUIRED_LANGUAGES
from upscale_api.research.codebook import TABLES, known_columns
from upscale_api.research.structs import (
    FreeTextItem,
    MultipleChoiceItem,
    NumberItem,
    SingleChoiceItem,
    Study,
    SurveyFile,
)

QUASI_IDENTIFIERS = ("city", "district", "age_band", "gender", "assigned_study_day", "assigned_iso_week")
"""Columns of the participants table a study may declare as quasi-identifiers."""


def _languages(texts: Mapping[str, str], field: str) -> list[tuple[str, str]]:
    missing = [lang for lang in REQUIRED_LANGUAGES if lang not in texts]
    return [(field, f"missing language: {', '.join(missing)}")] if missing else []


def _twice(codes: list[str], field: str) -> list[tuple[str, str]]:
    return [(field, f"{code} is defined twice") for code, n in Counter(codes).items() if n > 1]


def check_survey(survey: SurveyFile) -> list[tuple[str, str]]:
    """Versions and item codes unique, options unique, number ranges in order, texts in every language."""
    problems = _languages(survey.title, "title") + _twice([str(v.version) for v in survey.version], "version")
    for i, version in enumerate(survey.version):
        where = f"version[{i}]"
        problems += _twice([item.code for item in version.item], f"{where}.item")
        for j, item in enumerate(version.item):
            at = f"{where}.item[{j}]"
            problems += _languages(item.text, f"{at}.text")
            if isinstance(item, SingleChoiceItem | MultipleChoiceItem):
                problems += _twice([o.code for o in item.options], f"{at}.options")
                for k, option in enumerate(item.options):
                    problems += _languages(option.text, f"{at}.options[{k}].text")
            if isinstance(item, NumberItem) and not item.min < item.max:
                problems.append((f"{at}.max", "must be greater than min"))
    return problems


def check_study(
    study: Study, campaigns: Mapping[str, Campaign], surveys: Mapping[str, SurveyFile]
) -> list[tuple[str, str]]:
    """Arms, waves and export rules of one study; ``campaigns`` and ``surveys`` are those of the files."""
    problems = _languages(study.title, "title") + _languages(study.description, "description")
    problems += _twice(study.campaigns, "campaigns") + _twice([a.code for a in study.arm], "arm")
    if sum(a.control for a in study.arm) != 1:
        problems.append(("arm", "exactly one arm must be the control arm (control = true)"))
    nudges = {n.code for c in study.campaigns if c in campaigns for n in campaigns[c].nudge}
    challenges = {x.code for c in study.campaigns if c in campaigns for x in campaigns[c].challenge}
    every_campaign_known = all(c in campaigns for c in study.campaigns)
    for i, arm in enumerate(study.arm):
        problems += _languages(arm.title, f"arm[{i}].title")
        if every_campaign_known:
            problems += [
                (f"arm[{i}].nudges", f"no nudge {n} in the study's campaigns") for n in arm.nudges if n not in nudges
            ]
            problems += [
                (f"arm[{i}].challenges", f"no challenge {x} in the study's campaigns")
                for x in arm.challenges
                if x not in challenges
            ]
    problems += _twice([w.code for w in study.wave], "wave")
    for i, wave in enumerate(study.wave):
        if wave.survey not in surveys:
            problems.append((f"wave[{i}].survey", f"no survey instrument {wave.survey} under surveys/"))
    problems += _check_export(study, surveys)
    return problems


def _check_export(study: Study, surveys: Mapping[str, SurveyFile]) -> list[tuple[str, str]]:
    rules = study.export
    problems = []
    for table, columns in rules.columns.items():
        if table not in TABLES:
            problems.append((f"export.columns.{table}", f"no table {table} ({', '.join(TABLES)})"))
            continue
        problems += [
            (f"export.columns.{table}", f"no column {c} in {table} (see docs/research.md)")
            for c in columns
            if c not in known_columns(table)
        ]
    problems += [
        (
            "export.quasi_identifiers",
            f"{q} is not a participants column that can identify ({', '.join(QUASI_IDENTIFIERS)})",
        )
        for q in rules.quasi_identifiers
        if q not in QUASI_IDENTIFIERS
    ]
    text_items = {
        item.code
        for wave in study.wave
        if wave.survey in surveys
        for version in surveys[wave.survey].version
        for item in version.item
        if isinstance(item, FreeTextItem)
    }
    problems += [
        ("export.free_text", f"no free-text item {code} in the study's surveys")
        for code in rules.free_text
        if code not in text_items
    ]
    return problems
