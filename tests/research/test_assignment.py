"""Assignment to arms: at enrolment or consent, whichever is later; stable; following the ratios."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.conftest import MakeResident
from tests.research.conftest import MakeStudy, arm_of, consent, enrol
from upscale_api import db
from upscale_api.campaigns.structs import Campaign
from upscale_api.research.service import block_arm, simple_arm


async def test_nobody_is_assigned_without_both_enrolment_and_research_consent(
    make_resident: MakeResident, study_campaign: Campaign, make_study: MakeStudy, pool: db.Pool
) -> None:
    study = await make_study(study_campaign.code)
    only_enrolled, only_consenting, consent_first, enrol_first = [await make_resident() for _ in range(4)]
    await enrol(only_enrolled, study_campaign.code)
    await consent(only_consenting, "research")
    await consent(consent_first, "research")
    await enrol(consent_first, study_campaign.code)
    await enrol(enrol_first, study_campaign.code)
    await consent(enrol_first, "research")

    assert await arm_of(pool, study.code, only_enrolled) is None
    assert await arm_of(pool, study.code, only_consenting) is None
    for resident in (consent_first, enrol_first):
        assignment = await arm_of(pool, study.code, resident)
        assert assignment["arm"] in ("control", "treated")
        assert 0 < assignment["probability"] <= 1


async def test_an_assignment_never_changes(
    make_resident: MakeResident, study_campaign: Campaign, make_study: MakeStudy, pool: db.Pool
) -> None:
    study = await make_study(study_campaign.code)
    resident = await make_resident()
    await consent(resident, "research")
    await enrol(resident, study_campaign.code)
    first = await arm_of(pool, study.code, resident)

    await consent(resident, "research", granted=False)
    assert (await resident.delete(f"/v1/campaigns/{study_campaign.code}/enrolment")).status_code == 204
    await enrol(resident, study_campaign.code)
    await consent(resident, "research")

    assert await arm_of(pool, study.code, resident) == first


async def test_permuted_blocks_follow_the_ratios_in_each_district_with_the_probability_of_the_moment(
    make_resident: MakeResident, study_campaign: Campaign, make_study: MakeStudy, pool: db.Pool
) -> None:
    arms = [
        {"code": "control", "control": True, "ratio": 1, "title": {"sl": "K", "en": "C"}},
        {"code": "treated", "ratio": 2, "title": {"sl": "T", "en": "T"}},
    ]
    study = await make_study(study_campaign.code, arm=arms, stratify_by="district", block_multiplier=1)
    residents = [await make_resident(district=d) for d in ["center"] * 6 + ["planina"] * 9]
    for resident in residents:
        await consent(resident, "research")
        await enrol(resident, study_campaign.code)

    rows = [await arm_of(pool, study.code, r) for r in residents]
    by_district = Counter((row["stratum"], row["arm"]) for row in rows)
    assert by_district == {
        ("kranj/center", "control"): 2,
        ("kranj/center", "treated"): 4,
        ("kranj/planina", "control"): 3,
        ("kranj/planina", "treated"): 6,
    }
    # Blocks of three: the last place of a block is certain, the first follows the ratio.
    assert all(row["probability"] == 1.0 for row in rows if row["position"] % 3 == 2)
    first = {row["arm"]: row["probability"] for row in rows if row["position"] % 3 == 0}
    assert first.get("control", 1 / 3) == 1 / 3 and first.get("treated", 2 / 3) == 2 / 3


async def test_residents_already_taking_part_are_assigned_when_a_study_is_added_in_the_order_they_joined(
    make_resident: MakeResident, study_campaign: Campaign, make_study: MakeStudy, pool: db.Pool
) -> None:
    earlier = [await make_resident(district="center") for _ in range(6)]
    for resident in earlier:
        await consent(resident, "research")
        await enrol(resident, study_campaign.code)
    not_consenting = await make_resident(district="center")
    await enrol(not_consenting, study_campaign.code)

    study = await make_study(study_campaign.code, stratify_by="district", block_multiplier=1)
    later = await make_resident(district="center")
    await consent(later, "research")
    await enrol(later, study_campaign.code)

    rows = [await arm_of(pool, study.code, r) for r in [*earlier, later]]
    assert [row["position"] for row in rows] == list(range(7))
    assert Counter(row["arm"] for row in rows[:6]) == {"control": 3, "treated": 3}  # three blocks of two
    assert await arm_of(pool, study.code, not_consenting) is None
    await make_study(study_campaign.code, code=study.code, stratify_by="district", block_multiplier=1)  # again
    assert [await arm_of(pool, study.code, r) for r in [*earlier, later]] == rows


def test_block_allocation_is_reproducible_and_exact_per_block() -> None:
    arms = [("a", 1), ("b", 3)]
    draws = [block_arm("seed-1", "all", n, arms, 2) for n in range(800)]

    assert draws == [block_arm("seed-1", "all", n, arms, 2) for n in range(800)]
    assert Counter(arm for arm, _ in draws) == {"a": 200, "b": 600}
    assert draws != [block_arm("seed-2", "all", n, arms, 2) for n in range(800)]


def test_simple_randomisation_follows_the_ratios_by_a_chi_square_test_with_a_fixed_seed() -> None:
    arms = [("a", 1), ("b", 2), ("c", 1)]
    n = 4000
    counts = Counter(simple_arm("fixed-seed-2027", resident, arms)[0] for resident in range(1, n + 1))
    expected = {"a": n / 4, "b": n / 2, "c": n / 4}
    chi_square = sum((counts[k] - e) ** 2 / e for k, e in expected.items())

    # 13.82 is the 0.1% critical value of chi-square with 2 degrees of freedom.
    assert chi_square < 13.82, counts
    assert {simple_arm("fixed-seed-2027", 7, arms)[1] for _ in range(3)} == {simple_arm("fixed-seed-2027", 7, arms)[1]}


async def test_an_arm_decides_which_challenges_a_participant_sees(
    make_resident: MakeResident, study_campaign: Campaign, make_study: MakeStudy, pool: db.Pool
) -> None:
    study = await make_study(study_campaign.code)
    outsider = await make_resident()
    await enrol(outsider, study_campaign.code)
    participants = [await make_resident() for _ in range(4)]
    for resident in participants:
        await consent(resident, "research")
        await enrol(resident, study_campaign.code)

    seen: dict[str, Any] = {}
    for resident in [outsider, *participants]:
        assignment = await arm_of(pool, study.code, resident)
        shown = (await resident.get(f"/v1/campaigns/{study_campaign.code}")).json()["challenges"]
        mine = (await resident.get(f"/v1/me/campaigns/{study_campaign.code}")).json()["challenges"]
        assert [c["code"] for c in shown] == [c["code"] for c in mine]
        seen[assignment["arm"] if assignment else "outside"] = [c["code"] for c in shown]

    assert seen["outside"] == ["week-50"]  # outside the study: what the control arm gets
    assert seen.get("control", ["week-50"]) == ["week-50"]
    assert seen.get("treated", ["week-50", "days-3"]) == ["week-50", "days-3"]
