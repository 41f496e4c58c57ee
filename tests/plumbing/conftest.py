"""The app served over real HTTP by uvicorn, for clients that talk to a URL (a generated client, the fuzzer)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from tests.factories import settings_for_tests
from upscale_api.app import create_app


@pytest.fixture(scope="session")
def live_server(database_url: str) -> Iterator[str]:
    """The base URL of the app served by uvicorn on a free local port, on the test database."""
    app = create_app(settings_for_tests(), database_url=database_url)
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    host, port = listening.getsockname()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield f"http://{host}:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    listening.close()
