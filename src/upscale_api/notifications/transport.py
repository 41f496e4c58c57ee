"""Sending a batch of FCM messages at the HTTP client's pace, firebase-admin still in charge.

**Why.** ``messaging.send_each_async`` spends 3 to 4 ms of CPU per message in its httpx client
(request building, the auth flow, cookies, httpcore's pool bookkeeping, anyio, h11), and still 0.76
to 1.4 ms with a faster transport under httpx; a sender process drained 300 to 700 messages a
second. :class:`DirectSender` posts each message with pyreqwest (a Rust HTTP client, 0.08 to 0.1 ms
of CPU per request) and leaves everything that defines the FCM contract to firebase-admin, through
the messaging service the SDK built for the App:

- **message encoding**: ``_MessagingService._message_data`` (the SDK's ``MessageEncoder``), JSON
  written as httpx writes ``json=``, so the bytes on the wire are the SDK's;
- **endpoint and headers**: the service's ``_fcm_url`` (which ``notifications.fcm`` may point at
  another endpoint), its ``_fcm_headers`` and the SDK's metrics header;
- **credentials**: the App's google-auth credential, applied with ``before_request`` and, on HTTP
  401, refreshed and retried up to twice, as the SDK's ``GoogleAuthCredentialFlow`` does;
- **retries**: the SDK's own ``HttpxRetry`` policy object (500 and 503, up to 4 retries, its
  backoff), run in the loop of the SDK's ``HttpxRetryTransport._dispatch_with_retry``;
- **errors**: every non-2xx answer becomes an ``httpx.HTTPStatusError`` and every transport
  failure the matching ``httpx`` exception, handed to ``_MessagingService._handle_fcm_httpx_error``:
  the same ``UnregisteredError``, ``SenderIdMismatchError``, ``QuotaExceededError`` (with the
  response and its ``Retry-After``), ``InvalidArgumentError``, ``DeadlineExceededError``, ... as
  ``send_each_async`` returns. Answers come back as the SDK's ``BatchResponse``/``SendResponse``.

Over ``https://`` (Google's FCM) the client offers HTTP/2 and HTTP/1.1 by ALPN; over ``http://``
it speaks HTTP/1.1 unless told ``prior_knowledge=True``. At most 100 requests are in flight per
sender, as with the SDK's httpx pool.

**The private parts** named above are firebase-admin 7.7's, and so is the endpoint override of
:func:`point_messaging_at` (used by ``notifications.fcm``). They are touched only in this module.
:func:`check_sdk` (the installed version, the private modules) and :func:`check_service` (each
name, and a trial of the encoding and the error mapping) run when a sender is made for an App, at
worker start-up. If either fails, :func:`batch_sender` logs a warning and returns
:class:`SdkSender`, the stock ``send_each_async``: slower, never wrong. ``UPSCALE_FCM_CLIENT=httpx``
chooses the stock client outright.

:func:`use_httpx_transport` (the stock client with another transport under its httpx client) is
for the push benchmark's comparison rows.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any, Literal, Protocol

import firebase_admin
import google.auth.transport.requests
import httpx
from firebase_admin import exceptions, messaging
from pyreqwest import exceptions as pyreqwest_errors
from pyreqwest.client import Client, ClientBuilder
from pyreqwest.http import HeaderMap

__all__ = [
    "SUPPORTED_SDK",
    "BatchSender",
    "DirectSender",
    "FcmClient",
    "IncompatibleSdk",
    "SdkSender",
    "batch_sender",
    "check_sdk",
    "check_service",
    "point_messaging_at",
    "use_httpx_transport",
]

try:  # private modules: another release may have moved them, and then check_sdk fails
    from firebase_admin import _http_client
    from firebase_admin._retry import HttpxRetry, HttpxRetryTransport

    _MISSING_MODULES: str | None = None
except ImportError as missing:
    _MISSING_MODULES = repr(missing)

log = logging.getLogger(__name__)

FcmClient = Literal["pyreqwest", "httpx"]
SUPPORTED_SDK = "7.7"
"""The firebase-admin release (major.minor) whose private parts :class:`DirectSender` was written against."""

MAX_IN_FLIGHT = 100  # like the SDK's httpx pool (100 connections)
_AUTH_REFRESHES = 2  # GoogleAuthCredentialFlow._max_refresh_attempts
_MESSAGING_SERVICE = "_messaging"  # the key messaging._get_messaging_service uses in the App's service registry
_senders: dict[tuple[str, FcmClient], tuple[firebase_admin.App, BatchSender]] = {}


class BatchSender(Protocol):
    """Sends up to 500 messages; one ``SendResponse`` per message, in order, as ``send_each_async``."""

    async def send_each(self, messages: list[messaging.Message], dry_run: bool = False) -> messaging.BatchResponse:
        """Send ``messages`` (``dry_run``: FCM validates them and delivers nothing)."""
        ...

    async def aclose(self) -> None:
        """Close the connections."""
        ...


class IncompatibleSdk(RuntimeError):
    """The installed firebase-admin is not the one :class:`DirectSender` was written against."""


def batch_sender(app: firebase_admin.App, client: FcmClient = "pyreqwest") -> BatchSender:
    """The sender for ``app``, made once per App and client and then reused.

    ``pyreqwest``: a :class:`DirectSender` when the installed firebase-admin passes :func:`check_sdk`
    and :func:`check_service`; otherwise, with a warning naming the failed check, the stock client.
    ``httpx``: the stock client (:class:`SdkSender`).
    """
    key = (app.name, client)
    cached = _senders.get(key)
    if cached is not None and cached[0] is app:
        return cached[1]
    made: BatchSender = SdkSender(app)
    if client == "pyreqwest":
        try:
            check_sdk()
            made = DirectSender(app)
            log.info("FCM: sending through pyreqwest (firebase-admin %s checked)", firebase_admin.__version__)
        except IncompatibleSdk as exc:
            log.warning("FCM: sending through firebase-admin's own httpx client (slower): %s", exc)
    _senders[key] = (app, made)
    return made


def check_sdk(version: str | None = None) -> None:
    """Raise :class:`IncompatibleSdk` unless firebase-admin ``version`` (the installed one) is
    :data:`SUPPORTED_SDK` and has the private modules and functions :class:`DirectSender` uses."""
    installed = version if version is not None else str(firebase_admin.__version__)
    if installed.split(".")[:2] != SUPPORTED_SDK.split("."):
        raise IncompatibleSdk(
            f"firebase-admin {installed} is installed; the direct FCM sender was written against "
            f"{SUPPORTED_SDK}.x (re-check upscale_api.notifications.transport against its source, "
            "then update SUPPORTED_SDK)"
        )
    if _MISSING_MODULES is not None:
        raise IncompatibleSdk(f"firebase-admin's private modules moved: {_MISSING_MODULES}")
    if not callable(getattr(messaging, "_get_messaging_service", None)):
        raise IncompatibleSdk("firebase-admin's messaging._get_messaging_service is gone")
    if not isinstance(getattr(_http_client, "METRICS_HEADERS", None), dict):
        raise IncompatibleSdk("firebase-admin's _http_client.METRICS_HEADERS is gone")


def check_service(service: Any) -> None:
    """Raise :class:`IncompatibleSdk` unless ``service`` (an App's ``_MessagingService``) has what
    :class:`DirectSender` uses, and encodes a message and maps FCM errors as expected."""
    names = ("_fcm_url", "_fcm_headers", "_credential", "_async_client", "_message_data", "_handle_fcm_httpx_error")
    missing = [name for name in names if not hasattr(service, name)]
    client = getattr(service, "_async_client", None)
    if missing or not isinstance(getattr(client, "_retry_config", None), HttpxRetry) or not hasattr(client, "timeout"):
        raise IncompatibleSdk(
            f"firebase-admin's messaging service lacks {missing or ['_async_client._retry_config or timeout']}"
        )
    if not isinstance(service._fcm_url, str) or not isinstance(service._fcm_headers, dict):
        raise IncompatibleSdk("firebase-admin's _fcm_url or _fcm_headers changed type")
    try:
        encoded = service._message_data(messaging.Message(fid="check", data={"k": "v"}), True)
        request = httpx.Request("POST", service._fcm_url)
        unregistered = httpx.Response(404, json=_fcm_error(404, "NOT_FOUND", "UNREGISTERED"), request=request)
        quota = httpx.Response(429, json=_fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), request=request)
        mapped = [
            service._handle_fcm_httpx_error(httpx.HTTPStatusError("check", request=request, response=unregistered)),
            service._handle_fcm_httpx_error(httpx.HTTPStatusError("check", request=request, response=quota)),
            service._handle_fcm_httpx_error(httpx.ReadTimeout("check", request=request)),
        ]
    except Exception as exc:
        raise IncompatibleSdk(f"firebase-admin's encoding or error mapping failed its check: {exc!r}") from exc
    if encoded != {"message": {"fid": "check", "data": {"k": "v"}}, "validate_only": True}:
        raise IncompatibleSdk(f"firebase-admin encodes a message differently: {encoded!r}")
    expected = (messaging.UnregisteredError, messaging.QuotaExceededError, exceptions.DeadlineExceededError)
    if [type(e) for e in mapped] != list(expected) or mapped[1].http_response is not quota:
        raise IncompatibleSdk(f"firebase-admin maps FCM errors differently: {[type(e).__name__ for e in mapped]}")


class SdkSender:
    """The stock client: ``messaging.send_each_async`` with the App's own httpx client."""

    def __init__(self, app: firebase_admin.App) -> None:
        self.app = app

    async def send_each(self, messages: list[messaging.Message], dry_run: bool = False) -> messaging.BatchResponse:
        return await messaging.send_each_async(messages, dry_run=dry_run, app=self.app)

    async def aclose(self) -> None:
        """The SDK owns its client (closed with the App)."""


class DirectSender:
    """Posts each message with pyreqwest; encoding, credentials, retries and errors are firebase-admin's.

    Raises :class:`IncompatibleSdk` if the App's messaging service fails :func:`check_service`.
    ``prior_knowledge``: speak HTTP/2 to an ``http://`` endpoint without negotiation (h2c).
    Use from one event loop at a time.
    """

    def __init__(self, app: firebase_admin.App, *, prior_knowledge: bool = False) -> None:
        service = messaging._get_messaging_service(app)
        check_service(service)
        self._service = service
        self._url: str = service._fcm_url
        self._credential = service._credential
        self._retry: HttpxRetry = service._async_client._retry_config
        self._timeout = timedelta(seconds=float(service._async_client.timeout))
        # google-auth's transport for refreshing the credential (the SDK makes one per request).
        self._auth_request = google.auth.transport.requests.Request()
        self._authorization: dict[str, str] = {}
        headers = {"content-type": "application/json", **_http_client.METRICS_HEADERS, **service._fcm_headers}
        builder = (
            ClientBuilder()
            .default_headers(headers)
            .max_connections(MAX_IN_FLIGHT)
            .pool_max_idle_per_host(MAX_IN_FLIGHT)
            .follow_redirects(False)  # httpx's default: a redirect is an error answer
        )
        if prior_knowledge:
            builder = builder.http2_prior_knowledge()
        elif self._url.startswith("https://"):
            builder = builder.http2(True)
        self._client: Client = builder.build()
        # A request waits for one of the connections here, not inside the client: the SDK's
        # timeout then runs only while it is on the wire, so a busy sender's queue never times
        # out a message that was not sent (which could not safely be sent again).
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def send_each(self, messages: list[messaging.Message], dry_run: bool = False) -> messaging.BatchResponse:
        """``send_each_async``'s contract: at most 500 messages, one response each, in order."""
        if not isinstance(messages, list):
            raise ValueError("messages must be a list of messaging.Message instances.")
        if len(messages) > 500:
            raise ValueError("messages must not contain more than 500 elements.")
        bodies = [_json(self._service._message_data(message, dry_run)) for message in messages]
        self._authorize()
        try:
            responses = await asyncio.gather(*(self._send(body) for body in bodies))
        except Exception as error:  # as send_each_async: a failure that is not an HTTP error fails the batch
            raise exceptions.UnknownError(
                message=f"Unknown error while making remote service calls: {error}", cause=error
            ) from error
        return messaging.BatchResponse(list(responses))

    async def aclose(self) -> None:
        await self._client.close()

    async def _send(self, body: bytes) -> messaging.SendResponse:
        try:
            status, headers, content = await self._exchange(body)
        except httpx.HTTPError as error:
            return messaging.SendResponse(None, self._service._handle_fcm_httpx_error(error))
        if 200 <= status < 300:
            return messaging.SendResponse(json.loads(content), None)
        response = self._httpx_response(status, headers, content)
        answer = httpx.HTTPStatusError(f"FCM answered {status}", request=response.request, response=response)
        return messaging.SendResponse(None, self._service._handle_fcm_httpx_error(answer))

    async def _exchange(self, body: bytes) -> tuple[int, HeaderMap, bytes]:
        """One message, with the SDK's credential refreshes around the SDK's retries."""
        refreshes = 0
        while True:
            status, headers, content = await self._send_with_retries(body)
            if status != 401 or refreshes >= _AUTH_REFRESHES:
                return status, headers, content
            self._credential.refresh(self._auth_request)
            self._authorization = {}
            self._authorize()
            refreshes += 1

    async def _send_with_retries(self, body: bytes) -> tuple[int, HeaderMap, bytes]:
        """``HttpxRetryTransport._dispatch_with_retry`` with the App's ``HttpxRetry``: a transport
        failure is raised at once; a retryable answer is retried until the policy is exhausted."""
        retry: HttpxRetry | None = None
        while True:
            status, headers, content = await self._post(body)
            if status < 400:
                return status, headers, content
            response = self._httpx_response(status, headers, content)
            retry = retry or self._retry.copy()
            if not retry.is_retryable_response(response):
                return status, headers, content
            retry.increment(response.request, response)
            if retry.is_exhausted():
                return status, headers, content
            await retry.sleep(response)

    async def _post(self, body: bytes) -> tuple[int, HeaderMap, bytes]:
        request = self._client.post(self._url).headers(self._authorization).body_bytes(body).timeout(self._timeout)
        try:
            async with self._in_flight:
                response = await request.build().send()
                content = await response.bytes()
        except pyreqwest_errors.PyreqwestError as error:
            raise _httpx_error(error, self._url) from error
        return response.status, response.headers, bytes(content)

    def _authorize(self) -> None:
        """The credential's headers (``Authorization``, and a quota project if it has one), refreshed when expired."""
        if self._authorization and self._credential.valid:
            return
        headers: dict[str, str] = {}
        self._credential.before_request(self._auth_request, "POST", self._url, headers)
        self._authorization = headers

    def _httpx_response(self, status: int, headers: HeaderMap, content: bytes) -> httpx.Response:
        request = httpx.Request("POST", self._url)
        return httpx.Response(status, headers=list(headers.items()), content=content, request=request)


def point_messaging_at(app: firebase_admin.App, url: str) -> None:
    """Create the App's messaging service, built as the SDK builds it, posting to ``url``.

    Through the App's own service registry (``App._get_service``, which ``messaging._get_messaging_service``
    uses), so every later call with ``app=`` finds it; ``url`` replaces the instance's ``_fcm_url``. Raises
    ``RuntimeError`` if the SDK no longer keeps its endpoint there, rather than send to Google.
    """

    def service_for(app: firebase_admin.App) -> Any:
        service = messaging._MessagingService(app)
        if not isinstance(getattr(service, "_fcm_url", None), str):
            raise RuntimeError(
                "firebase-admin's messaging service no longer keeps its endpoint in _fcm_url; "
                "update upscale_api.notifications.transport before overriding the FCM endpoint"
            )
        service._fcm_url = url
        return service

    app._get_service(_MESSAGING_SERVICE, service_for)


def use_httpx_transport(app: firebase_admin.App, transport: httpx.AsyncBaseTransport) -> None:
    """Put ``transport`` under the App's stock httpx client, inside the SDK's retry transports
    (``HttpxAsyncClient._mounts``, ``HttpxRetryTransport._wrapped_transport``): the SDK's auth flow,
    retries and error handling stay; only the connections change. For the benchmark's comparison rows."""
    check_sdk()
    mounts = messaging._get_messaging_service(app)._async_client._mounts
    if not mounts or not all(isinstance(t, HttpxRetryTransport) for t in mounts.values()):
        raise IncompatibleSdk("firebase-admin's async client no longer mounts HttpxRetryTransport")
    for retrying in mounts.values():
        retrying._wrapped_transport = transport


def _json(data: Any) -> bytes:
    """JSON as httpx writes a ``json=`` body, the way the SDK sends it."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _fcm_error(code: int, status: str, error_code: str) -> dict[str, Any]:
    details = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code}]
    return {"error": {"code": code, "status": status, "message": "check", "details": details}}


# pyreqwest's failures as the httpx exceptions the SDK's error mapping knows, most specific first.
_TRANSPORT_ERRORS: tuple[tuple[type[pyreqwest_errors.PyreqwestError], type[httpx.TransportError]], ...] = (
    (pyreqwest_errors.ConnectTimeoutError, httpx.ConnectTimeout),
    (pyreqwest_errors.ReadTimeoutError, httpx.ReadTimeout),
    (pyreqwest_errors.WriteTimeoutError, httpx.WriteTimeout),
    (pyreqwest_errors.PoolTimeoutError, httpx.PoolTimeout),
    (pyreqwest_errors.RequestTimeoutError, httpx.TimeoutException),
    (pyreqwest_errors.ConnectError, httpx.ConnectError),
    (pyreqwest_errors.ReadError, httpx.ReadError),
    (pyreqwest_errors.WriteError, httpx.WriteError),
    (pyreqwest_errors.NetworkError, httpx.NetworkError),
)


def _httpx_error(error: pyreqwest_errors.PyreqwestError, url: str) -> httpx.TransportError:
    kind = next((mapped for source, mapped in _TRANSPORT_ERRORS if isinstance(error, source)), httpx.TransportError)
    return kind(str(error), request=httpx.Request("POST", url))
