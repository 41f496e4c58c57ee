"""``/v1/open``: a city's open aggregates over HTTP, as a harvester and an open-data officer use them.

The figures are published by the worker's job (``publish_city``), run here with a
clock a fortnight ahead so that this week's actions are in a final week.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import MakeResident, Score
from tests.factories import TODAY, assert_problem, settings_for_tests
from tests.opendata.test_suppression import recovered
from upscale_api import db
from upscale_api.errors import Problem
from upscale_api.opendata.service import Policy, publish_city, published
from upscale_api.opendata.structs import CityStats

LATER = datetime.now(UTC) + timedelta(days=15)


async def _publish(pool: db.Pool, city: str = "kranj", now: datetime = LATER) -> bool:
    row = await pool.fetchrow("SELECT id, code, name, time_zone, languages FROM cities WHERE code = $1", city)
    return await publish_city(pool, row, Policy.from_settings(settings_for_tests()), now)


@pytest.fixture
async def kranj_published(make_resident: MakeResident, pool: db.Pool, score: Score) -> None:
    """Twelve residents of Golnik cycled this week, three of Huje saved food from the bin."""
    for district, action_type, count in (("golnik", "cycle-instead-of-car", 12), ("huje", "food-saved-from-bin", 3)):
        for _ in range(count):
            resident = await make_resident("kranj", district=district)
            logged = await resident.log(action_type, 1.0)
            assert logged.status_code == 201, logged.text
    await score()
    await _publish(pool)


async def test_no_cell_under_ten_residents_is_served_nor_recoverable(
    client: AsyncTestClient[Any], kranj_published: None
) -> None:
    response = await client.get("/v1/open/cities/kranj/stats")

    assert response.status_code == 200
    stats = msgspec.json.decode(response.content, type=CityStats, strict=True)
    assert stats.licence == "CC-BY-4.0" and stats.min_participants == 10
    iso = TODAY.isocalendar()
    this_week = [r for r in stats.rows if r.week == f"{iso.year}-W{iso.week:02d}" and r.campaign is None]
    golnik = next(r for r in this_week if (r.district, r.category) == ("golnik", "mobility"))
    # Twelve are enough to be shown (unless withheld as the partner of a small cell of other residents).
    assert golnik.suppressed == "complementary" or (golnik.participants or 0) >= 12
    huje = next(r for r in this_week if (r.district, r.category) == ("huje", "waste"))
    assert huje.participants is None and huje.suppressed == "small"
    assert all(r.participants is None or r.participants == 0 or r.participants >= 10 for r in stats.rows)
    for week in {r.week for r in stats.rows}:
        rows = [r for r in stats.rows if r.week == week]
        small = {(r.campaign, r.district, r.category) for r in rows if r.suppressed == "small"}
        assert recovered(rows) & small == set()


async def test_a_harvester_polls_with_the_etag_and_gets_304_until_a_figure_changes(
    client: AsyncTestClient[Any], kranj_published: None, make_resident: MakeResident, pool: db.Pool, score: Score
) -> None:
    first = await client.get("/v1/open/cities/kranj/stats")
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("public")

    unchanged = await client.get("/v1/open/cities/kranj/stats", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b"" and unchanged.headers["etag"] == etag
    assert await _publish(pool) is False  # the job again: same figures, same ETag
    assert (await client.get("/v1/open/cities/kranj/stats", headers={"If-None-Match": f"W/{etag}"})).status_code == 304

    for _ in range(10):
        resident = await make_resident("kranj", district="jost")
        assert (await resident.log("walk-instead-of-car", 2.0)).status_code == 201
    await score()
    assert await _publish(pool, now=LATER + timedelta(hours=1)) is True

    moved = await client.get("/v1/open/cities/kranj/stats", headers={"If-None-Match": etag})
    assert moved.status_code == 200
    assert moved.headers["etag"] != etag
    assert msgspec.json.decode(moved.content)["modified"] != msgspec.json.decode(first.content)["modified"]


async def test_a_client_that_accepts_gzip_gets_the_body_compressed(
    client: AsyncTestClient[Any], kranj_published: None
) -> None:
    plain = await client.get("/v1/open/cities/kranj/stats", headers={"Accept-Encoding": "identity"})
    packed = await client.get("/v1/open/cities/kranj/stats", headers={"Accept-Encoding": "br;q=1, gzip;q=0.8"})

    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == plain.headers["vary"] == "Accept-Encoding"
    assert packed.content == plain.content  # decompressed by the client
    assert int(packed.headers["content-length"]) < len(plain.content) / 5
    assert packed.headers["etag"] != plain.headers["etag"]
    for etag in (plain.headers["etag"], packed.headers["etag"]):  # either copy is current
        again = await client.get("/v1/open/cities/kranj/stats", headers={"If-None-Match": etag})
        assert again.status_code == 304


async def test_the_csv_download_has_the_same_rows_as_the_json(
    client: AsyncTestClient[Any], kranj_published: None
) -> None:
    as_json = msgspec.json.decode((await client.get("/v1/open/cities/kranj/stats")).content, type=CityStats)
    response = await client.get("/v1/open/cities/kranj/stats.csv")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="kranj-open-stats.csv"'
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert len(table) == len(as_json.rows)
    for line, row in zip(table, as_json.rows, strict=True):
        assert line["week"] == row.week and line["district"] == row.district and line["category"] == row.category
        assert line["campaign"] == (row.campaign or "")
        assert line["participants"] == ("" if row.participants is None else str(row.participants))
        assert line["co2e_kg"] == ("" if row.co2e_kg is None else f"{row.co2e_kg:.3f}")
        assert line["suppressed"] == (row.suppressed or "")
    etag = response.headers["etag"]
    assert "-csv" in etag
    again = await client.get("/v1/open/cities/kranj/stats.csv", headers={"If-None-Match": etag})
    assert again.status_code == 304


async def test_the_dcat_metadata_describes_the_dataset_for_a_portal(
    client: AsyncTestClient[Any], kranj_published: None
) -> None:
    stats = msgspec.json.decode((await client.get("/v1/open/cities/kranj/stats")).content, type=CityStats)
    response = await client.get("/v1/open/cities/kranj/dataset")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    dataset = response.json()
    assert dataset["@type"] == "dcat:Dataset" and "dcat" in dataset["@context"]
    assert dataset["dct:license"]["@id"].endswith("/licence/CC_BY_4_0")
    assert dataset["dct:accrualPeriodicity"]["@id"].endswith("/frequency/WEEKLY")
    assert {t["@language"] for t in dataset["dct:title"]} == {"sl", "en"}
    assert any("Kranj" in t["@value"] for t in dataset["dct:publisher"]["foaf:name"])
    first = next(r for r in stats.rows if r.week == stats.first_week)
    assert dataset["dct:temporal"]["dcat:startDate"] == first.week_start.isoformat()
    formats = {
        d["dct:format"]["@id"].rsplit("/", 1)[-1]: d["dcat:downloadURL"]["@id"] for d in dataset["dcat:distribution"]
    }
    assert set(formats) == {"JSON", "CSV"}
    for url in formats.values():  # every link resolves
        assert (await client.get(url.removeprefix("http://testserver.local"))).status_code == 200
    catalog = (await client.get("/v1/open/catalog")).json()
    assert catalog["@type"] == "dcat:Catalog"
    assert dataset["@id"] in [d["@id"] for d in catalog["dcat:dataset"]]


async def test_an_unknown_city_is_not_found(client: AsyncTestClient[Any]) -> None:
    assert_problem(await client.get("/v1/open/cities/atlantis/stats"), 404, "not-found")
    assert_problem(await client.get("/v1/open/cities/atlantis/dataset"), 404, "not-found")


async def test_before_the_first_publication_the_figures_are_not_found(fresh_pool: db.Pool) -> None:
    await fresh_pool.execute(
        "INSERT INTO cities (code, country, name, time_zone, languages) VALUES ($1, 'SI', '{}', 'UTC', '{en}')",
        f"c-{uuid.uuid4().hex[:6]}",
    )
    city_id = await fresh_pool.fetchval("SELECT max(id) FROM cities")

    with pytest.raises(Problem) as refused:
        await published(fresh_pool, city_id, "new", "json", None)

    assert refused.value.status == 404 and refused.value.kind == "not-found"
