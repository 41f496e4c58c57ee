"""The formats of the definition files under ``campaigns/`` (reviewed like code).

``campaigns/catalogue/emission-factors.toml``  ``[[factor]]`` entries
``campaigns/catalogue/action-types.toml``      ``[[action_type]]`` entries
``campaigns/<city>/city.toml``                 one city (tenant) with its districts
``campaigns/<city>/<campaign>.toml``           a campaign (see :mod:`upscale_api.campaigns.structs`)
``campaigns/<city>/studies/<study>.toml``      a study (see :mod:`upscale_api.research.structs`)
``campaigns/surveys/<instrument>.toml``        a survey instrument, every version
``campaigns/consents/<purpose>.toml``          a consent document, every version (:mod:`upscale_api.consents.structs`)
``campaigns/<city>/rewards/<partner>.toml``    a partner and its rewards (see :mod:`upscale_api.rewards.structs`)

Unknown keys are errors, so a typo never silently drops a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Literal

import msgspec

from upscale_api.catalogue.structs import Category, Code, Localized, Text

if TYPE_CHECKING:
    from upscale_api.campaigns.structs import Campaign
    from upscale_api.consents.structs import ConsentFile
    from upscale_api.research.structs import Study, SurveyFile
    from upscale_api.rewards.structs import PartnerDefinition

Unit = Literal["km", "meal", "minute", "load", "item", "kg", "kwh", "day"]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Positive = Annotated[float, msgspec.Meta(gt=0)]

CITY_FILE = "city.toml"


class _File(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class Source(_File):
    title: Text
    publisher: Text
    edition: Text
    url: Annotated[str, msgspec.Meta(pattern=r"^https?://")]
    licence: Text


class Uncertainty(_File):
    low: NonNegative
    high: NonNegative


class Factor(_File):
    code: Code
    version: Annotated[int, msgspec.Meta(ge=1)]
    title: Text
    value: NonNegative
    """kg CO2e per one unit of ``per``."""
    per: Unit
    baseline: Text
    method: Text
    uncertainty: Uncertainty
    sources: Annotated[list[Source], msgspec.Meta(min_length=1)]


class FactorsFile(_File):
    factor: list[Factor]


class ActionType(_File, kw_only=True):
    code: Code
    category: Category
    unit: Unit
    baseline_factor: Code
    option_factor: Code | None = None
    min_quantity: Positive
    max_quantity: Positive
    max_per_day: Positive
    """Hard limit per resident and local day: logging more is refused."""
    plausible_per_day: Positive | None = None
    """A day total above this is held out of scores until a coordinator accepts it."""
    step: Positive
    title: Localized
    description: Localized


class ActionTypesFile(_File):
    action_type: list[ActionType]


class ClimateTarget(_File):
    baseline_year: Annotated[int, msgspec.Meta(ge=1990, le=2100)]
    target_year: Annotated[int, msgspec.Meta(ge=1990, le=2100)]
    reduction_t_co2e: Positive


class District(_File):
    code: Code
    name: Localized


class City(_File):
    code: Code
    country: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")]
    timezone: Text
    languages: Annotated[list[Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$")]], msgspec.Meta(min_length=1)]
    name: Localized
    action_types: list[str] = msgspec.field(default_factory=lambda: ["*"])
    climate_target: ClimateTarget | None = None
    district: list[District] = msgspec.field(default_factory=list)


@dataclass(frozen=True)
class Definitions:
    """Everything the files define, checked as a whole."""

    factors: list[Factor]
    action_types: list[ActionType]
    cities: list[City]
    campaigns: list[Campaign] = field(default_factory=list)
    consents: list[ConsentFile] = field(default_factory=list)
    surveys: list[SurveyFile] = field(default_factory=list)
    studies: list[tuple[str, Study]] = field(default_factory=list)
    """Each study with the city of its folder."""
    partners: list[tuple[str, PartnerDefinition]] = field(default_factory=list)
    """Each partner with the code of its city (the folder it is in)."""

    def factor_in_force(self, code: str) -> Factor | None:
        versions = [f for f in self.factors if f.code == code]
        return max(versions, key=lambda f: f.version) if versions else None


class DefinitionError(msgspec.Struct, frozen=True):
    """One problem in one file: which file, which field, why."""

    file: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.reason}"
