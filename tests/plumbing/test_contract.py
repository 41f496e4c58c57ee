"""The OpenAPI document describes the API it serves, and a client generated from it works.

The document served at ``/schema/openapi.json`` is checked for what a client
needs (every error as problem+json with one schema, every success code, a
description everywhere, examples valid against their schemas, constraints as
the server checks them). Then a Python client is generated from it with
openapi-python-client and runs a mobile app's whole flow against the app served
over real HTTP, with the client's typed models only.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import jsonschema_rs
import pytest

from tests.conftest import MakeCampaign, Score
from tests.factories import token_for
from upscale_api.campaigns.structs import Campaign
from upscale_api.errors import MEDIA_TYPE

Document = dict[str, Any]
PACKAGE = "upscale_client"
METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="session")
def document(live_server: str) -> Document:
    response = httpx.get(f"{live_server}/schema/openapi.json")
    assert response.status_code == 200
    served: Document = response.json()
    return served


def operations(document: Document) -> Iterator[tuple[str, Document]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def validator(document: Document, schema: Document) -> Any:
    return jsonschema_rs.Draft202012Validator(schema | {"components": document["components"]})


# --- The document ------------------------------------------------------------------


def test_every_error_is_a_problem_with_the_one_problem_schema(document: Document) -> None:
    problem = document["components"]["schemas"]["ProblemDetails"]
    assert set(problem["properties"]) == {"type", "title", "status", "detail", "instance", "errors", "request_id"}
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    for where, operation in operations(document):
        errors = {status: r for status, r in operation["responses"].items() if int(status) >= 400}
        assert {"429", "503"} <= set(errors), where
        for status, response in errors.items():
            assert list(response["content"]) == [MEDIA_TYPE], (where, status)
            assert response["content"][MEDIA_TYPE]["schema"] == {"$ref": "#/components/schemas/ProblemDetails"}
            assert "/problems/" in response["description"], (where, status)
        assert "Retry-After" in operation["responses"]["429"]["headers"], where
    assert "status_code" not in json.dumps(document), "Litestar's default 400 schema is documented"


def test_errors_follow_from_what_a_route_declares(document: Document) -> None:
    paths = document["paths"]

    def statuses(method: str, path: str) -> set[str]:
        return set(paths[path][method]["responses"])

    assert statuses("get", "/v1/cities") == {"200", "429", "503"}
    assert statuses("get", "/v1/me") == {"200", "401", "404", "429", "503"}
    assert statuses("post", "/v1/me/actions") == {"200", "201", "400", "401", "404", "409", "413", "422", "429", "503"}
    assert statuses("delete", "/v1/me/actions/{action_id}") == {"204", "401", "404", "409", "422", "429", "503"}
    assert {"401", "403"} <= statuses("get", "/v1/admin/campaigns")
    assert "403" not in statuses("get", "/v1/me/impact")
    not_found = paths["/v1/me/impact"]["get"]["responses"]["404"]
    assert "/problems/not-registered" in not_found["description"]
    assert "not-registered" in not_found["content"][MEDIA_TYPE]["examples"]


def test_routes_with_two_success_codes_document_both(document: Document) -> None:
    for method, path, codes in [
        ("put", "/v1/me", {"200", "201"}),
        ("put", "/v1/me/devices/{installation_id}", {"200", "201"}),
        ("put", "/v1/admin/campaigns/{code}", {"200", "201"}),
        ("post", "/v1/me/actions", {"200", "201"}),
        ("post", "/v1/campaigns/{code}/enrolment", {"200", "201"}),
    ]:
        responses = document["paths"][path][method]["responses"]
        assert {s for s in responses if s < "300"} == codes, (method, path)
        first, second = (responses[code] for code in sorted(codes))
        assert first["content"] == second["content"]
        assert first["description"] != second["description"]


def test_operation_ids_are_unique_verbs(document: Document) -> None:
    ids = [operation["operationId"] for _, operation in operations(document)]

    assert len(ids) == len(set(ids))
    for operation_id in ids:
        assert re.fullmatch(r"[a-z]+(?:[A-Z][a-z]+)*", operation_id), operation_id
    assert {"logAction", "registerResident", "getLeaderboard", "putCampaign"} <= set(ids)


def test_every_schema_and_property_has_a_description(document: Document) -> None:
    undescribed = []
    for name, schema in document["components"]["schemas"].items():
        if not schema.get("description"):
            undescribed.append(name)
        undescribed += [f"{name}.{p}" for p, s in schema.get("properties", {}).items() if not s.get("description")]
    for where, operation in operations(document):
        undescribed += [f"{where} {p['name']}" for p in operation.get("parameters", []) if not p.get("description")]
        undescribed += [f"{where} {s}" for s, r in operation["responses"].items() if not r.get("description")]

    assert undescribed == []


def test_bodies_that_refuse_unknown_fields_say_so(document: Document) -> None:
    schemas = document["components"]["schemas"]
    for name in ("ActionIn", "ActionBatch", "ResidentIn", "Campaign", "Challenge", "QuantityRule", "DeviceIn"):
        assert schemas[name]["additionalProperties"] is False, name
    assert "additionalProperties" not in schemas["ActionOut"]


def test_constraints_are_the_servers(document: Document) -> None:
    schemas = document["components"]["schemas"]
    leaderboard = document["paths"]["/v1/campaigns/{code}/leaderboard"]["get"]["parameters"]

    assert schemas["ActionIn"]["properties"]["quantity"]["exclusiveMinimum"] == 0
    assert [p["schema"]["enum"] for p in leaderboard if p["name"] == "scope"] == [
        ["individual", "team", "district", "city"]
    ]
    (daily_cap,) = [
        s for s in schemas["NotificationSettingsPatch"]["properties"]["daily_cap"]["anyOf"] if s["type"] == "integer"
    ]
    assert daily_cap == {"type": "integer", "minimum": 0, "maximum": 20}
    assert schemas["Campaign"]["properties"]["cities"]["items"]["pattern"] == "^[a-z0-9][a-z0-9-]*$"
    assert schemas["Campaign"]["properties"]["challenge"]["items"] == {"$ref": "#/components/schemas/Challenge"}
    assert schemas["Challenge"]["properties"]["rule"]["discriminator"]["propertyName"] == "kind"


def test_every_operation_has_valid_examples(document: Document) -> None:
    for where, operation in operations(document):
        media = [operation["requestBody"]["content"]["application/json"]] if "requestBody" in operation else []
        assert all(m.get("examples") for m in media), f"{where}: no request example"
        responses = [m for r in operation["responses"].values() for m in r.get("content", {}).values()]
        assert any(m.get("examples") for m in responses), f"{where}: no response example"
        for m in media + responses:
            check = validator(document, m["schema"])
            for name, found in m.get("examples", {}).items():
                assert check.is_valid(found["value"]), (where, name, list(check.iter_errors(found["value"]))[:1])


# --- A generated client ------------------------------------------------------------


@pytest.fixture(scope="session")
def client_package(document: Document, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The Python client openapi-python-client generates from the served document, imported."""
    where = tmp_path_factory.mktemp("client")
    (where / "openapi.json").write_text(json.dumps(document))
    (where / "config.json").write_text(json.dumps({"post_hooks": []}))  # no formatter run: the code is thrown away
    generator = Path(sys.executable).parent / "openapi-python-client"
    options = ["--path", "openapi.json", "--output-path", PACKAGE, "--meta", "none", "--config", "config.json"]
    result = subprocess.run(
        [generator, "generate", *options],
        cwd=where,
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


class Api:
    """The generated client's operations and models, by their names."""

    def __init__(self, package: ModuleType, base_url: str, uid: str) -> None:
        self.models = importlib.import_module(f"{PACKAGE}.models")
        self.client = package.AuthenticatedClient(base_url=base_url, token=token_for(uid))
        self._package = package.__name__

    def __call__(self, tag: str, operation_id: str, **kwargs: Any) -> Any:
        module_name = re.sub(r"(?<!^)(?=[A-Z])", "_", operation_id).lower()
        operation = importlib.import_module(f"{self._package}.api.{tag}.{module_name}")
        return operation.sync_detailed(client=self.client, **kwargs)


async def test_a_generated_client_runs_the_apps_flow(
    client_package: ModuleType, live_server: str, make_campaign: MakeCampaign, score: Score
) -> None:
    campaign: Campaign = await make_campaign()
    api = Api(client_package, live_server, f"contract-{uuid.uuid4().hex}")
    m = api.models

    registered = api(
        "residents", "registerResident", body=m.ResidentIn(city="kranj", locale=m.ResidentInLocaleType0.SL)
    )
    assert registered.status_code == 201
    assert registered.parsed.city == "kranj" and registered.parsed.locale == "sl"
    updated = api("residents", "registerResident", body=m.ResidentIn(city="kranj", display_name="Maja"))
    assert updated.status_code == 200 and updated.parsed.display_name == "Maja"

    catalogue = api("catalogue", "listActionTypes", city="kranj").parsed
    cycling = next(t for t in catalogue if t.code == "cycle-instead-of-car")
    assert cycling.category == m.ActionTypeOutCategory.MOBILITY
    assert cycling.unit == "km" and cycling.baseline_factor.value > 0

    action = m.ActionIn(
        id=uuid.uuid4(), action_type=cycling.code, quantity=7.5, performed_at=datetime.now(UTC).replace(microsecond=0)
    )
    logged = api("actions", "logAction", body=action)
    assert logged.status_code == 201
    assert isinstance(logged.parsed, m.ActionOut) and logged.parsed.co2e_kg > 0
    replayed = api("actions", "logAction", body=action)
    assert replayed.status_code == 200
    assert replayed.parsed.to_dict() == logged.parsed.to_dict()

    batch = api(
        "actions",
        "logActionBatch",
        body=m.ActionBatch(
            actions=[
                m.ActionIn(id=uuid.uuid4(), action_type=cycling.code, quantity=3, performed_at=datetime.now(UTC)),
                action,
                m.ActionIn(id=uuid.uuid4(), action_type=cycling.code, quantity=1000, performed_at=datetime.now(UTC)),
            ]
        ),
    ).parsed
    assert (batch.stored, batch.duplicates, batch.rejected) == (1, 1, 1)
    statuses = [r.status for r in batch.results]
    assert statuses == [
        m.BatchItemResultStatus.STORED,
        m.BatchItemResultStatus.DUPLICATE,
        m.BatchItemResultStatus.REJECTED,
    ]
    assert batch.results[2].errors[0].field == "quantity"

    seen, cursor = [], None
    while True:
        page = api("actions", "listActions", limit=1, cursor=cursor).parsed
        seen += [item.id for item in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == 2 and set(seen) == {action.id, batch.results[0].id}

    await score()
    impact = api("impact", "getImpact").parsed
    assert impact.actions == 2 and impact.co2e_kg > 0 and impact.computed_at is not None

    campaigns = api("campaigns", "listCampaigns").parsed
    assert campaign.code in [c.code for c in campaigns]
    detail = api("campaigns", "getCampaign", code=campaign.code).parsed
    assert {t.code for t in detail.teams} == {"school", "office"}
    question = detail.questions[0].code

    answers = m.EnrolmentInBaseline()
    answers[question] = 120
    enrolled = api("campaigns", "enrol", code=campaign.code, body=m.EnrolmentIn(team="school", baseline=answers))
    assert enrolled.status_code == 201 and enrolled.parsed.team == "school"
    answers[question] = 80
    changed = api(
        "campaigns",
        "enrol",
        code=campaign.code,
        body=m.EnrolmentIn(team="school", baseline=answers),
    )
    assert changed.status_code == 200 and changed.parsed.baseline[question] == 80

    api(
        "actions",
        "logAction",
        body=m.ActionIn(id=uuid.uuid4(), action_type=cycling.code, quantity=4, performed_at=datetime.now(UTC)),
    )
    await score()
    progress = api("campaigns", "getCampaignProgress", code=campaign.code).parsed
    assert progress.score.points > 0 and progress.score.actions >= 1
    assert {c.code for c in progress.challenges} == {c.code for c in campaign.challenge}
    board = api("campaigns", "getLeaderboard", code=campaign.code, scope=m.GetLeaderboardScope.TEAM).parsed
    assert board.scope == m.LeaderboardOutScope.TEAM
    assert board.own is not None and board.own.you and board.own.name == "OŠ Test"

    installation = f"fid-{uuid.uuid4().hex[:16]}"
    device = m.DeviceIn(platform=m.DeviceInPlatform.ANDROID, app_version="1.4.2")
    first = api("notifications", "registerDevice", installation_id=installation, body=device)
    again = api("notifications", "registerDevice", installation_id=installation, body=device)
    assert (first.status_code, again.status_code) == (201, 200)
    assert [d.installation_id for d in api("notifications", "listDevices").parsed] == [installation]

    settings = api("notifications", "getNotificationSettings").parsed
    patch = m.NotificationSettingsPatch(daily_cap=settings.daily_cap + 1)
    changed_settings = api("notifications", "updateNotificationSettings", body=patch).parsed
    assert changed_settings.daily_cap == settings.daily_cap + 1
    inbox = api("notifications", "listNotifications", limit=5).parsed
    assert inbox.unread == len([n for n in inbox.items if n.read_at is None])

    refused = api(
        "actions",
        "logAction",
        body=m.ActionIn(id=uuid.uuid4(), action_type=cycling.code, quantity=1000, performed_at=datetime.now(UTC)),
    )
    assert refused.status_code == 422
    assert isinstance(refused.parsed, m.ProblemDetails)
    assert refused.parsed.type_ == "/problems/validation-error"
    assert [e.field for e in refused.parsed.errors] == ["quantity"]
