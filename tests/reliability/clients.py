"""What the reliability tests drive the service with: residents' phones that log actions
with ids of their own and retry until the service acknowledges each one, as the app does.

Each phone keeps one HTTP/1.1 keep-alive connection, spoken by a few lines of asyncio
(:class:`Connection`) rather than httpx: the phones, the service and PostgreSQL share
the machine's cores, and httpx's connection pool costs several milliseconds of CPU per
request under this load (bench/README.md, "--client httpx"), which would slow the
service it is meant to test.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from tests.factories import token_for

RETRY_PAUSE_SECONDS = 0.05
"""How soon a refused or lost request is sent again (sooner than Retry-After, to see the service return)."""


def train_ride() -> dict[str, Any]:
    """One km by train instead of by car: 400 of them a day count without review."""
    return {
        "id": str(uuid.uuid4()),
        "action_type": "train-instead-of-car",
        "quantity": 1,
        "performed_at": datetime.now(UTC).isoformat(),
    }


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One HTTP/1.1 keep-alive connection; reconnects on the next request after a failure.

    Reads answers with a Content-Length only, which is what the service sends."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Response:
        """Raises OSError or asyncio.IncompleteReadError when the connection is refused or cut."""
        content = b"" if body is None else json.dumps(body).encode()
        try:
            if self._streams is None:
                self._streams = await asyncio.open_connection(self.host, self.port)
            reader, writer = self._streams
            lines = [f"{method} {path} HTTP/1.1", f"host: {self.host}:{self.port}", f"content-length: {len(content)}"]
            lines += ["content-type: application/json", *(f"{k}: {v}" for k, v in (headers or {}).items())]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + content)
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
            fields = {
                name.strip().lower(): value.strip() for name, _, value in (h.partition(":") for h in header_lines)
            }
            answer = await reader.readexactly(int(fields["content-length"]))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            await self.close()
            raise
        return Response(int(status_line.split(" ", 2)[1]), fields, answer)

    async def close(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                await writer.wait_closed()


@dataclass
class Answer:
    at: float  # loop time
    status: int | None  # None: no HTTP answer (connection refused or cut)
    retry_after: str | None = None
    problem_type: str | None = None


@dataclass
class Phones:
    """Residents' phones, ``concurrency`` of them at once, each with a connection to one of
    ``servers`` (in turn)."""

    servers: list[str]
    concurrency: int = 32
    answers: list[Answer] = field(default_factory=list)
    acknowledged: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Action id -> the stored record the service answered with."""
    statuses: collections.Counter[int | None] = field(default_factory=collections.Counter)

    def __post_init__(self) -> None:
        servers = itertools.cycle(self.servers)
        self.connections = [Connection(next(servers)) for _ in range(self.concurrency)]
        self._tokens: dict[str, dict[str, str]] = {}

    def headers(self, uid: str) -> dict[str, str]:
        """One token per resident, as a phone keeps it (the service verifies it once)."""
        if uid not in self._tokens:
            self._tokens[uid] = {"authorization": f"Bearer {token_for(uid)}"}
        return self._tokens[uid]

    async def close(self) -> None:
        for connection in self.connections:
            await connection.close()

    async def register(self, uids: Iterable[str], city: str = "kranj") -> None:
        for uid, connection in zip(uids, itertools.cycle(self.connections), strict=False):
            answer = await connection.request("PUT", "/v1/me", {"city": city}, self.headers(uid))
            assert answer.status == 201, answer.body

    async def log_all(self, actions: list[tuple[str, dict[str, Any]]]) -> None:
        """Log every ``(uid, body)``, ``concurrency`` at a time, each until it is acknowledged."""
        todo = iter(actions)

        async def phone(connection: Connection) -> None:
            for uid, body in todo:
                await self.log(connection, uid, body)

        await asyncio.gather(*(phone(c) for c in self.connections))

    async def log(self, connection: Connection, uid: str, body: dict[str, Any]) -> dict[str, Any]:
        """Send ``body`` until the service stores it (201) or recognises it as stored (200).

        A lost connection or a 503 is retried with the same id; any other answer fails the test."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                response = await connection.request("POST", "/v1/me/actions", body, self.headers(uid))
            except (OSError, asyncio.IncompleteReadError):
                self._record(Answer(loop.time(), None))
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
                continue
            answer = Answer(loop.time(), response.status)
            if response.status == 503:
                answer.retry_after = response.headers.get("retry-after")
                answer.problem_type = response.json().get("type")
            self._record(answer)
            if response.status in (200, 201):
                stored: dict[str, Any] = response.json()
                self.acknowledged[body["id"]] = stored
                return stored
            assert response.status == 503, f"{response.status}: {response.body!r}"
            await asyncio.sleep(RETRY_PAUSE_SECONDS)

    def _record(self, answer: Answer) -> None:
        self.answers.append(answer)
        self.statuses[answer.status] += 1
