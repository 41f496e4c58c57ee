"""Fixtures of the reliability suite: databases migrated by `upscale migrate`, the
service run as processes of its own, and a PostgreSQL server that can be restarted.

Each test is bounded in time and talks over loopback only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator

import pytest

from tests.servers import OwnServer, own_postgres, upscale, upscale_environment
from upscale_api import db


@pytest.fixture
async def migrated_database(new_database: Callable[[], Awaitable[str]]) -> str:
    """The URL of a new database on the test server, migrated as an operator would."""
    url = await new_database()
    await asyncio.to_thread(upscale, "migrate", environ=upscale_environment(url))
    return url


@pytest.fixture
def own_server() -> Iterator[OwnServer]:
    with own_postgres() as server:
        yield server


@pytest.fixture
async def own_database(own_server: OwnServer) -> str:
    """A migrated database on ``own_server``."""
    await db.ensure_database(own_server.admin_url, "upscale")
    url = db.with_database(own_server.admin_url, "upscale")
    await asyncio.to_thread(upscale, "migrate", environ=upscale_environment(url))
    return url
