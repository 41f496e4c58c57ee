"""Devices, notification preferences and the in-app inbox."""

from __future__ import annotations

import uuid

from tests.conftest import MakeResident
from tests.factories import Resident, assert_problem
from upscale_api import db

ANDROID = {"platform": "android", "app_version": "1.4.0", "registration_token": "tok-1", "locale": "sl"}


async def test_a_device_is_registered_then_refreshed(resident: Resident, pool: db.Pool) -> None:
    fid = f"fid-{uuid.uuid4().hex}"

    first = await resident.put(f"/v1/me/devices/{fid}", json=ANDROID)
    again = await resident.put(f"/v1/me/devices/{fid}", json=ANDROID | {"app_version": "1.5.0"})

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["app_version"] == "1.5.0" and again.json()["has_registration_token"] is True
    assert [d["installation_id"] for d in (await resident.get("/v1/me/devices")).json()] == [fid]
    assert await pool.fetchval("SELECT count(*) FROM devices WHERE installation_id = $1", fid) == 1


async def test_a_device_moves_to_the_resident_who_holds_it(make_resident: MakeResident, pool: db.Pool) -> None:
    """A shared phone changing hands: the new resident's app sends the token only that phone has."""
    alice, bob = await make_resident(), await make_resident()
    fid = f"fid-{uuid.uuid4().hex}"
    await alice.put(f"/v1/me/devices/{fid}", json=ANDROID)

    moved = await bob.put(f"/v1/me/devices/{fid}", json=ANDROID)

    assert moved.status_code == 200
    assert (await alice.get("/v1/me/devices")).json() == []
    assert [d["installation_id"] for d in (await bob.get("/v1/me/devices")).json()] == [fid]
    assert await pool.fetchval("SELECT count(*) FROM devices WHERE installation_id = $1", fid) == 1


async def test_knowing_an_installation_id_does_not_take_the_device(make_resident: MakeResident, pool: db.Pool) -> None:
    """Otherwise anyone who learnt a device's id could silence its owner's pushes."""
    alice, mallory = await make_resident(), await make_resident()
    fid = f"fid-{uuid.uuid4().hex}"
    await alice.put(f"/v1/me/devices/{fid}", json=ANDROID)
    fid_only = f"fid-{uuid.uuid4().hex}"
    await alice.put(f"/v1/me/devices/{fid_only}", json={"platform": "ios", "app_version": "2.0.0"})

    guessed = await mallory.put(f"/v1/me/devices/{fid}", json=ANDROID | {"registration_token": "tok-mallory"})
    without_token = await mallory.put(f"/v1/me/devices/{fid}", json={"platform": "android", "app_version": "1.4.0"})
    tokenless = await mallory.put(f"/v1/me/devices/{fid_only}", json={"platform": "ios", "app_version": "2.0.0"})

    for refused in (guessed, without_token, tokenless):
        assert_problem(refused, 409, "conflict", "installation_id")
    assert sorted(d["installation_id"] for d in (await alice.get("/v1/me/devices")).json()) == sorted([fid, fid_only])
    assert (await mallory.get("/v1/me/devices")).json() == []
    assert await pool.fetchval("SELECT registration_token FROM devices WHERE installation_id = $1", fid) == "tok-1"


async def test_a_device_keeps_its_owner_when_its_token_changes(resident: Resident, pool: db.Pool) -> None:
    fid = f"fid-{uuid.uuid4().hex}"
    await resident.put(f"/v1/me/devices/{fid}", json=ANDROID)

    refreshed = await resident.put(f"/v1/me/devices/{fid}", json=ANDROID | {"registration_token": "tok-2"})

    assert refreshed.status_code == 200 and refreshed.json()["has_registration_token"] is True
    assert [d["installation_id"] for d in (await resident.get("/v1/me/devices")).json()] == [fid]
    assert await pool.fetchval("SELECT registration_token FROM devices WHERE installation_id = $1", fid) == "tok-2"


async def test_logging_out_removes_only_own_devices(make_resident: MakeResident) -> None:
    alice, bob = await make_resident(), await make_resident()
    fid = f"fid-{uuid.uuid4().hex}"
    await alice.put(f"/v1/me/devices/{fid}", json=ANDROID)

    assert_problem(await bob.delete(f"/v1/me/devices/{fid}"), 404, "not-found", "installation_id")
    assert (await alice.delete(f"/v1/me/devices/{fid}")).status_code == 204
    assert (await alice.get("/v1/me/devices")).json() == []


async def test_bad_devices_are_refused(resident: Resident, unregistered: Resident) -> None:
    bad = await resident.put("/v1/me/devices/fid-x", json={"platform": "symbian", "app_version": ""})

    assert {e["field"] for e in assert_problem(bad, 422, "validation-error")["errors"]} == {"platform", "app_version"}
    assert_problem(await unregistered.put("/v1/me/devices/fid-y", json=ANDROID), 404, "not-registered")


async def test_preferences_start_with_defaults_and_change_field_by_field(resident: Resident) -> None:
    defaults = (await resident.get("/v1/me/notification-settings")).json()

    changed = await resident.patch("/v1/me/notification-settings", json={"reminders": False, "daily_cap": 1})
    quiet = await resident.patch(
        "/v1/me/notification-settings", json={"quiet_hours": {"start": "22:30", "end": "07:00"}}
    )

    assert defaults == {
        "reminders": True,
        "campaign_news": True,
        "achievements": True,
        "weekly_summary": True,
        "quiet_hours": {"start": "21:00", "end": "08:00"},
        "daily_cap": 3,
    }
    assert changed.json()["reminders"] is False and changed.json()["daily_cap"] == 1
    assert quiet.json() == defaults | {
        "reminders": False,
        "daily_cap": 1,
        "quiet_hours": {"start": "22:30", "end": "07:00"},
    }


async def test_bad_preferences_name_the_field(resident: Resident) -> None:
    response = await resident.patch(
        "/v1/me/notification-settings", json={"daily_cap": 99, "quiet_hours": {"start": "25:00", "end": "07:00"}}
    )

    problem = assert_problem(response, 422, "validation-error")
    assert {e["field"] for e in problem["errors"]} == {"daily_cap", "quiet_hours.start"}
    assert (await resident.get("/v1/me/notification-settings")).json()["daily_cap"] == 3


async def test_the_inbox_lists_messages_newest_first_with_read_state(resident: Resident, pool: db.Pool) -> None:
    await pool.execute(
        """
        INSERT INTO notifications (resident_id, city_id, kind, dedupe_key, title, body, locale, expires_at, not_before)
        SELECT r.id, r.city_id, 'reminder', 'test:' || g, 'Naslov ' || g, 'Besedilo', 'sl', now() + interval '1 day',
               CASE WHEN g = 4 THEN now() + interval '1 hour' ELSE now() END
        FROM residents r, generate_series(1, 4) g WHERE r.firebase_uid = $1
        """,
        resident.uid,
    )
    # a push the resident opted out of still shows in the inbox
    await pool.execute(
        "UPDATE notifications SET status = 'dropped' WHERE dedupe_key = 'test:1' "
        "AND resident_id = (SELECT id FROM residents WHERE firebase_uid = $1)",
        resident.uid,
    )

    first = (await resident.get("/v1/me/notifications", params={"limit": 2})).json()
    second = (await resident.get("/v1/me/notifications", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    marked = await resident.post(f"/v1/me/notifications/{first['items'][0]['id']}/read")
    after = (await resident.get("/v1/me/notifications")).json()

    assert [n["title"] for n in first["items"] + second["items"]] == ["Naslov 3", "Naslov 2", "Naslov 1"]  # 4: deferred
    assert first["unread"] == 3 and second["next_cursor"] is None
    assert marked.status_code == 204
    assert after["unread"] == 2 and after["items"][0]["read_at"] is not None
    assert_problem(await resident.post("/v1/me/notifications/999999999/read"), 404, "not-found", "id")
