"""Dashboard tests: a coordinator signed in with a session cookie, talking HTML to the app."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from tests.factories import token_for

SESSION_COOKIE = "upscale_dashboard"


@dataclass
class Browser:
    """One person's browser: their own session cookie, sent with every request (the shared test
    client's cookie jar is left empty, so that tests never share a session)."""

    client: AsyncTestClient[Any]
    session: str | None = None
    csrf: str = ""

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept-Language": "en"} | (extra or {})
        if self.session:
            headers["Cookie"] = f"{SESSION_COOKIE}={self.session}"
        return headers

    def _keep_session(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            if header.startswith(f"{SESSION_COOKIE}="):
                value = header.split(";")[0].split("=", 1)[1]
                self.session = None if value == "null" else value
        self.client.cookies.clear()

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("follow_redirects", False)
        response = await self.client.get(path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)
        self._keep_session(response)
        found = re.search(r'name="_csrf" value="([^"]+)"', response.text)
        if found:
            self.csrf = found.group(1)
        return response

    async def post(self, path: str, data: dict[str, Any] | list[tuple[str, str]] | None = None, *, csrf: bool = True,
                   **kwargs: Any) -> httpx.Response:  # fmt: skip
        fields = list(data.items()) if isinstance(data, dict) else list(data or [])
        if csrf:
            fields.append(("_csrf", self.csrf))
        response = await self.client.post(
            path,
            content=httpx.QueryParams(fields).__str__().encode(),
            headers=self._headers({"Content-Type": "application/x-www-form-urlencoded"} | kwargs.pop("headers", {})),
            follow_redirects=kwargs.pop("follow_redirects", False),
            **kwargs,
        )
        self._keep_session(response)
        return response

    async def sign_in(self, uid: str) -> httpx.Response:
        """Exchange ``uid``'s ID token for a session, as the sign-in page does; then read a page for its CSRF token."""
        response = await self.post(
            "/dashboard/sign-in", {"id_token": token_for(uid), "next": "/dashboard/"}, csrf=False
        )
        if response.status_code == 303:
            await self.get("/dashboard/")
        return response


@pytest.fixture
def browser(client: AsyncTestClient[Any]) -> Browser:
    return Browser(client)
