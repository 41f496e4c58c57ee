"""The real firebase-admin messaging client against the local fake FCM, through messaging_app().

These pin down what the notification sender relies on: which exception each FCM error becomes, what
the SDK retries by itself (500/503, not 429), and that a full batch of 500 arrives. A 503 retried
once costs no wait (the SDK's first retry has no backoff); 503s until the SDK gives up would cost
0 + 1 + 2 + 4 = 7 s of backoff, so no test does that.
"""

from __future__ import annotations

import time
from typing import Any

import firebase_admin
import firebase_admin.credentials
import httpx
import pytest
from firebase_admin import exceptions, messaging

from tests.fakes.fcm import FCM_ERROR_TYPE, FakeFCM
from upscale_api.notifications.fcm import OFFLINE_TOKEN, messaging_app

PROJECT = "demo-upscale-fcm"


@pytest.fixture
def app(fcm: FakeFCM) -> firebase_admin.App:
    return messaging_app(PROJECT, endpoint=fcm.url, timeout_seconds=5.0)


def note(fid: str, **data: str) -> messaging.Message:
    return messaging.Message(
        fid=fid, notification=messaging.Notification(title="Kolesarski teden", body="Nova akcija"), data=data or None
    )


async def send_one(app: firebase_admin.App, fid: str) -> messaging.SendResponse:
    batch = await messaging.send_each_async([note(fid)], app=app)
    assert len(batch.responses) == 1
    return batch.responses[0]


async def test_success_returns_message_ids_and_the_fake_records_requests(fcm: FakeFCM, app: firebase_admin.App) -> None:
    batch = await messaging.send_each_async([note("fid-a", campaign="7"), note("fid-b"), note("fid-c")], app=app)

    assert batch.success_count == 3
    ids = [r.message_id for r in batch.responses]
    assert all(i.startswith(f"projects/{PROJECT}/messages/") for i in ids)
    assert len(set(ids)) == 3
    [first] = fcm.sent_to("fid-a")
    assert first.project == PROJECT
    assert first.target_kind == "fid"
    assert first.authorization == f"Bearer {OFFLINE_TOKEN}"
    assert first.http_version == "1.1"
    assert first.message == {
        "fid": "fid-a",
        "notification": {"title": "Kolesarski teden", "body": "Nova akcija"},
        "data": {"campaign": "7"},
    }
    assert {r.message_id for r in fcm.delivered()} == set(ids)


async def test_dry_run_is_validated_but_not_delivered(fcm: FakeFCM, app: firebase_admin.App) -> None:
    batch = await messaging.send_each_async([note("fid-dry")], dry_run=True, app=app)

    assert batch.responses[0].message_id == f"projects/{PROJECT}/messages/fake_message_id"
    assert fcm.sent_to("fid-dry")[0].validate_only
    assert fcm.delivered() == []


@pytest.mark.parametrize(
    ("outcome", "error_class", "status"),
    [
        ("unregistered", messaging.UnregisteredError, 404),
        ("sender_id_mismatch", messaging.SenderIdMismatchError, 403),
        ("invalid_argument", exceptions.InvalidArgumentError, 400),
        ("third_party_auth_error", messaging.ThirdPartyAuthError, 401),
    ],
)
async def test_fcm_errors_map_to_sdk_exceptions(
    fcm: FakeFCM, app: firebase_admin.App, outcome: Any, error_class: type[Exception], status: int
) -> None:
    fcm.always("fid-x", outcome)

    response = await send_one(app, "fid-x")

    assert not response.success
    assert type(response.exception) is error_class
    assert response.exception.http_response.status_code == status
    if outcome == "third_party_auth_error":
        # On 401 the SDK's auth flow refreshes the credential and tries twice more.
        assert len(fcm.sent_to("fid-x")) == 3
    else:
        assert len(fcm.sent_to("fid-x")) == 1


async def test_quota_exceeded_is_not_retried_and_exposes_retry_after(fcm: FakeFCM, app: firebase_admin.App) -> None:
    fcm.retry_after_seconds = 42
    fcm.always("fid-q", "quota_exceeded")

    response = await send_one(app, "fid-q")

    exc = response.exception
    assert isinstance(exc, messaging.QuotaExceededError)
    assert isinstance(exc, exceptions.ResourceExhaustedError)
    assert exc.http_response.status_code == 429
    assert exc.http_response.headers["Retry-After"] == "42"
    assert len(fcm.sent_to("fid-q")) == 1  # the SDK retries 500/503 only


async def test_the_sdk_retries_unavailable_itself(fcm: FakeFCM, app: firebase_admin.App) -> None:
    fcm.script("fid-flaky", ["unavailable", "ok"])

    response = await send_one(app, "fid-flaky")

    assert response.success
    assert [r.status for r in fcm.sent_to("fid-flaky")] == [503, 200]


async def test_a_batch_of_500_all_arrives(fcm: FakeFCM) -> None:
    # Over plain HTTP the SDK's httpx client speaks HTTP/1.1 with at most 100 connections (Google's
    # FCM gets one multiplexed HTTP/2 connection instead). While those connections are being opened,
    # httpcore's pool burns CPU superlinearly in the queued requests: a batch of 500 on a fresh App
    # took ~6 s on 2 CPUs, against ~1 s once the connections are open, and the wait for a pooled
    # connection counts against httpTimeout. So: a generous timeout, and open the 100 connections first.
    batch_app = messaging_app("demo-upscale-fcm-batch", endpoint=fcm.url, timeout_seconds=30.0)
    warm_up = await messaging.send_each_async([note(f"warm-{i}") for i in range(100)], app=batch_app)
    assert warm_up.success_count == 100
    fcm.reset()
    fids = [f"fid-{i:03d}" for i in range(500)]
    fcm.always("fid-007", "unregistered")

    batch = await messaging.send_each_async([note(f) for f in fids], app=batch_app)

    assert batch.success_count == 499
    assert isinstance(batch.responses[7].exception, messaging.UnregisteredError)
    assert sorted(r.target for r in fcm.received) == fids
    assert len({r.message_id for r in fcm.delivered()}) == 499


async def test_http_timeout_bounds_a_slow_endpoint(fcm: FakeFCM) -> None:
    slow_app = messaging_app("demo-upscale-fcm-slow", endpoint=fcm.url, timeout_seconds=0.3)
    fcm.delay_seconds = 1.0

    started = time.monotonic()
    response = await send_one(slow_app, "fid-slow")

    assert isinstance(response.exception, exceptions.DeadlineExceededError)
    assert time.monotonic() - started < 1.0
    assert len(fcm.sent_to("fid-slow")) == 1  # timeouts are not retried


async def test_apps_with_different_endpoints_do_not_interfere(fcm: FakeFCM, app: firebase_admin.App) -> None:
    with FakeFCM() as other:
        other_app = messaging_app(PROJECT, endpoint=other.url, timeout_seconds=5.0)

        assert (await send_one(other_app, "fid-other")).success
        assert (await send_one(app, "fid-main")).success

        assert [r.target for r in other.received] == ["fid-other"]
        assert [r.target for r in fcm.received] == ["fid-main"]
    assert messaging._MessagingService.FCM_URL == "https://fcm.googleapis.com/v1/projects/{0}/messages:send"


def test_the_sync_client_uses_the_endpoint_too(fcm: FakeFCM, app: firebase_admin.App) -> None:
    message_id = messaging.send(note("fid-sync"), app=app)

    assert [r.message_id for r in fcm.sent_to("fid-sync")] == [message_id]


def test_messaging_app_is_cached_per_project_and_endpoint(fcm: FakeFCM, app: firebase_admin.App) -> None:
    assert messaging_app(PROJECT, endpoint=fcm.url + "/", timeout_seconds=5.0) is app
    assert app.options.get("httpTimeout") == 5.0
    with pytest.raises(ValueError, match="httpTimeout"):
        messaging_app(PROJECT, endpoint=fcm.url, timeout_seconds=6.0)
    with pytest.raises(ValueError, match="endpoint"):
        messaging_app(PROJECT, endpoint="127.0.0.1:8080")


def test_production_app_uses_application_default_credentials() -> None:
    app = messaging_app("demo-upscale-fcm-prod")

    assert isinstance(app.credential, firebase_admin.credentials.ApplicationDefault)
    assert app.options.get("httpTimeout") == 10.0
    assert app.project_id == "demo-upscale-fcm-prod"


GOOD: dict[str, Any] = {"message": {"fid": "fid-raw", "data": {"k": "v"}, "notification": {"title": "t"}}}


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"message": {"fid": "a", "token": "b"}}, "oneof field 'target' is already set"),
        ({"message": {"data": {"k": "v"}}}, "Recipient of the message is not set"),
        ({"message": {"fid": "a", "data": {"count": 3}}}, "message.data[0].value"),
        ({"message": {"fid": "a", "data": {"google.x": "1"}}}, "Invalid data payload key"),
        ({"message": {"fid": "a", "notification": {"title": "t", "icon": "x"}}}, 'Unknown name "icon"'),
        ({"message": {"fid": "a", "android": "high"}}, "message.android"),
        ({"message": {"fid": "a", "priority": "high"}}, 'Unknown name "priority"'),
        ({"message": {"topic": "no spaces allowed"}}, "Invalid topic name"),
        ({"message": {"fid": ""}}, "message.fid"),
        ({"fid": "a"}, 'Unknown name "fid"'),
        ({"validate_only": "yes", **GOOD}, "validate_only"),
        ([GOOD], "Expected an object"),
    ],
)
def test_the_fake_rejects_malformed_messages(fcm: FakeFCM, body: Any, complaint: str) -> None:
    response = httpx.post(fcm.send_url(PROJECT), json=body, headers={"Authorization": "Bearer t"})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 400
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["details"] == [{"@type": FCM_ERROR_TYPE, "errorCode": "INVALID_ARGUMENT"}]
    assert complaint in error["message"]
    [received] = fcm.received
    assert received.outcome == "rejected"


def test_the_fake_rejects_non_json_and_missing_credentials(fcm: FakeFCM) -> None:
    not_json = httpx.post(fcm.send_url(PROJECT), content=b"{nope", headers={"Authorization": "Bearer t"})
    assert not_json.status_code == 400
    assert not_json.json()["error"]["status"] == "INVALID_ARGUMENT"

    anonymous = httpx.post(fcm.send_url(PROJECT), json=GOOD)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["status"] == "UNAUTHENTICATED"

    accepted = httpx.post(fcm.send_url(PROJECT), json=GOOD, headers={"Authorization": "Bearer t"})
    assert accepted.status_code == 200
    assert [r.outcome for r in fcm.received] == ["rejected", "unauthenticated", "ok"]
