"""Storing partner definitions (from files under ``campaigns/<city>/rewards/`` or the coordinator API).

Applying is idempotent and set-based: one statement per table for all the
partners given. A reward left out of its partner's definition is withdrawn
(``active = false``), never deleted, because redemptions point at it; its
redemptions stay valid. A partner made over the API is changed over the API,
one from a file in its file.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import msgspec

from upscale_api.db import Connection, rows_affected
from upscale_api.rewards import queries
from upscale_api.rewards.structs import REQUIRED_LANGUAGES, PartnerDefinition

Source = str
"""``file`` or ``api``."""


class PartnerCounts(msgspec.Struct):
    partners_changed: int = 0
    rewards_changed: int = 0
    rewards_retired: int = 0


def check_partner(partner: PartnerDefinition) -> list[tuple[str, str]]:
    """What is wrong with ``partner`` on its own, as (field, reason); the same for files and the API."""
    problems: list[tuple[str, str]] = []
    for key in ("name", "description"):
        missing = [lang for lang in REQUIRED_LANGUAGES if lang not in getattr(partner, key)]
        if missing:
            problems.append((key, f"missing language: {', '.join(missing)}"))
    codes = Counter(r.code for r in partner.reward)
    for i, reward in enumerate(partner.reward):
        where = f"reward[{i}]"
        if codes[reward.code] > 1:
            problems.append((f"{where}.code", f"{reward.code} is defined twice"))
        for key in ("title", "description"):
            missing = [lang for lang in REQUIRED_LANGUAGES if lang not in getattr(reward, key)]
            if missing:
                problems.append((f"{where}.{key}", f"missing language: {', '.join(missing)}"))
        if reward.available_from and reward.available_until and reward.available_from > reward.available_until:
            problems.append((f"{where}.available_until", "must not be before available_from"))
        if reward.delivery == "city-card" and partner.webhook_url is None:
            problems.append((f"{where}.delivery", "city-card delivery needs the partner's webhook_url"))
        if reward.limit_per_resident is None and reward.limit_period != "ever":
            problems.append((f"{where}.limit_period", "needs limit_per_resident"))
    return problems


async def apply_partners(
    conn: Connection, partners: list[tuple[str, PartnerDefinition]], source: Source
) -> tuple[PartnerCounts, list[tuple[str, str, str]]]:
    """Store ``partners`` (city code, definition) inside the caller's transaction.

    Returns the counts of changed rows and the problems (partner code, field,
    reason) that stopped it; when there are problems nothing was written. With
    ``source="file"`` the given partners are all the files define: a file partner
    missing from them is withdrawn.
    """
    codes = [p.code for _, p in partners]
    stored = {r["code"]: r for r in await conn.fetch(queries.STORED_PARTNERS, codes)}
    reward_codes = [r.code for _, p in partners for r in p.reward]
    owners = {r["reward"]: r["partner"] for r in await conn.fetch(queries.REWARD_OWNERS, reward_codes)}
    problems: list[tuple[str, str, str]] = []
    for city, partner in partners:
        row = stored.get(partner.code)
        if row is not None and row["source"] != source:
            problems.append((partner.code, "code", f"a partner with this code was created through the {row['source']}"))
        elif row is not None and row["city"] != city:
            problems.append((partner.code, "code", f"a partner with this code belongs to {row['city']}"))
        for i, reward in enumerate(partner.reward):
            owner = owners.get(reward.code)
            if owner is not None and owner != partner.code:
                problems.append((partner.code, f"reward[{i}].code", f"{reward.code} is a reward of {owner}"))
    counts = PartnerCounts()
    if problems:
        return counts, problems
    if partners:
        rows = [_partner_row(city, p) for city, p in partners]
        counts.partners_changed = rows_affected(await conn.execute(queries.UPSERT_PARTNERS, rows, source))
        rewards = [_reward_row(p, i, r) for _, p in partners for i, r in enumerate(p.reward)]
        counts.rewards_changed = rows_affected(await conn.execute(queries.UPSERT_REWARDS, rewards))
        counts.rewards_retired = rows_affected(await conn.execute(queries.RETIRE_REWARDS, codes, reward_codes))
    if source == "file":
        counts.rewards_retired += rows_affected(await conn.execute(queries.RETIRE_FILE_PARTNERS, codes))
    return counts, []


def _partner_row(city: str, partner: PartnerDefinition) -> dict[str, Any]:
    row: dict[str, Any] = msgspec.to_builtins(partner)
    row.pop("reward")
    return row | {"city": city, "definition": msgspec.to_builtins(partner)}


def _reward_row(partner: PartnerDefinition, position: int, reward: Any) -> dict[str, Any]:
    row: dict[str, Any] = msgspec.to_builtins(reward)
    return row | {"partner": partner.code, "position": position, "active": reward.active and partner.active}
