"""A local fake of the FCM HTTP v1 send API, for driving the real firebase-admin client in tests.

    with FakeFCM() as fcm:
        app = messaging_app("demo-upscale", endpoint=fcm.url)
        fcm.always("fid-gone", "unregistered")
        fcm.script("fid-flaky", ["unavailable", "ok"])   # one-shot sequence, then the usual behaviour
        fcm.delay_seconds = 0.5                           # every answer waits this long
        ... await messaging.send_each_async(messages, app=app) ...
        assert len(fcm.sent_to("fid-flaky")) == 2

It serves ``POST /v1/projects/{project}/messages:send`` on 127.0.0.1 (a free port) from uvicorn running
in a background thread with its own event loop, so it answers while the test's loop awaits the SDK,
and takes hundreds of concurrent connections (the SDK sends a whole batch at once). Its sockets set
TCP_NODELAY, like a real server's, so keep-alive answers do not wait on delayed ACKs. Bodies are
checked against the v1 message format, and invalid ones get FCM's 400 ``INVALID_ARGUMENT``; a missing
bearer token gets 401 ``UNAUTHENTICATED``. Every request is recorded, in arrival order, in
:attr:`FakeFCM.received`.

Outcome of a valid request for a target: the next step of its :meth:`~FakeFCM.script` if one is left,
else its :meth:`~FakeFCM.always` behaviour, else :attr:`FakeFCM.default`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, get_args

import uvicorn

Outcome = Literal[
    "ok",
    "unregistered",
    "sender_id_mismatch",
    "invalid_argument",
    "quota_exceeded",
    "third_party_auth_error",
    "internal",
    "unavailable",
]
OUTCOMES: frozenset[str] = frozenset(get_args(Outcome))

# outcome -> (HTTP status, google.rpc status, FCM errorCode, message); "ok" is not an error.
_ERRORS: dict[str, tuple[int, str, str, str]] = {
    "unregistered": (404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."),
    "sender_id_mismatch": (403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch"),
    "invalid_argument": (
        400,
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        "The registration token is not a valid FCM registration token",
    ),
    "quota_exceeded": (
        429,
        "RESOURCE_EXHAUSTED",
        "QUOTA_EXCEEDED",
        "Quota exceeded for quota metric 'Send requests' of service 'fcm.googleapis.com'.",
    ),
    "third_party_auth_error": (
        401,
        "UNAUTHENTICATED",
        "THIRD_PARTY_AUTH_ERROR",
        "Auth error from APNS or Web Push Service",
    ),
    "internal": (500, "INTERNAL", "INTERNAL", "Internal error encountered."),
    "unavailable": (503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable."),
}

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
TARGETS = ("token", "topic", "condition", "fid")
_MESSAGE_FIELDS = frozenset({*TARGETS, "name", "data", "notification", "android", "webpush", "apns", "fcm_options"})
_OBJECT_FIELDS = {
    "android": "AndroidConfig",
    "webpush": "WebpushConfig",
    "apns": "ApnsConfig",
    "fcm_options": "FcmOptions",
}
_NOTIFICATION_FIELDS = frozenset({"title", "body", "image"})
_RESERVED_DATA_KEYS = frozenset({"from", "message_type"})
_TOPIC = re.compile(r"[a-zA-Z0-9\-_.~%]+")
_PATH = re.compile(r"/v1/projects/([^/]+)/messages:send")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class Received:
    """One request as the fake saw it."""

    project: str
    http_version: str  # as uvicorn saw it; the SDK asks httpx for HTTP/2, which over http:// means 1.1
    target_kind: str | None  # "token", "topic", "condition" or "fid"; None if the body was rejected
    target: str | None
    body: Any  # the parsed JSON body, or None if it was not JSON
    raw: bytes
    authorization: str | None
    at: float  # time.monotonic() on arrival
    status: int
    outcome: str  # an Outcome, or "rejected" (invalid body) / "unauthenticated" (no bearer token)
    message_id: str | None  # the "name" returned on success

    @property
    def validate_only(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("validate_only") is True

    @property
    def message(self) -> dict[str, Any]:
        message = self.body.get("message") if isinstance(self.body, dict) else None
        return message if isinstance(message, dict) else {}


class InvalidMessage(Exception):
    """A request body FCM would refuse with 400 INVALID_ARGUMENT."""


class FakeFCM:
    """The fake FCM v1 server. Use as a context manager, or call :meth:`start` and :meth:`stop`."""

    def __init__(
        self,
        *,
        default: Outcome = "ok",
        delay_seconds: float = 0.0,
        retry_after_seconds: int = 30,
        startup_timeout: float = 10.0,
    ) -> None:
        self.default: Outcome = default
        self.delay_seconds = delay_seconds  # every answer (valid or not) waits this long
        self.retry_after_seconds = retry_after_seconds  # Retry-After of quota_exceeded answers
        self.startup_timeout = startup_timeout
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._scripts: dict[str, deque[Outcome]] = {}
        self._always: dict[str, Outcome] = {}
        self._ids = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._port = 0

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeFCM:
        if self._thread is not None:
            raise RuntimeError("FakeFCM already started")
        # TCP_NODELAY, as a real server would: uvicorn writes a response's head and body separately, and
        # with Nagle's algorithm on, the body of every keep-alive response after the first waits for the
        # client's delayed ACK (~40 ms). asyncio sets TCP_NODELAY on accepted sockets only when the
        # listening socket says proto=IPPROTO_TCP (proto 0 is skipped), and Linux also copies the option
        # from the listening socket to accepted ones; both are set here.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._asgi,
            interface="asgi3",
            lifespan="off",
            proxy_headers=False,
            log_level="warning",
            log_config=None,  # leave the test run's logging configuration alone
            access_log=False,
            limit_concurrency=None,
            backlog=4096,
            timeout_keep_alive=30,
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        self._server = server

        def run() -> None:
            try:
                asyncio.run(server.serve(sockets=[sock]))
            except BaseException as exc:  # reported by start() or stop()
                self._failure = exc

        self._thread = threading.Thread(target=run, name=f"fake-fcm-{self._port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                raise RuntimeError(f"fake FCM did not start within {self.startup_timeout} s") from self._failure
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=10)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeFCM:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``; pass it as ``messaging_app(..., endpoint=)``."""
        if not self._port:
            raise RuntimeError("FakeFCM is not started")
        return f"http://127.0.0.1:{self._port}"

    def send_url(self, project: str) -> str:
        return f"{self.url}/v1/projects/{project}/messages:send"

    # -- scripting ----------------------------------------------------------------------------

    def script(self, target: str, outcomes: Iterable[Outcome]) -> None:
        """Answer the next requests for ``target`` with ``outcomes`` in order (appended to any left)."""
        steps = list(outcomes)
        for outcome in steps:
            _check_outcome(outcome)
        with self._lock:
            self._scripts.setdefault(target, deque()).extend(steps)

    def always(self, target: str, outcome: Outcome) -> None:
        """Answer every request for ``target`` (once its script is used up) with ``outcome``."""
        _check_outcome(outcome)
        with self._lock:
            self._always[target] = outcome

    def reset(self) -> None:
        """Forget requests, scripts and per-target behaviour; back to answering "ok" at once."""
        with self._lock:
            self._received.clear()
            self._scripts.clear()
            self._always.clear()
        self.default = "ok"
        self.delay_seconds = 0.0

    # -- assertions ---------------------------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        """Every request so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._received)

    def sent_to(self, target: str) -> list[Received]:
        """Requests addressed to ``target`` (a token, fid, topic or condition), whatever the answer."""
        return [r for r in self.received if r.target == target]

    def delivered(self) -> list[Received]:
        """Requests answered with success, dry runs (validate_only) excluded."""
        return [r for r in self.received if r.outcome == "ok" and not r.validate_only]

    # -- the server ---------------------------------------------------------------------------

    def _next_outcome(self, target: str) -> Outcome:
        with self._lock:
            steps = self._scripts.get(target)
            if steps:
                return steps.popleft()
            return self._always.get(target, self.default)

    def _record(self, received: Received) -> None:
        with self._lock:
            self._received.append(received)

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        arrived = time.monotonic()
        raw = await _read_body(receive)
        match = _PATH.fullmatch(scope["path"])
        if match is None:
            await _respond(send, 404, _error(404, "NOT_FOUND", f"No such path: {scope['path']}", None))
            return
        if scope["method"] != "POST":
            await _respond(send, 405, _error(405, "METHOD_NOT_ALLOWED", "Use POST.", None))
            return
        project = match.group(1)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        authorization = headers.get("authorization")
        body, kind, target, problem = _parse(raw)
        message_id: str | None = None
        extra_headers: list[tuple[bytes, bytes]] = []

        if not authorization or not authorization.startswith("Bearer ") or not authorization[7:].strip():
            outcome, status = "unauthenticated", 401
            payload = _error(
                401,
                "UNAUTHENTICATED",
                "Request is missing required authentication credential. Expected OAuth 2 access token.",
                None,
            )
        elif problem is not None or target is None:
            outcome, status = "rejected", 400
            payload = _error(
                400, "INVALID_ARGUMENT", problem or "Request contains an invalid argument.", "INVALID_ARGUMENT"
            )
        else:
            outcome = self._next_outcome(target)
            if outcome == "ok":
                status = 200
                if body.get("validate_only") is True:
                    message_id = f"projects/{project}/messages/fake_message_id"  # what FCM answers to dry runs
                else:
                    message_id = f"projects/{project}/messages/0:{time.time_ns()}%fake{next(self._ids):08d}"
                payload = {"name": message_id}
            else:
                status, rpc_status, error_code, text = _ERRORS[outcome]
                payload = _error(status, rpc_status, text, error_code)
                if outcome == "quota_exceeded":
                    extra_headers.append((b"retry-after", str(self.retry_after_seconds).encode()))

        self._record(
            Received(
                project=project,
                http_version=scope.get("http_version", "1.1"),
                target_kind=kind,
                target=target,
                body=body,
                raw=raw,
                authorization=authorization,
                at=arrived,
                status=status,
                outcome=outcome,
                message_id=message_id,
            )
        )
        if self.delay_seconds > 0:
            await asyncio.sleep(self.delay_seconds)
        await _respond(send, status, payload, extra_headers)


def _parse(raw: bytes) -> tuple[Any, str | None, str | None, str | None]:
    """The body, its target kind and target, and what FCM would say is wrong with it (None: nothing)."""
    try:
        body = json.loads(raw)
    except ValueError:
        return None, None, None, f"Invalid JSON payload received. Unexpected token: {raw[:40]!r}"
    try:
        kind, target = validate_request(body)
    except InvalidMessage as exc:
        return body, None, None, str(exc)
    return body, kind, target, None


def validate_request(body: Any) -> tuple[str, str]:
    """Check a send request body against the FCM v1 format; returns (target kind, target)."""
    message = _message_of(body)
    kind, target = _target_of(message)
    if "data" in message:
        _check_data(message["data"])
    if "notification" in message:
        _check_notification(message["notification"])
    for name, type_name in _OBJECT_FIELDS.items():
        if name in message and not isinstance(message[name], dict):
            raise InvalidMessage(
                f"Invalid value at 'message.{name}' (type.googleapis.com/google.firebase.fcm.v1.{type_name}), "
                f"{json.dumps(message[name])}"
            )
    return kind, target


def _message_of(body: Any) -> dict[str, Any]:
    """The request envelope: only ``message`` and ``validate_only``, with a known field set."""
    if not isinstance(body, dict):
        raise InvalidMessage("Invalid JSON payload received. Expected an object.")
    for name in body:
        if name not in ("message", "validate_only", "validateOnly"):
            raise InvalidMessage(f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.')
    validate_only = body.get("validate_only", body.get("validateOnly", False))
    if not isinstance(validate_only, bool):
        raise InvalidMessage(f"Invalid value at 'validate_only' (TYPE_BOOL), {json.dumps(validate_only)}")
    message = body.get("message")
    if not isinstance(message, dict):
        raise InvalidMessage("Request contains an invalid argument: 'message' must be an object.")
    for name in message:
        if name not in _MESSAGE_FIELDS:
            raise InvalidMessage(
                f"Invalid JSON payload received. Unknown name \"{name}\" at 'message': Cannot find field."
            )
    return message


def _target_of(message: dict[str, Any]) -> tuple[str, str]:
    """Exactly one target (token, fid, topic or condition), a non-empty string."""
    targets = [t for t in TARGETS if t in message]
    if not targets:
        raise InvalidMessage("Recipient of the message is not set.")
    if len(targets) > 1:
        raise InvalidMessage(
            f"Invalid value at 'message' (oneof), oneof field 'target' is already set. Cannot set '{targets[1]}'"
        )
    kind = targets[0]
    target = message[kind]
    if not isinstance(target, str) or not target:
        raise InvalidMessage(f"Invalid value at 'message.{kind}' (TYPE_STRING), {json.dumps(target)}")
    if kind == "topic" and not _TOPIC.fullmatch(target):
        raise InvalidMessage(f"Invalid topic name: {target}")
    return kind, target


def _check_data(data: Any) -> None:
    """String values only, and no key FCM reserves."""
    if not isinstance(data, dict):
        raise InvalidMessage(f"Invalid value at 'message.data' (type.googleapis.com/google.protobuf.Struct), {data!r}")
    for index, (key, value) in enumerate(data.items()):
        if not isinstance(value, str):
            raise InvalidMessage(f"Invalid value at 'message.data[{index}].value' (TYPE_STRING), {json.dumps(value)}")
        if key in _RESERVED_DATA_KEYS or key.startswith(("google", "gcm")):
            raise InvalidMessage(f"Invalid data payload key: {key}")


def _check_notification(notification: Any) -> None:
    if not isinstance(notification, dict):
        raise InvalidMessage(
            "Invalid value at 'message.notification' (type.googleapis.com/google.firebase.fcm.v1.Notification), "
            f"{notification!r}"
        )
    for key, value in notification.items():
        if key not in _NOTIFICATION_FIELDS:
            raise InvalidMessage(
                f"Invalid JSON payload received. Unknown name \"{key}\" at 'message.notification': Cannot find field."
            )
        if not isinstance(value, str):
            raise InvalidMessage(f"Invalid value at 'message.notification.{key}' (TYPE_STRING), {json.dumps(value)}")


def _check_outcome(outcome: str) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; one of {sorted(OUTCOMES)}")


def _error(code: int, status: str, message: str, error_code: str | None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "status": status, "message": message}
    if error_code is not None:
        error["details"] = [{"@type": FCM_ERROR_TYPE, "errorCode": error_code}]
    return {"error": error}


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        event = await receive()
        if event["type"] == "http.disconnect":
            break
        chunks.append(event.get("body", b""))
        if not event.get("more_body", False):
            break
    return b"".join(chunks)


async def _respond(send: Send, status: int, payload: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    content = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=UTF-8"),
                (b"content-length", str(len(content)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})
