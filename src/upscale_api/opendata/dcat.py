"""DCAT-AP metadata of the open aggregates (JSON-LD), for city, national and European data portals
to harvest: a dataset per city with its JSON and CSV distributions, and a catalogue of them all.

The licence, update frequency, theme, file types and languages name the EU
vocabularies (publications.europa.eu authority tables) that DCAT-AP expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from upscale_api.catalogue.service import City
from upscale_api.opendata.structs import (
    Agent,
    Catalogue,
    Contact,
    Dataset,
    Distribution,
    Period,
    Ref,
    Text,
)

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
}
EU = "http://publications.europa.eu/resource/authority"
LICENCE = Ref(f"{EU}/licence/CC_BY_4_0")
WEEKLY = Ref(f"{EU}/frequency/WEEKLY")
ENVIRONMENT = Ref(f"{EU}/data-theme/ENVI")
LANGUAGES = {"sl": "SLV", "en": "ENG", "de": "DEU", "it": "ITA", "hr": "HRV", "hu": "HUN"}


@dataclass(frozen=True)
class Coverage:
    """What a city's publication covers (all None before its first)."""

    modified_at: datetime | None = None
    first_week: date | None = None
    """The Monday of its first week."""
    last_week: date | None = None


def _texts(by_language: dict[str, str]) -> list[Text]:
    return [Text(language, value) for language, value in by_language.items()]


def _names(city: City) -> dict[str, str]:
    return {lang: city.name.get(lang) or next(iter(city.name.values())) for lang in ("sl", "en")}


def dataset(city: City, published: Coverage, base: str, contact: str | None, *, context: bool) -> Dataset:
    """City ``city``'s dataset; ``base`` is the API's public URL; ``context`` adds the JSON-LD
    context (a document of its own; inside a catalogue the catalogue carries it)."""
    names = _names(city)
    stats = f"{base}/v1/open/cities/{city.code}/stats"
    about = f"{base}/v1/open/cities/{city.code}/dataset"

    def distribution(suffix: str, media: str, file_type: str, title: dict[str, str]) -> Distribution:
        return Distribution(
            id=f"{about}#{file_type.lower()}",
            type="dcat:Distribution",
            title=_texts(title),
            access_url=Ref(stats + suffix),
            download_url=Ref(stats + suffix),
            media_type=Ref(f"https://www.iana.org/assignments/media-types/{media}"),
            format=Ref(f"{EU}/file-type/{file_type}"),
            licence=LICENCE,
            modified=published.modified_at,
        )

    temporal = None
    if published.first_week is not None and published.last_week is not None:
        temporal = Period("dct:PeriodOfTime", published.first_week, published.last_week + timedelta(days=6))
    return Dataset(
        context=CONTEXT if context else None,
        id=about,
        type="dcat:Dataset",
        identifier=f"upscale:{city.code}:sustainable-actions-weekly",
        title=_texts(
            {
                "sl": f"Trajnostna dejanja prebivalcev: {names['sl']}, po tednih",
                "en": f"Residents' sustainable actions: {names['en']}, weekly",
            }
        ),
        description=_texts(
            {
                "sl": "Udeleženci, dejanja in prihranjeni kg CO2e po tednih ISO, četrtnih skupnostih in "
                "kategorijah dejanj ter po kampanjah, iz aplikacije UP-SCALE. Podatki o manj kot 10 "
                "prebivalcih niso objavljeni, tudi kjer bi jih bilo mogoče izračunati z odštevanjem.",
                "en": "Participants, actions and kg CO2e avoided per ISO week, by district and action "
                "category and per campaign, from the residents who log sustainable actions in the UP-SCALE "
                "app. Figures about fewer than 10 residents are withheld, also where subtraction would "
                "reveal them.",
            }
        ),
        publisher=Agent("foaf:Agent", _texts(names)),
        licence=LICENCE,
        rights=_texts({"en": f"CC BY 4.0: credit \u201c{names['en']}, UP-SCALE\u201d"}),
        frequency=WEEKLY,
        spatial=_texts(names),
        keywords=[
            *_texts({"sl": "podnebje", "en": "climate"}),
            *_texts({"sl": "trajnostna mobilnost", "en": "sustainable mobility"}),
            *_texts({"sl": "CO2e", "en": "CO2e"}),
        ],
        theme=ENVIRONMENT,
        language=[Ref(f"{EU}/language/{LANGUAGES[lang]}") for lang in city.languages if lang in LANGUAGES],
        conforms_to=Ref(f"{base}/schema/openapi.json#/components/schemas/CityStats"),
        distributions=[
            distribution("", "application/json", "JSON", {"sl": "JSON", "en": "JSON"}),
            distribution(".csv", "text/csv", "CSV", {"sl": "CSV", "en": "CSV"}),
        ],
        temporal=temporal,
        modified=published.modified_at,
        contact=Contact("vcard:Kind", Ref(f"mailto:{contact}")) if contact else None,
    )


def catalogue(datasets: list[Dataset], base: str) -> Catalogue:
    return Catalogue(
        context=CONTEXT,
        id=f"{base}/v1/open/catalog",
        type="dcat:Catalog",
        title=_texts({"sl": "UP-SCALE: odprti podatki mest", "en": "UP-SCALE: the cities' open data"}),
        description=_texts(
            {
                "sl": "Tedenski povzetki trajnostnih dejanj prebivalcev vsakega mesta.",
                "en": "Each city's weekly aggregates of its residents' sustainable actions.",
            }
        ),
        publisher=Agent("foaf:Agent", _texts({"sl": "UP-SCALE", "en": "UP-SCALE"})),
        datasets=datasets,
    )
