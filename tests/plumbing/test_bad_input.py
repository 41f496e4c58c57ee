"""No input makes a 5xx: bad input swept over every operation of the served API document.

The operations come from ``GET /schema/openapi.json``, so a route added later is swept
without touching this file. The caller is an admin registered in Kranj: every role guard
lets the request through to the input it carries. Each operation gets:

- every broken body (truncated, trailing bytes, deep nesting, invalid UTF-8, ...): a 400
  ``malformed-body`` problem;
- a NUL in each string of an otherwise plausible body: a 422 naming that field;
- a very long string in each string of the body: no 5xx;
- NUL, overlong, out-of-range and mis-encoded values in each path and query parameter:
  NUL and overlong values are a 422 naming the parameter, an integer id outside 64 bits a
  404 naming it, anything else at least no 5xx;
- ID tokens with unusable claims (a ``firebase`` claim that is a string, a uid with a NUL,
  an expiry of Infinity, ...), on every signed-in operation: a 401.

The sweep runs on a database of its own, so what it happens to store touches no other test.
Each test sends everything and then lists every failure at once. After it, the cases found
by hand, each with what is stored.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import msgspec
import pytest
from litestar import Litestar, post
from litestar.params import JSONBody
from litestar.testing import AsyncTestClient

from tests.conftest import NewDatabase
from tests.factories import (
    CAMPAIGNS,
    PROJECT_ID,
    TIME_ZONES,
    TODAY,
    Resident,
    action,
    assert_problem,
    campaign_definition,
    settings_for_tests,
)
from upscale_api import db, migrations
from upscale_api.app import create_app
from upscale_api.auth import PUBLIC
from upscale_api.body import StrictRequest
from upscale_api.campaigns.store import apply_campaigns
from upscale_api.definitions.files import read_definitions
from upscale_api.definitions.service import apply_definitions
from upscale_api.errors import EXCEPTION_HANDLERS
from upscale_api.roles.service import grant_role

Schema = dict[str, Any]
KeyPath = tuple[str | int, ...]

# Each is a whole request body; the names say what is wrong with it.
BROKEN_BODIES: dict[str, bytes] = {
    "truncated after an unknown field": b'{"zzz":1,"',
    "trailing bytes after a wrong type": b'{"id":[]}xyz',
    "a number and trailing bytes": b"0 x",
    "a key with byte 0xff": b'{"\xff":1}',
    "a value with byte 0xff after an unknown field": b'{"zzz":1,"name":"\xff"}',
    "an encoded surrogate (invalid UTF-8)": b'{"name":"\xed\xa0\x80"}',
    "a lone surrogate escape in a key": b'{"a\\ud800":1}',
    "a lone surrogate escape in a value": b'{"zzz":1,"name":"\\ud800"}',
    "100,000 nested arrays": b"[" * 100_000,
    "100,000 nested arrays after an unknown field": b'{"zzz":' + b"[" * 100_000,
    "100,000 nested objects": b'{"a":' * 100_000,
    "a raw NUL byte": b'{"name":"a\x00b"}',
    "NaN": b'{"zzz":NaN}',
    "empty": b"",
    "only whitespace": b"   ",
    "not JSON at all": b"hello",
}

INT64_MAX = 2**63 - 1


def _cursor(position: object) -> str:
    """A page cursor as the service writes them (URL-safe base64 of JSON), here of a bad position."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


@dataclass(frozen=True)
class BadValue:
    """A parameter value, percent-encoded as it goes into the URL, and what it must get."""

    encoded: str
    expect: Literal["no 5xx", "refused", "no such id"] = "no 5xx"
    """``refused``: a 422 naming the parameter; ``no such id``: a 404 naming it on an integer id."""


BAD_PARAMETER_VALUES: dict[str, BadValue] = {
    "NUL inside": BadValue("ab%00cd", "refused"),
    "NUL alone": BadValue("%00", "refused"),
    "3,000 characters": BadValue("a" * 3000, "refused"),
    "2,000 four-byte characters": BadValue("%F0%9F%9A%B2" * 2000, "refused"),
    "one past the largest 64-bit integer": BadValue(str(INT64_MAX + 1), "no such id"),
    "one below the smallest 64-bit integer": BadValue(str(-(INT64_MAX + 2)), "no such id"),
    "40 digits": BadValue("1" + "0" * 39, "no such id"),
    "the largest 64-bit integer": BadValue(str(INT64_MAX)),
    "zero": BadValue("0"),
    "minus one": BadValue("-1"),
    "a superscript two": BadValue("%C2%B2"),
    "Arabic-Indic digits": BadValue("%D9%A3%D9%A4"),
    "byte 0xff": BadValue("%FF"),
    "an encoded surrogate": BadValue("%ED%A0%80"),
    "a control character": BadValue("a%01b"),
    "a space": BadValue("%20"),
    "empty": BadValue(""),
    "a cursor at year 1": BadValue(_cursor(["0001-01-01T00:00:00+14:00", str(uuid.uuid4())])),
    "a cursor at year 9999": BadValue(_cursor(["9999-12-31T23:59:59-14:00", str(uuid.uuid4())])),
    "a cursor at year 1 with an id": BadValue(_cursor(["0001-01-01T00:00:00+14:00", 1])),
    "a cursor with an id past 64 bits": BadValue(_cursor([datetime.now(UTC).isoformat(), INT64_MAX + 1])),
    "a cursor with a NUL": BadValue(_cursor(["2026-01-01T00:00:00Z", "\u0000"])),
    "a cursor of the wrong shape": BadValue(_cursor({"a": [1, 2]})),
    "a cursor that is not JSON": BadValue(base64.urlsafe_b64encode(b'{"a":').decode()),
    "a cursor that is not base64": BadValue("%25%25%25"),
}


@dataclass(frozen=True)
class Operation:
    """One operation of the API document."""

    method: str
    template: str
    parameters: tuple[Schema, ...]
    body: Schema | None
    signed_in: bool

    def __str__(self) -> str:
        return f"{self.method} {self.template}"

    def named(self, where: str) -> list[Schema]:
        return [p for p in self.parameters if p["in"] == where]

    def url(self, path_values: dict[str, str] | None = None, query: str = "") -> str:
        """The operation's URL with plausible path values unless given (already percent-encoded)."""
        values = {p["name"]: _plausible_path_value(p["schema"]) for p in self.named("path")} | (path_values or {})
        path = re.sub(r"\{([^}]+)\}", lambda m: values[m[1]], self.template)
        return f"{path}?{query}" if query else path


PLAUSIBLE_TEXT = "kranj"
"""A city code, and in the sweep's database a campaign code too."""


def _plausible_path_value(schema: Schema) -> str:
    if _type_of(schema) == "integer":
        return "1"
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    return PLAUSIBLE_TEXT


# --- Fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def swept_url(new_database: NewDatabase) -> str:
    """A database of the sweep's own with a campaign coded ``kranj`` (the plausible value of
    every text path parameter), open to residents starting teams: campaign routes then get
    past "no such campaign" to the input they carry."""
    url = await new_database()
    pool = await db.create_pool(url, settings_for_tests())
    try:
        async with pool.acquire() as conn:
            await migrations.migrate(conn)
        await apply_definitions(pool, read_definitions(CAMPAIGNS))
        everything = campaign_definition()
        campaign = campaign_definition(
            code=PLAUSIBLE_TEXT,
            residents_create_teams=True,
            question=[],  # enrolling needs no answers
            challenge=[msgspec.to_builtins(c) for c in everything.challenge if c.code != "less-car"],  # asks it
        )
        async with pool.acquire() as conn, conn.transaction():
            _, problems = await apply_campaigns(conn, [campaign], TIME_ZONES, "file", TODAY)
        assert problems == []
    finally:
        await pool.close()
    return url


@pytest.fixture(scope="module")
async def swept_client(swept_url: str) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(settings_for_tests(), database_url=swept_url)
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
async def admin(swept_url: str, swept_client: AsyncTestClient[Any]) -> Resident:
    """Signed in, registered in Kranj, and admin: past every guard."""
    caller = Resident(uid=f"admin-{uuid.uuid4().hex}", client=swept_client)
    assert (await caller.put("/v1/me", json={"city": "kranj"})).status_code == 201
    pool = await db.create_pool(swept_url, settings_for_tests())
    try:
        await grant_role(pool, caller.uid, "admin", None, granted_by="test")
    finally:
        await pool.close()
    return caller


@pytest.fixture(scope="module")
async def document(swept_client: AsyncTestClient[Any]) -> Schema:
    response = await swept_client.get("/schema/openapi.json")
    assert response.status_code == 200
    served: Schema = response.json()
    return served


@pytest.fixture(scope="module")
def operations(document: Schema) -> list[Operation]:
    found = []
    for template, item in document["paths"].items():
        shared = item.get("parameters", [])
        for method, operation in item.items():
            if method not in {"get", "put", "post", "patch", "delete"}:
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            parameters = tuple(shared + operation.get("parameters", []))
            signed_in = bool(operation.get("security"))
            found.append(Operation(method.upper(), template, parameters, body, signed_in))
    return found


# --- What every answer must be ------------------------------------------------------------


class Sweep:
    """Sends requests as ``caller`` and keeps every answer that breaks the rules."""

    def __init__(self, caller: Resident) -> None:
        self.caller = caller
        self.failures: list[str] = []
        self.sent = 0

    async def send(self, operation: Operation, url: str, content: bytes | None = None) -> httpx.Response:
        self.sent += 1
        headers = self.caller.headers | ({"Content-Type": "application/json"} if content is not None else {})
        return await self.caller.client.request(operation.method, url, content=content, headers=headers)

    def check(
        self,
        label: str,
        response: httpx.Response,
        status: int | None = None,
        field: str | None = None,
        kind: str | None = None,
    ) -> None:
        """No 5xx; a 4xx is a problem; when given, the status, the field named and the problem type."""
        problem = _problem_of(response) or {}
        what = f"{label}: {response.status_code} {response.text[:300]}"
        if response.status_code >= 500:
            self.failures.append(what)
        elif response.status_code >= 400 and not problem:
            self.failures.append(f"{what} (not application/problem+json)")
        elif status is not None and response.status_code != status:
            self.failures.append(f"{what} (wanted {status})")
        elif field is not None and field not in [e.get("field") for e in problem.get("errors") or []]:
            self.failures.append(f"{what} (wanted the field {field!r} named)")
        elif kind is not None and problem.get("type") != f"/problems/{kind}":
            self.failures.append(f"{what} (wanted /problems/{kind})")

    def assert_clean(self) -> None:
        assert self.sent > 0
        assert not self.failures, f"{len(self.failures)} of {self.sent} answers break the rules:\n" + "\n".join(
            self.failures
        )


def _problem_of(response: httpx.Response) -> dict[str, Any] | None:
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return None
    problem: dict[str, Any] = response.json()
    return problem


# --- The sweeps -------------------------------------------------------------------------------


def test_the_sweep_sees_every_operation(operations: list[Operation], document: Schema) -> None:
    counted = sum(
        method in {"get", "put", "post", "patch", "delete"} for item in document["paths"].values() for method in item
    )

    assert len(operations) == counted
    assert sum(op.body is not None for op in operations) >= 10
    assert {"path", "query"} <= {p["in"] for op in operations for p in op.parameters}


async def test_a_broken_body_is_a_400_on_every_operation_with_a_body(
    operations: list[Operation], admin: Resident
) -> None:
    sweep = Sweep(admin)

    for operation in (op for op in operations if op.body is not None):
        for label, body in BROKEN_BODIES.items():
            response = await sweep.send(operation, operation.url(), body)
            sweep.check(f"{operation} with {label}", response, status=400, kind="malformed-body")

    sweep.assert_clean()


async def test_a_nul_in_any_string_of_a_body_is_a_422_naming_the_field(
    operations: list[Operation], document: Schema, admin: Resident
) -> None:
    sweep = Sweep(admin)

    for operation in (op for op in operations if op.body is not None):
        plausible = _example(operation.body or {}, document)
        for path in _string_places(plausible):
            body = _with(plausible, path, "a\u0000b")
            response = await sweep.send(operation, operation.url(), json.dumps(body).encode())
            sweep.check(f"{operation} with a NUL at {_field(path)}", response, status=422, field=_field(path))
        for path in _dict_places(plausible):
            body = _with_key(plausible, path, "k\u0000")
            response = await sweep.send(operation, operation.url(), json.dumps(body).encode())
            sweep.check(f"{operation} with a NUL in a key of {_field(path) or 'the body'}", response, status=422)

    sweep.assert_clean()


async def test_a_very_long_string_in_any_field_of_a_body_is_no_5xx(
    operations: list[Operation], document: Schema, admin: Resident
) -> None:
    sweep = Sweep(admin)

    for operation in (op for op in operations if op.body is not None):
        plausible = _example(operation.body or {}, document)
        for path in _string_places(plausible):
            for length in (3_000, 100_000):
                body = _with(plausible, path, "é" * length)
                response = await sweep.send(operation, operation.url(), json.dumps(body).encode())
                sweep.check(f"{operation} with {length} characters at {_field(path)}", response)

    sweep.assert_clean()


async def test_bad_path_parameters_are_refused_without_a_5xx(
    operations: list[Operation], document: Schema, admin: Resident
) -> None:
    sweep = Sweep(admin)

    for operation in operations:
        body = json.dumps(_example(operation.body, document)).encode() if operation.body else None
        for parameter in operation.named("path"):
            name = parameter["name"]
            for label, value in BAD_PARAMETER_VALUES.items():
                response = await sweep.send(operation, operation.url({name: value.encoded}), body)
                sweep.check(f"{operation} with {name} = {label}", response, *_expected(parameter, value))

    sweep.assert_clean()


async def test_bad_query_parameters_are_refused_without_a_5xx(operations: list[Operation], admin: Resident) -> None:
    sweep = Sweep(admin)

    for operation in operations:
        for parameter in operation.named("query"):
            name = parameter["name"]
            for label, value in BAD_PARAMETER_VALUES.items():
                response = await sweep.send(operation, operation.url(query=f"{name}={value.encoded}"))
                expected = (422, name) if value.expect == "refused" else (None, None)
                sweep.check(f"{operation} with ?{name}= {label}", response, *expected)
            for label, query in {"given twice": f"{name}=1&{name}=2", "without a value": name}.items():
                response = await sweep.send(operation, operation.url(query=query))
                sweep.check(f"{operation} with {name} {label}", response)

    sweep.assert_clean()


def _expected(parameter: Schema, value: BadValue) -> tuple[int | None, str | None]:
    """What a bad path value must get. Values that do not fit the path's type (text for an
    integer id or a UUID) match no route: a 404 that names nothing."""
    kind, text = _type_of(parameter["schema"]), "format" not in parameter["schema"]
    if value.expect == "refused" and kind == "string" and text:
        return 422, parameter["name"]
    if value.expect == "no such id" and kind == "integer":
        return 404, parameter["name"]
    return None, None


# --- The cases found by hand, with what is stored ------------------------------------------


async def test_a_nul_in_one_item_refuses_the_whole_batch_naming_the_item(resident: Resident, pool: db.Pool) -> None:
    actions = [action() for _ in range(5)]
    actions[3]["action_type"] = "cycle-instead-of-car\u0000"

    response = await resident.post("/v1/me/actions/batch", json={"actions": actions})

    problem = assert_problem(response, 422, "validation-error", "actions[3].action_type")
    assert "U+0000" in problem["errors"][0]["reason"]
    assert await _actions_of(pool, resident) == 0


async def test_a_truncated_body_after_an_unknown_field_is_malformed_and_stores_nothing(
    resident: Resident, pool: db.Pool
) -> None:
    body = json.dumps({"zzz": 1} | action()).encode()  # the unknown field first, the break after it

    response = await resident.post("/v1/me/actions", content=body[:-5])

    assert_problem(response, 400, "malformed-body")
    assert await _actions_of(pool, resident) == 0


async def test_a_device_id_too_long_for_an_index_is_refused(resident: Resident, pool: db.Pool) -> None:
    device = {"platform": "android", "app_version": "1.4.0"}
    too_long, longest = secrets.token_urlsafe(2250), secrets.token_urlsafe(375)  # 3,000 and 500 characters

    refused = await resident.put(f"/v1/me/devices/{too_long}", json=device)
    stored = await resident.put(f"/v1/me/devices/{longest}", json=device)

    assert_problem(refused, 422, "validation-error", "installation_id")
    assert stored.status_code == 201
    kept = await pool.fetch(
        "SELECT d.installation_id FROM devices d JOIN residents r ON r.id = d.resident_id WHERE r.firebase_uid = $1",
        resident.uid,
    )
    assert [row["installation_id"] for row in kept] == [longest]


async def test_a_nul_in_a_path_or_query_value_is_refused_naming_it(coordinator: Resident, resident: Resident) -> None:
    assert_problem(await coordinator.get("/v1/admin/campaigns/ab%00cd"), 422, "validation-error", "code")
    assert_problem(await coordinator.get("/v1/admin/held-entries?city=%00"), 422, "validation-error", "city")
    assert_problem(await resident.get("/v1/me/actions?cursor=a%00"), 422, "validation-error", "cursor")


async def test_a_notification_id_past_64_bits_is_not_found(resident: Resident) -> None:
    response = await resident.post(f"/v1/me/notifications/{INT64_MAX + 1}/read")

    assert_problem(response, 404, "not-found", "notification_id")


async def test_cursors_outside_what_can_be_stored_are_refused(resident: Resident, coordinator: Resident) -> None:
    year_1 = _cursor(["0001-01-01T00:00:00+14:00", str(uuid.uuid4())])
    year_9999 = _cursor(["9999-12-31T23:59:59-14:00", 5])

    assert_problem(await resident.get(f"/v1/me/actions?cursor={year_1}"), 422, "validation-error", "cursor")
    assert_problem(
        await coordinator.get(f"/v1/admin/held-entries?cursor={year_9999}"), 422, "validation-error", "cursor"
    )
    for cursor in ("%C2%B2", str(INT64_MAX + 1)):  # "²" passes str.isdigit
        assert_problem(await resident.get(f"/v1/me/notifications?cursor={cursor}"), 422, "validation-error", "cursor")


async def test_a_body_that_is_not_a_struct_gets_the_same_answers() -> None:
    @post("/echo", guards=[PUBLIC], status_code=200)
    async def echo(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        return data

    app = Litestar([echo], request_class=StrictRequest, exception_handlers=EXCEPTION_HANDLERS)
    async with AsyncTestClient(app=app) as client:
        for body in BROKEN_BODIES.values():
            assert_problem(await client.post("/echo", content=body), 400, "malformed-body")
        assert_problem(await client.post("/echo", json={"note": "a\u0000"}), 422, "validation-error", "note")
        assert (await client.post("/echo", json={"note": "fine"})).json() == {"note": "fine"}


async def _actions_of(pool: db.Pool, resident: Resident) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM action_logs a JOIN residents r ON r.id = a.resident_id WHERE r.firebase_uid = $1",
        resident.uid,
    )
    return count


# --- Plausible bodies from the document's schemas ----------------------------------------


def _resolve(schema: Schema, document: Schema) -> Schema:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _type_of(schema: Schema) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None:
        for variant in schema.get("oneOf", []) + schema.get("anyOf", []):
            if variant.get("type") != "null":
                return _type_of(variant)
    return kind if isinstance(kind, str) else None


def _example(schema: Schema, document: Schema, depth: int = 0) -> Any:
    """A value of ``schema`` as plausible as a schema alone tells: every optional field
    filled, so every string the operation takes gets its turn."""
    schema = _resolve(schema, document)
    if depth > 8:
        return None
    if schema.get("examples"):
        return schema["examples"][0]
    if schema.get("enum"):
        return next(v for v in schema["enum"] if v is not None)
    variants = [v for v in schema.get("oneOf", []) + schema.get("anyOf", []) if v.get("type") != "null"]
    if variants:
        siblings = {k: v for k, v in schema.items() if k not in {"oneOf", "anyOf"}}
        return _example(_resolve(variants[0], document) | siblings, document, depth + 1)
    kind = _type_of(schema)
    if kind == "object":
        value = {name: _example(sub, document, depth + 1) for name, sub in schema.get("properties", {}).items()}
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            value["en"] = _example(extra, document, depth + 1)
        return value
    if kind == "array":
        return [_example(schema.get("items", {}), document, depth + 1)] * max(1, schema.get("minItems", 1))
    if kind == "string":
        return _string_example(schema)
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return False
    return None


def _string_example(schema: Schema) -> str:
    formats = {
        "date-time": datetime.now(UTC).isoformat(),
        "date": datetime.now(UTC).date().isoformat(),
        "uuid": str(uuid.uuid4()),
    }
    return formats.get(schema.get("format", ""), "x" * max(2, schema.get("minLength", 1)))


def _string_places(value: Any, path: KeyPath = ()) -> Iterator[KeyPath]:
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _string_places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _string_places(item, (*path, index))


def _dict_places(value: Any, path: KeyPath = ()) -> Iterator[KeyPath]:
    if isinstance(value, dict):
        yield path
        for key, item in value.items():
            yield from _dict_places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _dict_places(item, (*path, index))


def _with(value: Any, path: KeyPath, new: Any) -> Any:
    changed = copy.deepcopy(value)
    *parents, last = path
    holder = changed
    for step in parents:
        holder = holder[step]
    holder[last] = new
    return changed


def _with_key(value: Any, path: KeyPath, key: str) -> Any:
    changed = copy.deepcopy(value)
    holder = changed
    for step in path:
        holder = holder[step]
    holder[key] = "x"
    return changed


def _field(path: KeyPath) -> str:
    """A place as the API names fields: ``actions[0].action_type``, ``title.en``."""
    named = ""
    for step in path:
        named += f"[{step}]" if isinstance(step, int) else (f".{step}" if named else step)
    return named


# --- Tokens ----------------------------------------------------------------------------


def _token(claims: object, header: object | None = None) -> str:
    """An unsigned token (accepted in Auth-emulator mode only) with any claims at all."""

    def part(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header if header is not None else {'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _claims(**overrides: object) -> dict[str, object]:
    now = int(datetime.now(UTC).timestamp())
    claims: dict[str, object] = {
        "iss": f"https://securetoken.google.com/{PROJECT_ID}",
        "aud": PROJECT_ID,
        "sub": f"someone-{uuid.uuid4().hex}",
        "iat": now,
        "exp": now + 3600,
        "firebase": {"sign_in_provider": "anonymous"},
    }
    return claims | overrides


BAD_TOKENS: dict[str, str] = {
    "a firebase claim that is a string": _token(_claims(firebase="password")),
    "a firebase claim that is a list": _token(_claims(firebase=["password"])),
    "a sign-in provider that is a number": _token(_claims(firebase={"sign_in_provider": 7})),
    "a uid with a NUL": _token(_claims(sub="ab\u0000cd")),
    "a uid with a control character": _token(_claims(sub="ab\u0001cd")),
    "a uid with a lone surrogate": _token(_claims(sub="ab\ud800cd")),
    "an empty uid": _token(_claims(sub="")),
    "a uid of 129 characters": _token(_claims(sub="u" * 129)),
    "a uid that is a number": _token(_claims(sub=12)),
    "an expiry that is a boolean": _token(_claims(exp=True)),
    "an expiry past a float's precision": _token(_claims(exp=10**400)),
    "an expiry of Infinity": _token(_claims(exp=float("inf"))),
    "an issue time of NaN": _token(_claims(iat=float("nan"))),
    "an issue time that is text": _token(_claims(iat="now")),
    "an audience that is a list": _token(_claims(aud=[PROJECT_ID])),
    "claims that are a list": _token([1, 2]),
    "claims that are a number": _token(7),
    "a header that is a list": _token(_claims(), header=[1]),
    "claims that are not JSON": "eyJhbGciOiJub25lIn0.bm90IGpzb24.",
    "four parts": _token(_claims()) + "x.y",
    "100,000 characters": "a" * 100_000,
    "non-ASCII characters": "čšž.čšž.čšž",
}


async def test_a_malformed_token_is_a_401_on_every_signed_in_operation(
    operations: list[Operation], swept_client: AsyncTestClient[Any]
) -> None:
    sweep = Sweep(Resident(uid="nobody", client=swept_client))
    signed_in = [op for op in operations if op.signed_in]

    assert signed_in
    for operation in signed_in:
        for label, token in BAD_TOKENS.items():
            response = await swept_client.request(
                operation.method, operation.url(), headers={"Authorization": f"Bearer {token}".encode()}
            )
            sweep.sent += 1
            sweep.check(f"{operation} with {label}", response, status=401)

    sweep.assert_clean()
