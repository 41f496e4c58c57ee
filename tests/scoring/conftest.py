"""Fixtures of the scoring tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.factories import CAMPAIGNS
from upscale_api import db
from upscale_api.catalogue.service import Catalogue, Snapshot
from upscale_api.definitions.files import read_definitions
from upscale_api.definitions.service import apply_definitions
from upscale_api.demo.seed import seed_demo


@pytest.fixture
async def demo(fresh_pool: db.Pool) -> AsyncIterator[tuple[db.Pool, Snapshot]]:
    """A database with the pilot definitions and the demo residents, actions and campaign."""
    await apply_definitions(fresh_pool, read_definitions(CAMPAIGNS))
    snapshot = await Catalogue(fresh_pool).reload()
    await seed_demo(fresh_pool, snapshot)
    yield fresh_pool, snapshot
