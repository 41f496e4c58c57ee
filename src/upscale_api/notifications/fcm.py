"""The one small documented place that builds firebase-admin Apps for Cloud Messaging.

Everything that sends push notifications gets its App from :func:`messaging_app` and sends through
``notifications.transport.batch_sender(app)``, which posts with pyreqwest to the endpoint and with the
credential of the App's messaging service (or through ``firebase_admin.messaging.send_each_async(messages,
app=...)``, the stock client). Two things live here and nowhere else:

**Endpoint override (tests and development).** firebase-admin 7.7 has no public option or environment
variable for the FCM endpoint. ``messaging._MessagingService.__init__`` formats the class constant
``FCM_URL`` (``https://fcm.googleapis.com/v1/projects/{0}/messages:send``) into the *instance*
attribute ``_fcm_url`` once, when the messaging service is first created for an App, and every
``send``/``send_each``/``send_each_async`` posts to ``self._fcm_url``. So instead of patching the class
constant (process-global: two Apps with different endpoints would interfere, and whichever App is
created first would win), we create the App's messaging service ourselves, through the same per-App
service registry the SDK uses (``App._get_service("_messaging", ...)``, which is what
``messaging._get_messaging_service`` calls), and set ``_fcm_url`` on that one instance before it is
registered. Later SDK calls with ``app=`` find the registered service and use its URL, sync and async
alike, and so does the direct sender. If a future SDK renames ``_fcm_url`` we raise instead of silently
sending to Google. That code (``transport.point_messaging_at``) lives with the direct sender's, the one
module that touches firebase-admin's private parts.

**Offline credentials.** With an endpoint and no explicit credential, the App uses a fixed-token
``google.oauth2.credentials.Credentials``: requests carry ``Authorization: Bearer <token>`` and nothing
contacts Google. It has a ``refresh_handler`` that hands back the same token, because the SDK's httpx
auth flow refreshes the credential and retries on every HTTP 401 (FCM answers 401 for
``THIRD_PARTY_AUTH_ERROR``); a token-only credential without one raises ``RefreshError`` there, which
the SDK does not catch and which turns the whole ``send_each_async`` batch into one ``UnknownError``.

Production (no endpoint) uses Application Default Credentials unless a credential is given, and leaves
the messaging service to the SDK, created lazily on the first send.

Apps are cached per ``(project_id, endpoint)`` under a unique name. The option ``httpTimeout`` bounds
every request (the SDK's default is 120 s), in both clients. The SDK's async client keeps an
``httpx.AsyncClient`` with a connection pool bound to the event loop that first uses it, so use an App
from one event loop.
Against a plain ``http://`` endpoint that client speaks HTTP/1.1 over at most 100 connections, and the
wait for a pooled connection counts against ``httpTimeout``: a first batch of 500 on a new App can take
seconds, so give test Apps a generous timeout. Do not ``firebase_admin.delete_app`` a messaging App
inside a running event loop: the SDK's ``close()`` calls ``asyncio.run()`` and raises ``RuntimeError``.
"""

from __future__ import annotations

import datetime
import threading
import urllib.parse
from collections.abc import Sequence
from typing import Any

import firebase_admin
import firebase_admin.credentials
import google.oauth2.credentials

from upscale_api.notifications import transport

__all__ = ["OFFLINE_TOKEN", "messaging_app"]

OFFLINE_TOKEN = "upscale-offline-fcm-token"  # noqa: S105  - sent only to a local endpoint, never to Google
"""The bearer token sent to an overridden endpoint when no credential is given."""

_FCM_PATH = "/v1/projects/{0}/messages:send"
_lock = threading.Lock()
_apps: dict[tuple[str, str | None], firebase_admin.App] = {}


def messaging_app(
    project_id: str,
    *,
    endpoint: str | None = None,
    timeout_seconds: float = 10.0,
    credential: Any = None,
) -> firebase_admin.App:
    """A firebase-admin App for Cloud Messaging, cached per ``(project_id, endpoint)``.

    ``endpoint`` (e.g. ``"http://127.0.0.1:8123"``) sends messages to
    ``{endpoint}/v1/projects/{project_id}/messages:send`` instead of Google's FCM, with an offline
    fixed-token credential unless ``credential`` is given. Without ``endpoint``, ``credential``
    defaults to Application Default Credentials. ``credential`` may be a
    ``firebase_admin.credentials.Base`` or a ``google.auth.credentials.Credentials``.

    The first call for a key creates the App; later calls return it, and raise ``ValueError`` if they
    ask for a different timeout.
    """
    if not project_id:
        raise ValueError("project_id must be a non-empty string")
    if timeout_seconds <= 0:
        raise ValueError("timeout_seconds must be positive")
    base = _normalise_endpoint(endpoint) if endpoint is not None else None
    key = (project_id, base)
    with _lock:
        app = _apps.get(key)
        if app is not None and _is_live(app):
            cached_timeout = app.options.get("httpTimeout")
            if cached_timeout != timeout_seconds:
                raise ValueError(
                    f"messaging App for {key} already exists with httpTimeout={cached_timeout}, not {timeout_seconds}"
                )
            return app
        app = _create_app(project_id, base, timeout_seconds, credential)
        _apps[key] = app
        return app


def _create_app(project_id: str, base: str | None, timeout_seconds: float, credential: Any) -> firebase_admin.App:
    if credential is None:
        credential = _offline_credential() if base is not None else firebase_admin.credentials.ApplicationDefault()
    name = f"upscale-fcm:{project_id}@{base or 'google'}"
    app = firebase_admin.initialize_app(
        credential, {"projectId": project_id, "httpTimeout": timeout_seconds}, name=name
    )
    if base is not None:
        url = base + _FCM_PATH.format(project_id)
        try:
            transport.point_messaging_at(app, url)
        except BaseException:
            firebase_admin.delete_app(app)
            raise
    return app


def _offline_credential() -> Any:
    def same_token(_request: Any, scopes: Sequence[str] | None = None) -> tuple[str, datetime.datetime]:
        # google-auth compares expiries as naive UTC datetimes.
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        return OFFLINE_TOKEN, now + datetime.timedelta(hours=1)

    return google.oauth2.credentials.Credentials(  # type: ignore[no-untyped-call]
        token=OFFLINE_TOKEN, refresh_handler=same_token
    )


def _normalise_endpoint(endpoint: str) -> str:
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"endpoint must be a base URL like http://127.0.0.1:8123, not {endpoint!r}")
    return endpoint.rstrip("/")


def _is_live(app: firebase_admin.App) -> bool:
    try:
        return firebase_admin.get_app(app.name) is app
    except ValueError:
        return False
