"""Reading and checking the definition files under ``campaigns/``.

:func:`read_definitions` returns the whole set or raises
:class:`InvalidDefinitions` listing every problem (file, field, reason); it
never returns a partly valid set, so nothing is ever half-loaded.
"""

from __future__ import annotations

import zoneinfo
from collections import Counter
from pathlib import Path
from typing import TypeVar

import msgspec

from upscale_api import validation
from upscale_api.campaigns.checks import check_campaign
from upscale_api.campaigns.structs import Campaign
from upscale_api.catalogue.structs import REQUIRED_LANGUAGES
from upscale_api.consents.structs import ConsentFile
from upscale_api.definitions.structs import (
    CITY_FILE,
    ActionType,
    ActionTypesFile,
    City,
    DefinitionError,
    Definitions,
    FactorsFile,
)
from upscale_api.research.checks import check_study, check_survey
from upscale_api.research.structs import Study, SurveyFile
from upscale_api.rewards.store import check_partner
from upscale_api.rewards.structs import PartnerDefinition

FACTORS_FILE = Path("catalogue/emission-factors.toml")
ACTION_TYPES_FILE = Path("catalogue/action-types.toml")
REWARDS_FOLDER = "rewards"

T = TypeVar("T", bound=msgspec.Struct)


class InvalidDefinitions(Exception):
    def __init__(self, errors: list[DefinitionError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


def read_definitions(root: Path) -> Definitions:
    """Read and check every definition file under ``root`` (the ``campaigns/`` folder)."""
    errors: list[DefinitionError] = []
    factors = _read(root, FACTORS_FILE, FactorsFile, errors)
    action_types = _read(root, ACTION_TYPES_FILE, ActionTypesFile, errors)
    cities: list[tuple[str, City]] = []
    for path in sorted(root.glob(f"*/{CITY_FILE}")):
        city = _read(root, path.relative_to(root), City, errors)
        if city is not None:
            cities.append((str(path.relative_to(root)), city))
    if factors is None or action_types is None:
        raise InvalidDefinitions(errors)
    definitions = Definitions(factors.factor, action_types.action_type, [c for _, c in cities])
    errors += _check_catalogue(definitions)
    for file, city in cities:
        errors += _check_city(file, city, definitions)
    campaigns = _read_campaigns(root, definitions, errors)
    consents = _read_consents(root, errors)
    surveys = _read_surveys(root, errors)
    studies = _read_studies(root, campaigns, surveys, errors)
    partners = _read_partners(root, definitions, errors)
    if errors:
        raise InvalidDefinitions(errors)
    return Definitions(
        definitions.factors,
        definitions.action_types,
        definitions.cities,
        campaigns,
        consents=consents,
        surveys=surveys,
        studies=studies,
        partners=partners,
    )


def campaign_files(root: Path) -> list[Path]:
    """The campaign files: ``<city>/<campaign>.toml``, every TOML file beside a ``city.toml``."""
    return sorted(p for p in root.glob("*/*.toml") if p.name != CITY_FILE and (p.parent / CITY_FILE).exists())


def _read_consents(root: Path, errors: list[DefinitionError]) -> list[ConsentFile]:
    """``consents/<purpose>.toml``: each file one purpose, its versions unique, texts in every language."""
    found = []
    for path in sorted(root.glob("consents/*.toml")):
        relative = path.relative_to(root)
        document = _read(root, relative, ConsentFile, errors)
        if document is None:
            continue
        problems = [] if document.purpose == path.stem else [("purpose", f"must equal the file name {path.stem!r}")]
        versions = Counter(v.version for v in document.version)
        problems += [("version", f"version {v} is defined twice") for v, n in versions.items() if n > 1]
        for i, version in enumerate(document.version):
            for key in ("title", "body"):
                missing = [lang for lang in REQUIRED_LANGUAGES if lang not in getattr(version, key)]
                if missing:
                    problems.append((f"version[{i}].{key}", f"missing language: {', '.join(missing)}"))
        errors += [DefinitionError(str(relative), field, reason) for field, reason in problems]
        found.append(document)
    return found


def _read_surveys(root: Path, errors: list[DefinitionError]) -> list[SurveyFile]:
    found = []
    for path in sorted(root.glob("surveys/*.toml")):
        relative = path.relative_to(root)
        survey = _read(root, relative, SurveyFile, errors)
        if survey is None:
            continue
        problems = check_survey(survey)
        if survey.code != path.stem:
            problems.append(("code", f"must equal the file name {path.stem!r}"))
        errors += [DefinitionError(str(relative), field, reason) for field, reason in problems]
        found.append(survey)
    return found


def _read_studies(
    root: Path, campaigns: list[Campaign], surveys: list[SurveyFile], errors: list[DefinitionError]
) -> list[tuple[str, Study]]:
    """``<city>/studies/<study>.toml``; a campaign is in one study at most."""
    found = []
    by_code, instruments = {c.code: c for c in campaigns}, {s.code: s for s in surveys}
    for path in sorted(root.glob("*/studies/*.toml")):
        if not (path.parent.parent / CITY_FILE).exists():
            continue
        relative = path.relative_to(root)
        study = _read(root, relative, Study, errors)
        if study is None:
            continue
        problems = check_study(study, by_code, instruments)
        if study.code != path.stem:
            problems.append(("code", f"must equal the file name {path.stem!r}"))
        errors += [DefinitionError(str(relative), field, reason) for field, reason in problems]
        found.append((path.parent.parent.name, study))
    codes = Counter(s.code for _, s in found)
    errors += [DefinitionError("", f"code {code}", "used by two study files") for code, n in codes.items() if n > 1]
    in_studies = Counter(c for _, s in found for c in set(s.campaigns))
    errors += [
        DefinitionError("", f"campaign {code}", "is in two studies (a campaign is in one study at most)")
        for code, n in in_studies.items()
        if n > 1
    ]
    return found


def _read_campaigns(root: Path, definitions: Definitions, errors: list[DefinitionError]) -> list[Campaign]:
    """Every campaign file, checked against the catalogue and the cities; problems go to ``errors``."""
    campaigns = []
    cities, units = {c.code for c in definitions.cities}, {t.code: t.unit for t in definitions.action_types}
    for path in campaign_files(root):
        relative = path.relative_to(root)
        campaign = _read(root, relative, Campaign, errors)
        if campaign is None:
            continue
        problems = check_campaign(campaign, cities, units)
        if campaign.cities[0] != path.parent.name:
            problems.append(("cities[0]", f"must be the folder's city {path.parent.name!r}"))
        errors += [DefinitionError(str(relative), field, reason) for field, reason in problems]
        campaigns.append(campaign)
    codes = Counter(c.code for c in campaigns)
    errors += [DefinitionError("", f"code {code}", "used by two campaign files") for code, n in codes.items() if n > 1]
    return campaigns


def partner_files(root: Path) -> list[Path]:
    """The partner files: ``<city>/rewards/<partner>.toml``."""
    return sorted(root.glob(f"*/{REWARDS_FOLDER}/*.toml"))


def _read_partners(
    root: Path, definitions: Definitions, errors: list[DefinitionError]
) -> list[tuple[str, PartnerDefinition]]:
    """Every partner file, checked on its own and against the cities; problems go to ``errors``."""
    partners = []
    cities = {c.code for c in definitions.cities}
    for path in partner_files(root):
        relative = path.relative_to(root)
        partner = _read(root, relative, PartnerDefinition, errors)
        if partner is None:
            continue
        city = path.parent.parent.name
        problems = check_partner(partner)
        if city not in cities:
            problems.append(("", f"the folder {city!r} is no city (it has no {CITY_FILE})"))
        if partner.code != path.stem:
            problems.append(("code", f"must equal the file's name {path.stem!r}"))
        errors += [DefinitionError(str(relative), field, reason) for field, reason in problems]
        partners.append((city, partner))
    codes = Counter(p.code for _, p in partners)
    rewards = Counter(r.code for _, p in partners for r in p.reward)
    errors += [DefinitionError("", f"code {code}", "used by two partner files") for code, n in codes.items() if n > 1]
    errors += [DefinitionError("", f"reward {code}", "defined by two partners") for code, n in rewards.items() if n > 1]
    return partners


def _read(root: Path, relative: Path, type_: type[T], errors: list[DefinitionError]) -> T | None:
    name = str(relative)
    try:
        data = (root / relative).read_bytes()
    except OSError as exc:
        errors.append(DefinitionError(name, "", f"cannot read: {exc.strerror}"))
        return None
    try:
        return validation.decode(data, type_, msgspec.toml.decode)
    except validation.InvalidInput as exc:
        errors += [DefinitionError(name, e.field, e.reason) for e in exc.errors]
    except validation.MalformedInput as exc:
        errors.append(DefinitionError(name, "", f"not valid TOML: {exc}"))
    return None


def _check_catalogue(d: Definitions) -> list[DefinitionError]:
    factors_file, types_file = str(FACTORS_FILE), str(ACTION_TYPES_FILE)
    errors = [DefinitionError(factors_file, field, reason) for field, reason in _factor_problems(d)]
    codes = Counter(a.code for a in d.action_types)
    for i, a in enumerate(d.action_types):
        where = f"action_type[{i}]"
        if codes[a.code] > 1:
            errors.append(DefinitionError(types_file, f"{where}.code", f"{a.code} is defined twice"))
        errors += [
            DefinitionError(types_file, f"{where}.{field}", reason)
            for field, reason in [*_quantity_problems(a), *_factor_ref_problems(a, d)]
        ]
    return errors


def _factor_problems(d: Definitions) -> list[tuple[str, str]]:
    versions = Counter((f.code, f.version) for f in d.factors)
    problems = [
        (f"factor[{i}].version", f"{f.code} version {f.version} is defined twice")
        for i, f in enumerate(d.factors)
        if versions[(f.code, f.version)] > 1
    ]
    problems += [
        (f"factor[{i}].uncertainty", "must satisfy low <= value <= high")
        for i, f in enumerate(d.factors)
        if not f.uncertainty.low <= f.value <= f.uncertainty.high
    ]
    return problems


def _quantity_problems(a: ActionType) -> list[tuple[str, str]]:
    """An action type's limits in order, and its texts in every required language."""
    problems = []
    if not a.min_quantity <= a.max_quantity <= a.max_per_day:
        problems.append(("max_quantity", "must satisfy min_quantity <= max_quantity <= max_per_day"))
    if a.plausible_per_day is not None and not a.min_quantity <= a.plausible_per_day <= a.max_per_day:
        problems.append(("plausible_per_day", "must satisfy min_quantity <= plausible_per_day <= max_per_day"))
    for key in ("title", "description"):
        missing = [lang for lang in REQUIRED_LANGUAGES if lang not in getattr(a, key)]
        if missing:
            problems.append((key, f"missing language: {', '.join(missing)}"))
    return problems


def _factor_ref_problems(a: ActionType, d: Definitions) -> list[tuple[str, str]]:
    """An action type's factors exist, are per its unit, and the option emits less than the baseline."""
    baseline = d.factor_in_force(a.baseline_factor)
    option = d.factor_in_force(a.option_factor) if a.option_factor else None
    problems = []
    if baseline is None:
        problems.append(("baseline_factor", f"no factor with code {a.baseline_factor}"))
    if a.option_factor and option is None:
        problems.append(("option_factor", f"no factor with code {a.option_factor}"))
    for key, factor in (("baseline_factor", baseline), ("option_factor", option)):
        if factor is not None and factor.per != a.unit:
            problems.append((key, f"factor is per {factor.per} but the action unit is {a.unit}"))
    if baseline is not None and option is not None and baseline.value <= option.value:
        problems.append(("option_factor", "must emit less than the baseline factor"))
    return problems


def _check_city(file: str, city: City, d: Definitions) -> list[DefinitionError]:
    errors = []
    folder = Path(file).parent.name
    if city.code != folder:
        errors.append(DefinitionError(file, "code", f"must equal the folder name {folder!r}"))
    try:
        zoneinfo.ZoneInfo(city.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        errors.append(DefinitionError(file, "timezone", f"unknown IANA time zone {city.timezone!r}"))
    if "en" not in city.name or city.languages[0] not in city.name:
        errors.append(DefinitionError(file, "name", "needs the default language and en"))
    known = {a.code for a in d.action_types}
    for i, code in enumerate(city.action_types):
        if code != "*" and code not in known:
            errors.append(DefinitionError(file, f"action_types[{i}]", f"no action type with code {code}"))
    district_codes = Counter(x.code for x in city.district)
    for i, district in enumerate(city.district):
        if district_codes[district.code] > 1:
            errors.append(DefinitionError(file, f"district[{i}].code", f"{district.code} is defined twice"))
    if city.climate_target and city.climate_target.target_year <= city.climate_target.baseline_year:
        errors.append(DefinitionError(file, "climate_target.target_year", "must be after baseline_year"))
    return errors
