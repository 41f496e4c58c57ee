"""The public catalogue: cities and the actions each offers, localised."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.factories import assert_problem


async def test_the_pilot_cities_are_listed_with_districts(client: AsyncTestClient[Any]) -> None:
    cities = {c["code"]: c for c in (await client.get("/v1/cities")).json()}

    assert {"kranj", "ljubljana", "velenje"} <= set(cities)
    assert cities["kranj"]["time_zone"] == "Europe/Ljubljana"
    assert cities["kranj"]["languages"] == ["sl", "en"]
    assert len(cities["ljubljana"]["districts"]) == 17
    assert cities["kranj"]["climate_target"]["reduction_t_co2e"] == 113263


async def test_the_city_list_answers_in_the_negotiated_language_the_same_on_every_request(
    client: AsyncTestClient[Any],
) -> None:
    slovene = [await client.get("/v1/cities", headers={"Accept-Language": "sl"}) for _ in range(2)]
    english = await client.get("/v1/cities", headers={"Accept-Language": "de, en;q=0.5"})

    assert [r.headers["content-language"] for r in slovene] == ["sl", "sl"]
    assert english.headers["content-language"] == "en"
    assert slovene[0].content == slovene[1].content
    assert slovene[0].headers["content-type"].startswith("application/json")
    assert slovene[0].headers["cache-control"] == "public, max-age=60"
    assert {c["code"] for c in english.json()} == {c["code"] for c in slovene[0].json()}


async def test_action_types_follow_accept_language(client: AsyncTestClient[Any]) -> None:
    slovene = await client.get("/v1/cities/kranj/action-types", headers={"Accept-Language": "sl-SI, en;q=0.5"})
    english = await client.get("/v1/cities/kranj/action-types", headers={"Accept-Language": "en"})
    german = await client.get("/v1/cities/kranj/action-types", headers={"Accept-Language": "de"})

    assert slovene.headers["content-language"] == "sl"
    by_code_sl = {t["code"]: t for t in slovene.json()}
    by_code_en = {t["code"]: t for t in english.json()}
    assert by_code_sl["cycle-instead-of-car"]["title"] != by_code_en["cycle-instead-of-car"]["title"]
    assert german.headers["content-language"] == "en"
    assert german.json() == english.json()


async def test_every_action_type_shows_its_factors_and_sources(client: AsyncTestClient[Any]) -> None:
    types = (await client.get("/v1/cities/ljubljana/action-types")).json()

    assert len(types) >= 15
    assert {t["category"] for t in types} == {"mobility", "energy", "food", "consumption", "waste"}
    for t in types:
        baseline, option = t["baseline_factor"], t["option_factor"]
        assert baseline["per"] == t["unit"]
        assert baseline["sources"] and all(s["url"].startswith("http") for s in baseline["sources"])
        assert baseline["uncertainty_low"] <= baseline["value"] <= baseline["uncertainty_high"]
        saving = baseline["value"] - (option["value"] if option else 0)
        assert abs(t["saving_per_unit_kg"] - saving) < 1e-6
        assert saving > 0
        assert 0 < t["min_quantity"] <= t["max_quantity"] <= t["max_per_day"]


async def test_an_unknown_city_is_a_404_problem(client: AsyncTestClient[Any]) -> None:
    assert_problem(await client.get("/v1/cities/atlantis/action-types"), 404, "not-found", "city")
