"""Dashboard tests: a coordinator signed in with a session cookie, talking HTML to the app."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
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


class _FormFields(HTMLParser):
    """What a browser submits of the first ``<form class="editor">``: named inputs (checked boxes
    only), selected options and textareas; rows kept in ``<template>`` for adding are not part of it."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._in_form = self._done = False
        self._template = 0
        self._select: str | None = None
        self._select_first: str | None = None
        self._selected = False
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and "editor" in a.get("class", "").split() and not self._done:
            self._in_form = True
        if tag == "template":
            self._template += 1
        if not self._in_form or self._template:
            return
        if tag == "input" and a.get("name"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._select_first, self._selected = a.get("name"), None, False
        elif tag == "option" and self._select is not None:
            if self._select_first is None:
                self._select_first = a.get("value", "")
            if "selected" in a and not self._selected:
                self.fields.append((self._select, a.get("value", "")))
                self._selected = True
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "template":
            self._template -= 1
        elif tag == "form" and self._in_form:
            self._in_form, self._done = False, True
        elif tag == "select" and self._select is not None:
            if not self._selected and self._select_first is not None:
                self.fields.append((self._select, self._select_first))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, self._text))
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data


def editor_fields(page: str, **changes: str) -> list[tuple[str, str]]:
    """The editor form's fields as a browser would post them, with ``changes`` (by field name) made."""
    parser = _FormFields()
    parser.feed(page)
    fields = [(name, html.unescape(changes.pop(name, value))) for name, value in parser.fields]
    return fields + list(changes.items())
