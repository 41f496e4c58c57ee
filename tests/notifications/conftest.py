"""A local fake FCM server shared by the notification tests, reset around each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.fcm import FakeFCM


@pytest.fixture(scope="session")
def fake_fcm_server() -> Iterator[FakeFCM]:
    with FakeFCM() as server:
        yield server


@pytest.fixture
def fcm(fake_fcm_server: FakeFCM) -> Iterator[FakeFCM]:
    """The fake, with no requests recorded and answering "ok" at once."""
    fake_fcm_server.reset()
    yield fake_fcm_server
    fake_fcm_server.reset()
