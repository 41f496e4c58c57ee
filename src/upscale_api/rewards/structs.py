"""Rewards: the partner file format (``campaigns/<city>/rewards/<partner>.toml``, also the
coordinator API's body) and what residents, partners and coordinators read.

A partner is defined whole, with its rewards, in one file or one ``PUT``. Unknown
keys are errors. Points are whole numbers: a balance counts the whole points earned.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from upscale_api.catalogue.structs import Code, Localized, Text
from upscale_api.openapi import example

Moment = Annotated[datetime, Meta(tz=True)]
PartnerKind = Literal["shop", "museum", "transport", "food", "city-card", "culture", "sport", "other"]
Delivery = Literal["code", "city-card"]
LimitPeriod = Literal["ever", "day", "week", "month"]
RedemptionStatus = Literal["issued", "used", "delivered", "cancelled", "expired"]
Url = Annotated[str, Meta(pattern=r"^https?://[^\s]+$", max_length=2000)]
Points = Annotated[int, Meta(ge=1, le=1_000_000)]
REQUIRED_LANGUAGES = ("sl", "en")


class _File(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class RewardDefinition(_File, kw_only=True):
    """A reward a partner gives for points: its cost, stock, when it can be redeemed, how often."""

    code: Annotated[Code, Meta(description="The reward's code, unique across the service; what residents redeem")]
    title: Annotated[Localized, Meta(description="Its name per language; `sl` and `en` are required")]
    description: Annotated[
        Localized, Meta(description="What the resident gets and how, per language; `sl` and `en` are required")
    ]
    cost: Annotated[Points, Meta(description="Its price in points")]
    stock: Annotated[
        Annotated[int, Meta(ge=0, le=10_000_000)] | None,
        Meta(description="How many can be redeemed in all (cancelled and expired ones come back); null: no limit"),
    ] = None
    limit_per_resident: Annotated[
        Annotated[int, Meta(ge=1, le=1000)] | None,
        Meta(description="How many one resident may redeem per `limit_period`; null: no limit"),
    ] = None
    limit_period: Annotated[
        LimitPeriod,
        Meta(description="The period of `limit_per_resident`: ever, or per local day, ISO week or month"),
    ] = "ever"
    available_from: Annotated[
        date | None, Meta(description="The first local day it can be redeemed; null: from now")
    ] = None
    available_until: Annotated[
        date | None, Meta(description="The last local day it can be redeemed; null: until withdrawn")
    ] = None
    code_valid_days: Annotated[
        int, Meta(ge=1, le=366, description="How many days a redemption code stays valid (unused, it expires)")
    ] = 30
    delivery: Annotated[
        Delivery,
        Meta(
            description="`code`: the resident shows a code the partner checks; `city-card`: it is credited to the "
            "resident's linked city card through the partner's webhook"
        ),
    ] = "code"
    active: Annotated[bool, Meta(description="false withdraws it: it can no longer be redeemed")] = True


class PartnerDefinition(_File, kw_only=True):
    """A local partner of one city with the rewards it gives. A reward left out is withdrawn, never deleted."""

    code: Annotated[Code, Meta(description="The partner's code, unique across the service (in a file: its name)")]
    kind: Annotated[PartnerKind, Meta(description="What kind of partner it is")]
    name: Annotated[Localized, Meta(description="Its name per language; `sl` and `en` are required")]
    description: Annotated[Localized, Meta(description="About the partner, per language; `sl` and `en` are required")]
    website: Annotated[Url | None, Meta(description="Its website")] = None
    address: Annotated[Text | None, Meta(description="Where residents find it")] = None
    webhook_url: Annotated[
        Url | None,
        Meta(description="Where deliveries to the city card are sent (signed webhooks); needed by `city-card` rewards"),
    ] = None
    active: Annotated[bool, Meta(description="false withdraws the partner and all its rewards")] = True
    reward: Annotated[list[RewardDefinition], Meta(description="Its rewards", max_length=200)] = msgspec.field(
        default_factory=list
    )


# --- Residents --------------------------------------------------------------------------


class Balance(msgspec.Struct, kw_only=True):
    """A resident's points in one city's programme."""

    city: Annotated[str, Meta(description="The city whose programme this is")]
    earned: Annotated[
        int,
        Meta(description="Whole points earned in the city's campaigns, as the scoring job last computed them"),
    ]
    spent: Annotated[int, Meta(description="Points of redemptions that count: used, delivered, or issued and valid")]
    available: Annotated[int, Meta(ge=0, description="What can be spent now: earned − spent, never below 0")]
    owed: Annotated[
        int,
        Meta(
            ge=0,
            description="Points spent beyond what is earned now, after a correction lowered earned points; "
            "new points cover this first. Past redemptions stay valid.",
        ),
    ]


class HistoryEntry(msgspec.Struct, kw_only=True):
    """One movement of a balance."""

    on: Annotated[date, Meta(description="The local day")]
    kind: Annotated[
        Literal["earned", "redeemed", "returned"],
        Meta(
            description="`earned`: points of a campaign that day; `redeemed`: a redemption; "
            "`returned`: a cancelled or expired code gave its points back"
        ),
    ]
    points: Annotated[int, Meta(description="The change: positive earned or returned, negative redeemed")]
    campaign: Annotated[str | None, Meta(description="The campaign's code (earned)")] = None
    title: Annotated[str | None, Meta(description="The campaign's or the reward's title in your language")] = None
    reward: Annotated[str | None, Meta(description="The reward's code (redeemed, returned)")] = None
    redemption: Annotated[UUID | None, Meta(description="The redemption's id (redeemed, returned)")] = None


class BalanceHistory(msgspec.Struct, kw_only=True):
    """A balance with a page of its movements, newest first."""

    balance: Annotated[Balance, Meta(description="The balance now")]
    items: Annotated[list[HistoryEntry], Meta(description="Movements, newest first")]
    next_cursor: Annotated[str | None, Meta(description="Pass as `cursor` for older movements; null on the last page")]
    computed_at: Annotated[Moment | None, Meta(description="When the scoring job last ran (earned points)")]


class PartnerOut(msgspec.Struct, kw_only=True):
    """A partner as residents see it."""

    code: Annotated[str, Meta(description="The partner's code")]
    kind: Annotated[PartnerKind, Meta(description="What kind of partner it is")]
    name: Annotated[str, Meta(description="Its name in your language")]
    description: Annotated[str, Meta(description="About it, in your language")]
    website: Annotated[str | None, Meta(description="Its website")]
    address: Annotated[str | None, Meta(description="Where to find it")]


class RewardOut(msgspec.Struct, kw_only=True):
    """A reward of a city's programme."""

    code: Annotated[str, Meta(description="What to send as `reward` to redeem it")]
    partner: Annotated[PartnerOut, Meta(description="Who gives it")]
    title: Annotated[str, Meta(description="Its name in your language")]
    description: Annotated[str, Meta(description="What you get and how, in your language")]
    cost: Annotated[int, Meta(ge=1, description="Its price in points")]
    remaining: Annotated[Annotated[int, Meta(ge=0)] | None, Meta(description="How many are left; null: no limit")]
    limit_per_resident: Annotated[int | None, Meta(description="How many one resident may redeem per period")]
    limit_period: Annotated[LimitPeriod, Meta(description="The period of the limit")]
    available_until: Annotated[date | None, Meta(description="The last local day it can be redeemed")]
    code_valid_days: Annotated[int, Meta(description="How many days a code stays valid")]
    delivery: Annotated[Delivery, Meta(description="A code to show, or a credit to the city card")]


class Offer(RewardOut, kw_only=True):
    """A reward with whether the caller can redeem it now, and if not, why."""

    can_redeem: Annotated[bool, Meta(description="Whether redeeming it now would succeed")]
    reason: Annotated[
        Literal["insufficient-points", "out-of-stock", "limit-reached", "no-city-card", "not-yet-available"] | None,
        Meta(description="Why not (null when it can be redeemed)"),
    ]
    redeemed_in_period: Annotated[int, Meta(ge=0, description="How many you redeemed in the current period")]


class Offers(msgspec.Struct, kw_only=True):
    """A city's rewards for the caller, with their balance there."""

    balance: Annotated[Balance, Meta(description="Your balance in the city's programme")]
    rewards: Annotated[list[Offer], Meta(description="The rewards that can be redeemed now or later, cheapest first")]


class RedemptionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Redeem a reward. The app chooses ``id``: sending it again is answered with the stored redemption."""

    id: Annotated[UUID, Meta(description="A UUID the app chooses; a retry with the same id redeems nothing again")]
    reward: Annotated[Code, Meta(description="The reward's code")]


class RedemptionOut(msgspec.Struct, kw_only=True):
    """A redemption as its resident sees it."""

    id: Annotated[UUID, Meta(description="The id the app chose")]
    city: Annotated[str, Meta(description="The city whose programme paid for it")]
    reward: Annotated[str, Meta(description="The reward's code")]
    title: Annotated[str, Meta(description="The reward's name in your language")]
    partner: Annotated[str, Meta(description="The partner's name in your language")]
    cost: Annotated[int, Meta(description="The points it cost")]
    code: Annotated[
        str | None, Meta(description="What to show the partner (single use); null for a city-card delivery")
    ]
    status: Annotated[
        RedemptionStatus,
        Meta(
            description="`issued`: valid (a card delivery: on its way); `used`: checked by the partner; "
            "`delivered`: credited to the card; `cancelled`, `expired`: points given back"
        ),
    ]
    created_at: Annotated[Moment, Meta(description="When it was redeemed")]
    expires_at: Annotated[Moment | None, Meta(description="When an unused code expires; null for card deliveries")]
    used_at: Annotated[Moment | None, Meta(description="When it was used or delivered")]


class RedemptionPage(msgspec.Struct):
    """A page of redemptions, newest first."""

    items: Annotated[list[RedemptionOut], Meta(description="The redemptions of this page")]
    next_cursor: Annotated[str | None, Meta(description="Pass as `cursor` for older ones; null on the last page")]


class CityCardIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Link your home city's card. Only a keyed hash of the number is stored."""

    number: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=64,
            description="The number printed on the card: 8 to 19 digits; spaces and dashes are ignored",
        ),
    ]


class CityCardOut(msgspec.Struct, kw_only=True):
    """Your linked city card; the number is not kept, so it is not shown."""

    city: Annotated[str, Meta(description="The card's city")]
    linked_at: Annotated[Moment, Meta(description="When it was linked")]


# --- Partners ---------------------------------------------------------------------------


class PartnerRedemption(msgspec.Struct, kw_only=True):
    """A redemption as its partner (and the city's coordinators) see it: no resident is named."""

    id: Annotated[UUID, Meta(description="The redemption's id")]
    code: Annotated[str | None, Meta(description="The code the resident shows; null for card deliveries")]
    reward: Annotated[str, Meta(description="The reward's code")]
    title: Annotated[str, Meta(description="The reward's name in English")]
    partner: Annotated[str, Meta(description="The partner's code")]
    city: Annotated[str, Meta(description="The city")]
    cost: Annotated[int, Meta(description="The points it cost")]
    status: Annotated[RedemptionStatus, Meta(description="Its state; see `RedemptionOut.status`")]
    valid: Annotated[bool, Meta(description="Whether a partner may accept it now: issued, a code, not expired")]
    created_at: Annotated[Moment, Meta(description="When it was redeemed")]
    expires_at: Annotated[Moment | None, Meta(description="When the code expires")]
    used_at: Annotated[Moment | None, Meta(description="When it was used or delivered")]
    delivery: Annotated[
        DeliveryOut | None, Meta(description="The webhook to the city card, for card deliveries (staff only)")
    ] = None


class PartnerRedemptionPage(msgspec.Struct):
    """A page of redemptions, newest first."""

    items: Annotated[list[PartnerRedemption], Meta(description="The redemptions of this page")]
    next_cursor: Annotated[str | None, Meta(description="Pass as `cursor` for older ones; null on the last page")]


class PartnerSelf(msgspec.Struct, kw_only=True):
    """The partner a key belongs to, with its rewards."""

    code: Annotated[str, Meta(description="The partner's code")]
    city: Annotated[str, Meta(description="Its city")]
    name: Annotated[str, Meta(description="Its name in English")]
    rewards: Annotated[list[str], Meta(description="The codes of its active rewards")]
    key: Annotated[KeyOut, Meta(description="The key this request used")]


class KeyOut(msgspec.Struct, kw_only=True):
    """A partner API key; the key itself is never shown again after it was created."""

    id: Annotated[int, Meta(description="The key's id (to revoke it)")]
    prefix: Annotated[str, Meta(description="The key's first characters, to tell keys apart")]
    created_at: Annotated[Moment, Meta(description="When it was created")]
    created_by: Annotated[str, Meta(description="Who created it: a coordinator's uid, `partner` or `operator`")]
    expires_at: Annotated[Moment | None, Meta(description="When it stops working (a rotated-out key); null: never")]
    revoked_at: Annotated[Moment | None, Meta(description="When it was revoked")]
    last_used_at: Annotated[Moment | None, Meta(description="When it was last used (to the minute)")]


class NewKey(msgspec.Struct, kw_only=True):
    """A new partner API key: ``key`` is shown this once; only its hash is stored."""

    key: Annotated[str, Meta(description="The API key: send it as `Authorization: Bearer <key>`")]
    info: Annotated[KeyOut, Meta(description="What is kept about it")]


# --- Coordinators -----------------------------------------------------------------------


class DeliveryAttempt(msgspec.Struct, kw_only=True):
    """One attempt to deliver a webhook."""

    attempt: Annotated[int, Meta(ge=1, description="1 for the first")]
    attempted_at: Annotated[Moment, Meta(description="When")]
    http_status: Annotated[int | None, Meta(description="The receiver's HTTP status; null when it did not answer")]
    error: Annotated[str | None, Meta(description="Why it failed, when it did")]
    duration_ms: Annotated[float, Meta(description="How long it took")]


class DeliveryOut(msgspec.Struct, kw_only=True):
    """A delivery to a city card through the partner's webhook, with every attempt (the audit record)."""

    id: Annotated[UUID, Meta(description="The webhook-id the receiver sees")]
    url: Annotated[str, Meta(description="Where it is sent")]
    delivered_at: Annotated[Moment | None, Meta(description="When the receiver acknowledged it (any 2xx)")]
    next_attempt_at: Annotated[Moment | None, Meta(description="When it is tried next; null once delivered")]
    attempts: Annotated[list[DeliveryAttempt], Meta(description="Every attempt, oldest first")]


class PartnerAdmin(msgspec.Struct, kw_only=True):
    """A partner as its city's coordinators manage it."""

    code: Annotated[str, Meta(description="The partner's code")]
    city: Annotated[str, Meta(description="Its city")]
    source: Annotated[Literal["file", "api"], Meta(description="Defined in a file or over the API")]
    definition: Annotated[PartnerDefinition, Meta(description="Its definition, rewards included")]
    claimed: Annotated[dict[str, int], Meta(description="Items of each reward handed out that count against stock")]
    keys: Annotated[list[KeyOut], Meta(description="Its API keys, newest first")]


example(
    RewardDefinition(
        code="kranj-bus-day-ticket",
        title={"sl": "Dnevna vozovnica za avtobus", "en": "Bus day ticket"},
        description={"sl": "Na mestno kartico", "en": "Credited to your city card"},
        cost=300,
        stock=500,
        limit_per_resident=2,
        limit_period="month",
        delivery="city-card",
    )
)
_PARTNER = example(
    PartnerDefinition(
        code="kranj-museum",
        kind="museum",
        name={"sl": "Gorenjski muzej", "en": "Gorenjska Museum"},
        description={"sl": "Muzej v starem mestnem jedru", "en": "The museum in the old town"},
        website="https://www.gorenjski-muzej.si",
        address="Tomšičeva ulica 42, Kranj",
        reward=[
            RewardDefinition(
                code="kranj-museum-entry",
                title={"sl": "Vstopnica", "en": "Free entry"},
                description={"sl": "Ena brezplačna vstopnica", "en": "One free entry"},
                cost=150,
                stock=200,
                limit_per_resident=1,
                code_valid_days=30,
            )
        ],
    )
)
_BALANCE = example(Balance(city="kranj", earned=420, spent=150, available=270, owed=0))
_PARTNER_OUT = PartnerOut(
    code="kranj-museum",
    kind="museum",
    name="Gorenjska Museum",
    description="The museum in the old town",
    website="https://www.gorenjski-muzej.si",
    address="Tomšičeva ulica 42, Kranj",
)
_REWARD = dict(
    code="kranj-museum-entry",
    partner=_PARTNER_OUT,
    title="Free entry",
    description="One free entry",
    cost=150,
    remaining=187,
    limit_per_resident=1,
    limit_period="ever",
    available_until=None,
    code_valid_days=30,
    delivery="code",
)
example(RewardOut(**_REWARD))  # type: ignore[arg-type]
example(
    Offers(
        balance=_BALANCE,
        rewards=[Offer(**_REWARD, can_redeem=True, reason=None, redeemed_in_period=0)],  # type: ignore[arg-type]
    )
)
_AT = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
example(
    BalanceHistory(
        balance=_BALANCE,
        items=[
            HistoryEntry(
                on=date(2026, 11, 25),
                kind="redeemed",
                points=-150,
                title="Free entry",
                reward="kranj-museum-entry",
                redemption=UUID("0b7d4c1e-2f7a-4c55-9f3e-7d1c2b3a4e5f"),
            ),
            HistoryEntry(
                on=date(2026, 11, 24), kind="earned", points=75, campaign="kranj-mobility-2027", title="Mobility"
            ),
        ],
        next_cursor=None,
        computed_at=_AT,
    )
)
example(RedemptionIn(id=UUID("0b7d4c1e-2f7a-4c55-9f3e-7d1c2b3a4e5f"), reward="kranj-museum-entry"))
_REDEMPTION = example(
    RedemptionOut(
        id=UUID("0b7d4c1e-2f7a-4c55-9f3e-7d1c2b3a4e5f"),
        city="kranj",
        reward="kranj-museum-entry",
        title="Free entry",
        partner="Gorenjska Museum",
        cost=150,
        code="7KQ4M-X2C9T",
        status="issued",
        created_at=_AT,
        expires_at=datetime(2026, 12, 25, 9, 30, tzinfo=UTC),
        used_at=None,
    )
)
example(RedemptionPage(items=[_REDEMPTION], next_cursor=None))
example(CityCardIn(number="6390 0012 3456 7890"))
example(CityCardOut(city="kranj", linked_at=_AT))
_PARTNER_REDEMPTION = example(
    PartnerRedemption(
        id=UUID("0b7d4c1e-2f7a-4c55-9f3e-7d1c2b3a4e5f"),
        code="7KQ4M-X2C9T",
        reward="kranj-museum-entry",
        title="Free entry",
        partner="kranj-museum",
        city="kranj",
        cost=150,
        status="issued",
        valid=True,
        created_at=_AT,
        expires_at=datetime(2026, 12, 25, 9, 30, tzinfo=UTC),
        used_at=None,
    )
)
example(PartnerRedemptionPage(items=[_PARTNER_REDEMPTION], next_cursor=None))
_KEY = KeyOut(
    id=7,
    prefix="upk_3kQ9",
    created_at=_AT,
    created_by="coordinator-uid",
    expires_at=None,
    revoked_at=None,
    last_used_at=None,
)
example(NewKey(key="upk_3kQ9xY0cU1o2Wv8dJm4Zt6rLbN5aHs7eFgPq", info=_KEY))
example(KeyOut(**msgspec.structs.asdict(_KEY)))
example(
    PartnerSelf(code="kranj-museum", city="kranj", name="Gorenjska Museum", rewards=["kranj-museum-entry"], key=_KEY)
)
example(
    PartnerAdmin(
        code="kranj-museum",
        city="kranj",
        source="file",
        definition=_PARTNER,
        claimed={"kranj-museum-entry": 13},
        keys=[_KEY],
    )
)
