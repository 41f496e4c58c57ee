"""Arms decide which nudges go out, and every decision point of a participant is logged, sent or not."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from tests.conftest import MakeResident
from tests.factories import Resident
from tests.research.conftest import MakeStudy, arm_of, consent, enrol
from upscale_api import db
from upscale_api.campaigns.structs import Campaign
from upscale_api.notifications.producers import produce_nudges

ZONE = ZoneInfo("Europe/Ljubljana")


async def _nudged(pool: db.Pool, campaign: str, resident: Resident) -> set[str]:
    rows = await pool.fetch(
        "SELECT n.data ->> 'nudge' AS nudge FROM notifications n JOIN residents r ON r.id = n.resident_id "
        "JOIN campaigns k ON k.id = n.campaign_id WHERE k.code = $1 AND r.firebase_uid = $2",
        campaign,
        resident.uid,
    )
    return {r["nudge"] for r in rows}


async def _decisions(pool: db.Pool, study: str, resident: Resident) -> dict[str, tuple[bool, bool, float, bool]]:
    rows = await pool.fetch(
        "SELECT u.code, d.available, d.in_arm, d.probability, d.sent FROM nudge_decisions d "
        "JOIN nudges u ON u.id = d.nudge_id JOIN studies s ON s.id = d.study_id "
        "JOIN residents r ON r.id = d.resident_id WHERE s.code = $1 AND r.firebase_uid = $2",
        study,
        resident.uid,
    )
    return {r["code"]: (r["available"], r["in_arm"], r["probability"], r["sent"]) for r in rows}


async def test_each_decision_point_is_logged_with_its_probability_and_only_logged_sends_go_out(
    make_resident: MakeResident, study_campaign: Campaign, make_study: MakeStudy, pool: db.Pool
) -> None:
    study = await make_study(study_campaign.code)
    outsider = await make_resident()
    await enrol(outsider, study_campaign.code)
    participants = [await make_resident() for _ in range(8)]
    for resident in participants:
        await consent(resident, "research")
        await enrol(resident, study_campaign.code)
    noon = datetime.combine(datetime.now(ZONE).date(), time(12, 5), ZONE).astimezone(UTC)

    await produce_nudges(pool, noon)
    await produce_nudges(pool, noon)  # a second worker run decides nothing anew

    assert await _nudged(pool, study_campaign.code, outsider) == {"every-day"}
    assert await _decisions(pool, study.code, outsider) == {}
    sends = []
    for resident in participants:
        arm = (await arm_of(pool, study.code, resident))["arm"]
        decisions = await _decisions(pool, study.code, resident)
        assert decisions["every-day"] == (True, True, 1.0, True)
        available, in_arm, probability, sent = decisions["social-norm"]
        if arm == "control":
            assert (available, in_arm, probability, sent) == (True, False, 0.0, False)
        else:
            assert (available, in_arm, probability) == (True, True, 0.5)
            sends.append(sent)
        expected = {"every-day"} | ({"social-norm"} if sent else set())
        assert await _nudged(pool, study_campaign.code, resident) == expected
    assert len(sends) == 4  # blocks of four: half the participants are treated
    counted = await pool.fetchval(
        "SELECT count(*) FROM nudge_decisions d JOIN studies s ON s.id = d.study_id WHERE s.code = $1", study.code
    )
    assert counted == 2 * len(participants)


async def test_a_participant_who_withdraws_gets_what_outsiders_get_and_is_no_longer_logged(
    make_resident: MakeResident, study_campaign: Campaign, make_study: MakeStudy, pool: db.Pool
) -> None:
    study = await make_study(
        study_campaign.code,
        arm=[
            {"code": "control", "control": True, "title": {"sl": "K", "en": "C"}},
            {"code": "treated", "title": {"sl": "T", "en": "T"}, "nudges": ["social-norm"], "ratio": 100},
        ],
    )
    resident = await make_resident()
    await consent(resident, "research")
    await enrol(resident, study_campaign.code)
    await consent(resident, "research", granted=False)
    noon = datetime.combine(datetime.now(ZONE).date(), time(12, 5), ZONE).astimezone(UTC)

    await produce_nudges(pool, noon)

    assert (await arm_of(pool, study.code, resident))["arm"] == "treated"
    assert await _decisions(pool, study.code, resident) == {}
    assert await _nudged(pool, study_campaign.code, resident) == {"every-day"}
