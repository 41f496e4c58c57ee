"""A property-based fuzzer (schemathesis) against the served API document finds nothing.

For every operation it sends requests generated from the document, valid and
invalid ones, as a registered resident and as a coordinator, over real HTTP,
and checks every answer: never a server error, the status code documented,
the content type documented, the body valid against its documented schema,
the documented headers present, and a request that breaks the schema refused.

The number of examples is bounded so the run takes well under a minute.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import settings_for_tests, token_for
from upscale_api.app import create_app
from upscale_api.auth import grant_role
from upscale_api.db import Pool
from upscale_api.openapi import complete

# A deeper run: UPSCALE_FUZZ_EXAMPLES=200 python3 run.py test tests/plumbing/test_fuzz.py
EXAMPLES_PER_OPERATION = int(os.environ.get("UPSCALE_FUZZ_EXAMPLES", "15"))

# The document the server serves is built from the app alone (no database), so the
# operations are known when pytest collects; test_the_fuzzed_document_is_the_served_one
# checks it is the one the server answers.
_app = create_app(settings_for_tests(), database_url="postgresql://unused/unused")
DOCUMENT = complete(_app, _app.openapi_schema.to_schema())
schema = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=SchemathesisConfig.from_dict(
        {
            "generation": {"mode": "all", "max-examples": EXAMPLES_PER_OPERATION},
            "phases": {"stateful": {"enabled": False}},
        }
    ),
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Every action of an offline batch is answered on its own: a batch whose actions break
# their schema is answered 200 with those actions rejected, by design.
ANSWERED_ONE_BY_ONE = {("POST", "/v1/me/actions/batch")}

fuzz = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def resident_token(live_server: str) -> str:
    """A registered resident of Kranj."""
    token = token_for(f"fuzz-resident-{uuid.uuid4().hex}")
    assert httpx.put(f"{live_server}/v1/me", json={"city": "kranj"}, headers=bearer(token)).status_code == 201
    return token


@pytest.fixture(scope="session")
async def coordinator_token(pool: Pool) -> str:
    """A coordinator of Kranj."""
    uid = f"fuzz-coordinator-{uuid.uuid4().hex}"
    await grant_role(pool, uid, "coordinator", "kranj", granted_by="test")
    return token_for(uid)


def call_and_validate(case: Any, base_url: str, token: str) -> None:
    checks = CHECKS
    if (case.method.upper(), case.path) in ANSWERED_ONE_BY_ONE:
        checks = [check for check in CHECKS if check is not negative_data_rejection]
    case.call_and_validate(base_url=base_url, headers=bearer(token), checks=checks)


def test_the_fuzzed_document_is_the_served_one(live_server: str) -> None:
    assert httpx.get(f"{live_server}/schema/openapi.json").json() == DOCUMENT


@schema.parametrize()
@fuzz
def test_a_resident_finds_nothing(case: Any, live_server: str, resident_token: str) -> None:
    call_and_validate(case, live_server, resident_token)


@schema.include(path_regex="^/v1/admin/").parametrize()
@fuzz
def test_a_coordinator_finds_nothing(case: Any, live_server: str, coordinator_token: str) -> None:
    call_and_validate(case, live_server, coordinator_token)
