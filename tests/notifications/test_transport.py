"""The direct sender (pyreqwest) against the stock firebase-admin client, both on the local fake FCM.

Whatever the direct sender does, firebase-admin must still decide it: the bytes of each message,
the exception each FCM answer becomes, what is retried, how often. So every test sends the same
thing both ways and compares what the fake received and what came back. And when the installed
firebase-admin is not the one the direct sender was written against, the stock client takes over.
"""

from __future__ import annotations

import logging
import socket
import time
import uuid

import firebase_admin
import pytest
from firebase_admin import exceptions, messaging

from tests.fakes.fcm import FakeFCM, Outcome
from upscale_api.notifications import transport
from upscale_api.notifications.fcm import messaging_app
from upscale_api.notifications.transport import BatchSender, DirectSender, SdkSender


def _app(endpoint: str, timeout_seconds: float = 5.0) -> firebase_admin.App:
    """An App of its own, so that no sender made for another test is reused."""
    return messaging_app(f"demo-transport-{uuid.uuid4().hex[:8]}", endpoint=endpoint, timeout_seconds=timeout_seconds)


def _note(fid: str) -> messaging.Message:
    return messaging.Message(
        fid=fid,
        notification=messaging.Notification(title="Teden brez avta", body="Še 3 dni do cilja — na kolo!"),
        data={"kind": "reminder", "campaign": "7"},
        android=messaging.AndroidConfig(ttl=21600),
    )


def _both(fcm: FakeFCM) -> dict[str, BatchSender]:
    return {"direct": DirectSender(_app(fcm.url)), "stock": SdkSender(_app(fcm.url))}


async def test_the_bytes_on_the_wire_are_the_sdks(fcm: FakeFCM) -> None:
    for name, sender in _both(fcm).items():
        batch = await sender.send_each([_note(f"fid-{name}")])
        assert batch.success_count == 1

    [direct], [stock] = fcm.sent_to("fid-direct"), fcm.sent_to("fid-stock")
    assert direct.raw == stock.raw.replace(b"fid-stock", b"fid-direct")
    assert direct.message["notification"]["body"] == "Še 3 dni do cilja — na kolo!"
    assert direct.authorization == stock.authorization
    assert direct.http_version == "1.1"


@pytest.mark.parametrize(
    ("outcome", "error_class", "status", "requests"),
    [
        ("unregistered", messaging.UnregisteredError, 404, 1),
        ("sender_id_mismatch", messaging.SenderIdMismatchError, 403, 1),
        ("invalid_argument", exceptions.InvalidArgumentError, 400, 1),
        ("quota_exceeded", messaging.QuotaExceededError, 429, 1),
        # On 401 the credential is refreshed and the message tried twice more.
        ("third_party_auth_error", messaging.ThirdPartyAuthError, 401, 3),
    ],
)
async def test_each_fcm_error_becomes_the_sdks_exception(
    fcm: FakeFCM, outcome: Outcome, error_class: type[Exception], status: int, requests: int
) -> None:
    fcm.retry_after_seconds = 42
    for name, sender in _both(fcm).items():
        fcm.always(f"fid-{name}", outcome)

        [response] = (await sender.send_each([_note(f"fid-{name}")])).responses

        assert type(response.exception) is error_class, name
        assert response.exception.http_response.status_code == status
        if outcome == "quota_exceeded":
            assert response.exception.http_response.headers["Retry-After"] == "42"
        assert len(fcm.sent_to(f"fid-{name}")) == requests, name


async def test_unavailable_and_internal_are_retried_by_the_sdks_policy(fcm: FakeFCM) -> None:
    for name, sender in _both(fcm).items():
        fcm.script(f"fid-{name}-503", ["unavailable", "ok"])
        fcm.script(f"fid-{name}-500", ["internal", "internal", "ok"])

        batch = await sender.send_each([_note(f"fid-{name}-503"), _note(f"fid-{name}-500")])

        assert batch.success_count == 2, name
        assert [r.status for r in fcm.sent_to(f"fid-{name}-503")] == [503, 200]
        assert [r.status for r in fcm.sent_to(f"fid-{name}-500")] == [500, 500, 200]


async def test_a_batch_keeps_its_order_and_a_dry_run_delivers_nothing(fcm: FakeFCM) -> None:
    sender = DirectSender(_app(fcm.url))
    fids = [f"fid-{i:03d}" for i in range(500)]
    fcm.always("fid-007", "unregistered")

    batch = await sender.send_each([_note(f) for f in fids])
    dry = await sender.send_each([_note("fid-dry")], dry_run=True)

    assert batch.success_count == 499
    assert isinstance(batch.responses[7].exception, messaging.UnregisteredError)
    assert [r.message_id for r in batch.responses if r.success] == [
        r.message_id for r in sorted(fcm.delivered(), key=lambda r: fids.index(r.target or ""))
    ]
    assert dry.responses[0].message_id.endswith("/messages/fake_message_id")
    assert fcm.sent_to("fid-dry")[0].validate_only
    assert "fid-dry" not in {r.target for r in fcm.delivered()}


async def test_the_http_timeout_bounds_a_slow_endpoint_and_is_not_retried(fcm: FakeFCM) -> None:
    sender = DirectSender(_app(fcm.url, timeout_seconds=0.3))
    fcm.delay_seconds = 1.0

    started = time.monotonic()
    [response] = (await sender.send_each([_note("fid-slow")])).responses

    assert isinstance(response.exception, exceptions.DeadlineExceededError)
    assert time.monotonic() - started < 1.0
    assert len(fcm.sent_to("fid-slow")) == 1


async def test_an_endpoint_that_refuses_connections_is_unavailable() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    senders = {"direct": DirectSender(_app(closed)), "stock": SdkSender(_app(closed))}

    for name, sender in senders.items():
        [response] = (await sender.send_each([_note("fid-nowhere")])).responses
        assert type(response.exception) is exceptions.UnavailableError, name


async def test_more_than_500_messages_are_refused_like_the_sdk(fcm: FakeFCM) -> None:
    with pytest.raises(ValueError, match="500"):
        await DirectSender(_app(fcm.url)).send_each([_note("fid-x")] * 501)
    assert fcm.received == []


def test_the_installed_firebase_admin_passes_the_check(fcm: FakeFCM) -> None:
    app = _app(fcm.url)

    transport.check_sdk()
    transport.check_service(messaging._get_messaging_service(app))
    assert isinstance(transport.batch_sender(app), DirectSender)
    assert transport.batch_sender(app) is transport.batch_sender(app)
    assert isinstance(transport.batch_sender(app, "httpx"), SdkSender)


def test_another_firebase_admin_release_fails_the_version_check() -> None:
    for other in ("7.8.0", "8.0.0", "6.9.1"):
        with pytest.raises(transport.IncompatibleSdk, match=other):
            transport.check_sdk(other)
    transport.check_sdk("7.7.3")


async def test_another_release_falls_back_to_the_stock_client_with_a_warning(
    fcm: FakeFCM, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(firebase_admin, "__version__", "7.9.0")
    app = _app(fcm.url)

    with caplog.at_level(logging.WARNING, logger=transport.__name__):
        sender = transport.batch_sender(app)

    assert isinstance(sender, SdkSender)
    assert "firebase-admin 7.9.0 is installed" in caplog.text
    assert (await sender.send_each([_note("fid-fallback")])).success_count == 1
    assert [r.target for r in fcm.delivered()] == ["fid-fallback"]


async def test_a_messaging_service_without_what_the_direct_sender_uses_falls_back(
    fcm: FakeFCM, caplog: pytest.LogCaptureFixture
) -> None:
    app = _app(fcm.url)
    service = messaging._get_messaging_service(app)
    del service._fcm_headers  # as if a release had renamed it

    with caplog.at_level(logging.WARNING, logger=transport.__name__):
        sender = transport.batch_sender(app)

    assert isinstance(sender, SdkSender)
    assert "_fcm_headers" in caplog.text


async def test_messages_waiting_for_a_connection_are_not_timed_out_before_they_are_sent(fcm: FakeFCM) -> None:
    # More messages than connections, each answer slow: the timeout counts from the moment a
    # message goes on the wire, so the ones queued behind the first hundred still arrive.
    sender = DirectSender(_app(fcm.url, timeout_seconds=2.5))
    await sender.send_each([_note(f"fid-warm-{i}") for i in range(transport.MAX_IN_FLIGHT)])  # connections open
    fcm.delay_seconds = 1.0
    count = transport.MAX_IN_FLIGHT * 3 + 50  # the last wait three answers for a connection: 3 s > 2.5 s

    responses = (await sender.send_each([_note(f"fid-queued-{i}") for i in range(count)])).responses

    assert [r.exception for r in responses if not r.success] == []
    assert all(len(fcm.sent_to(f"fid-queued-{i}")) == 1 for i in range(count))
