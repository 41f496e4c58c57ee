"""Health endpoints and the API document."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.factories import assert_problem


async def test_live_and_ready(client: AsyncTestClient[Any]) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    assert (await client.get("/health/ready")).json() == {"status": "ready"}


async def test_the_openapi_document_describes_every_body(client: AsyncTestClient[Any]) -> None:
    schema = (await client.get("/schema/openapi.json")).json()

    assert schema["openapi"].startswith("3.1")
    operations = [op for item in schema["paths"].values() for op in item.values() if isinstance(op, dict)]
    bodies = [op["requestBody"] for op in operations if "requestBody" in op]
    assert len(bodies) >= 6
    for body in bodies:
        assert "$ref" in body["content"]["application/json"]["schema"]
    assert {"ActionIn", "ActionOut", "ActionBatch", "BatchResult", "ResidentIn", "ImpactOut"} <= set(
        schema["components"]["schemas"]
    )
    assert schema["components"]["securitySchemes"]["firebase"]["scheme"] == "bearer"


async def test_the_interactive_docs_page_is_served(client: AsyncTestClient[Any]) -> None:
    page = await client.get("/schema")

    assert page.status_code == 200
    assert "swagger-ui" in page.text


async def test_unknown_paths_and_methods_are_problems(client: AsyncTestClient[Any]) -> None:
    assert_problem(await client.get("/v1/nothing-here"), 404, "not-found")
    assert_problem(await client.patch("/v1/cities"), 405, "method-not-allowed")
