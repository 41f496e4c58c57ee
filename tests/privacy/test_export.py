"""``GET /v1/me/export``: everything held about the caller, one JSON document of the documented schema."""

from __future__ import annotations

import uuid

import msgspec

from tests.conftest import MakeCampaign, MakeResident, Score
from tests.factories import Resident, action, assert_problem, local_noon
from upscale_api.privacy.structs import FORMAT, ResidentExport

DEVICE = {"platform": "ios", "app_version": "2.0.1", "registration_token": "secret-push-token"}
MESSAGE = {"title": {"sl": "Pozdrav", "en": "Hello"}, "body": {"sl": "Besedilo", "en": "Text"}}


async def _export(who: Resident) -> ResidentExport:
    response = await who.get("/v1/me/export")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"].startswith('attachment; filename="upscale-export-')
    # Strict: the streamed document is exactly what the OpenAPI schema says.
    return msgspec.json.decode(response.content, type=ResidentExport, strict=True)


async def test_the_export_holds_everything_the_app_shows_and_nothing_of_anyone_else(
    make_resident: MakeResident, make_campaign: MakeCampaign, coordinator: Resident, score: Score
) -> None:
    campaign = await make_campaign(cities=["kranj"], question=[], challenge=[], team=[], residents_create_teams=True)
    person = await make_resident("kranj", display_name="Maja", district="bitnje")
    neighbour = await make_resident("kranj")
    assert (await person.post(f"/v1/campaigns/{campaign.code}/teams", json={"name": "Bitnje bikes"})).status_code == 201
    assert (await neighbour.post(f"/v1/campaigns/{campaign.code}/enrolment", json={})).status_code == 201
    kept = await person.log(quantity=4.5, performed_at=local_noon(2))
    deleted = await person.log(quantity=2.0)
    assert (await person.delete(f"/v1/me/actions/{deleted.json()['id']}")).status_code == 204
    assert (await neighbour.log()).status_code == 201
    installation = f"fid-{uuid.uuid4().hex}"
    assert (await person.put(f"/v1/me/devices/{installation}", json=DEVICE)).status_code == 201
    assert (await person.patch("/v1/me/notification-settings", json={"daily_cap": 7})).status_code == 200
    assert (await coordinator.post(f"/v1/admin/campaigns/{campaign.code}/broadcasts", json=MESSAGE)).status_code == 200
    await score()

    exported = await _export(person)

    assert exported.format == FORMAT
    assert exported.profile.uid == person.uid
    assert (exported.profile.city, exported.profile.district, exported.profile.display_name) == (
        "kranj", "bitnje", "Maja")  # fmt: skip
    assert [str(a.id) for a in exported.actions] == [kept.json()["id"], deleted.json()["id"]]  # oldest first
    assert [a.deleted_at is not None for a in exported.actions] == [False, True]
    assert exported.actions[0].quantity == 4.5 and exported.actions[0].co2e_kg == kept.json()["co2e_kg"]
    assert [(e.campaign, e.team) for e in exported.enrolments] == [(campaign.code, "Bitnje bikes")]
    assert [(t.campaign, t.name) for t in exported.teams] == [(campaign.code, "Bitnje bikes")]
    assert [(s.campaign, s.actions) for s in exported.scores] == [(campaign.code, 0)]  # logged before joining
    assert [(d.installation_id, d.has_registration_token) for d in exported.devices] == [(installation, True)]
    assert exported.notification_settings is not None and exported.notification_settings.daily_cap == 7
    assert [(n.kind, n.campaign, n.title) for n in exported.notifications] == [("broadcast", campaign.code, "Pozdrav")]
    assert exported.roles == [] and exported.consents == [] and exported.survey_answers == []
    body = (await person.get("/v1/me/export")).text
    assert neighbour.uid not in body and "secret-push-token" not in body


async def test_an_export_of_many_actions_streams_them_all_in_order(make_resident: MakeResident) -> None:
    person = await make_resident("kranj")
    sent = [action("train-instead-of-car", 1.0, performed_at=local_noon(day % 7)) for day in range(1, 701)]
    for start in range(0, len(sent), 350):
        batch = await person.post("/v1/me/actions/batch", json={"actions": sent[start : start + 350]})
        assert batch.status_code == 200
        assert batch.json()["stored"] == 350, batch.text[:300]

    exported = await _export(person)

    assert len(exported.actions) == 700
    assert {str(a.id) for a in exported.actions} == {a["id"] for a in sent}
    assert exported.actions == sorted(exported.actions, key=lambda a: (a.performed_at, a.id))


async def test_staff_roles_of_the_same_account_are_in_the_export(
    coordinator: Resident, make_resident: MakeResident
) -> None:
    assert (await coordinator.put("/v1/me", json={"city": "kranj"})).status_code == 201

    exported = await _export(coordinator)

    assert [(r.role, r.city) for r in exported.roles] == [("coordinator", "kranj")]


async def test_an_unregistered_caller_has_nothing_to_export(unregistered: Resident) -> None:
    assert_problem(await unregistered.get("/v1/me/export"), 404, "not-registered")


async def test_after_erasure_there_is_nothing_to_export(make_resident: MakeResident) -> None:
    person = await make_resident("kranj")
    assert (await person.delete("/v1/me")).status_code == 204

    assert_problem(await person.get("/v1/me/export"), 404, "not-registered")
