"""Rewards over HTTP: a city's rewards (public), residents' balances, redemptions and city card
(``/v1/me``), partners checking codes with their API key (``/v1/partner``), and coordinators
managing partners, keys and the city's redemptions (``/v1/admin/cities/{code}``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter

from upscale_api.auth import COORDINATOR, PARTNER, PUBLIC, SIGNED_IN, PartnerCaller
from upscale_api.context import Context
from upscale_api.i18n import negotiate
from upscale_api.openapi import NOT_REGISTERED, also, problem
from upscale_api.rewards import service
from upscale_api.rewards.structs import (
    Balance,
    BalanceHistory,
    CityCardIn,
    CityCardOut,
    NewKey,
    Offers,
    PartnerAdmin,
    PartnerDefinition,
    PartnerRedemption,
    PartnerRedemptionPage,
    PartnerSelf,
    RedemptionIn,
    RedemptionOut,
    RedemptionPage,
    RedemptionStatus,
    RewardOut,
)

Limit = Annotated[int, QueryParameter(ge=1, le=200, description="Page size")]
Cursor = Annotated[str | None, QueryParameter(max_length=200, description="The `next_cursor` of the previous page")]
StatusFilter = Annotated[RedemptionStatus | None, QueryParameter(description="Only redemptions in this state")]
CityCode = Annotated[str, PathParameter(description="The city's code")]
PartnerCode = Annotated[str, PathParameter(description="The partner's code")]
RedemptionCode = Annotated[
    str,
    PathParameter(
        max_length=32, description="The code the resident shows, e.g. `7KQ4M-X2C9T` (case and dash optional)"
    ),
]
NOT_REGISTERED_404 = {404: problem(NOT_REGISTERED)}


def _now() -> datetime:
    return datetime.now(UTC)


class CityRewardController(Controller):
    """A city's rewards, for anyone (the app before sign-in, the city's website)."""

    path = "/v1/cities/{city:str}/rewards"
    tags = ["rewards"]
    guards = [PUBLIC]

    @get(
        "/",
        operation_id="listCityRewards",
        summary="The rewards of the city's programme and their partners, cheapest first",
        response_description="The rewards; `Content-Language` says the language",
    )
    async def rewards(
        self,
        city: CityCode,
        ctx: NamedDependency[Context],
        accept_language: Annotated[
            str | None,
            HeaderParameter(name="Accept-Language", required=False, description="Preferred languages, e.g. `sl`"),
        ],
    ) -> Response[list[RewardOut]]:
        language = negotiate(accept_language)
        rewards = await service.city_rewards(ctx.pool, await ctx.catalogue.current(), city, language, _now())
        return Response(rewards, headers={"Content-Language": language})


class MyRewardController(Controller):
    """A resident's points, what they can redeem, their redemptions and city card."""

    path = "/v1/me"
    tags = ["rewards"]
    guards = [SIGNED_IN]

    @get(
        "/rewards",
        operation_id="listRewardOffers",
        summary="The rewards of a city (default: yours), each with whether you can redeem it now and why not",
        response_description="Your balance there and the rewards",
        responses=NOT_REGISTERED_404,
    )
    async def offers(
        self,
        ctx: NamedDependency[Context],
        city: Annotated[
            str | None, QueryParameter(max_length=64, description="Another city's programme (default: your city)")
        ] = None,
    ) -> Offers:
        return await service.offers(ctx.pool, await ctx.catalogue.current(), ctx.uid, city, _now())

    @get(
        "/points",
        operation_id="listBalances",
        summary="Your points in each city programme: earned, spent, available, owed",
        response_description="Your balances, your city's first",
        responses=NOT_REGISTERED_404,
    )
    async def balances(self, ctx: NamedDependency[Context]) -> list[Balance]:
        return await service.balances(ctx.pool, await ctx.catalogue.current(), ctx.uid, _now())

    @get(
        "/points/{city:str}",
        operation_id="getBalanceHistory",
        summary="Your balance in a city programme with its movements, newest first",
        description="Points earned per campaign and local day, redemptions, and points given back by cancelled "
        "or expired codes.",
        response_description="The balance and a page of movements",
        responses=NOT_REGISTERED_404,
    )
    async def history(
        self,
        city: CityCode,
        ctx: NamedDependency[Context],
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> BalanceHistory:
        snapshot = await ctx.catalogue.current()
        return await service.history(ctx.pool, snapshot, ctx.uid, city, limit, cursor, _now())

    @post(
        "/redemptions",
        operation_id="redeemReward",
        summary="Redeem a reward: a code to show the partner, or a credit to your city card",
        description="Idempotent: the app chooses `id`; sending it again answers the stored redemption (200) and "
        "spends nothing. Safe under concurrent requests: points are never spent twice, stock never oversold.",
        status_code=201,
        response_description="Redeemed",
        responses={
            **also(200, RedemptionOut, "Redeemed before with this id (a retry)"),
            **NOT_REGISTERED_404,
            409: problem(
                ("conflict", "the id was used for another redemption"),
                ("insufficient-points", "the reward costs more than your available points"),
                ("out-of-stock", "none is left"),
                ("limit-reached", "you redeemed as many as one resident may (in this period)"),
                ("reward-unavailable", "withdrawn, not yet or no longer available"),
                ("no-city-card", "the reward goes to the city card and none is linked"),
            ),
            503: problem(("unavailable", "deliveries to the city card are not configured, or the database is down")),
        },
    )
    async def redeem(self, data: JSONBody[RedemptionIn], ctx: NamedDependency[Context]) -> Response[RedemptionOut]:
        redemption, created = await service.redeem(ctx.pool, ctx.settings, ctx.uid, data, _now())
        return Response(redemption, status_code=201 if created else 200)

    @get(
        "/redemptions",
        operation_id="listRedemptions",
        summary="Your redemptions with their codes, newest first",
        response_description="A page of redemptions",
        responses=NOT_REGISTERED_404,
    )
    async def redemptions(
        self, ctx: NamedDependency[Context], limit: Limit = 50, cursor: Cursor = None
    ) -> RedemptionPage:
        return await service.my_redemptions(ctx.pool, ctx.uid, limit, cursor, _now())

    @post(
        "/redemptions/{redemption_id:uuid}/cancellation",
        operation_id="cancelRedemption",
        summary="Give an unused code back: its points return to your balance",
        status_code=200,
        response_description="Cancelled (also when it was cancelled before)",
        responses={
            **NOT_REGISTERED_404,
            409: problem(
                ("code-used", "the partner accepted the code already"),
                ("code-expired", "the code expired (its points came back by themselves)"),
                ("rule-violation", "a delivery to the city card cannot be cancelled"),
            ),
        },
    )
    async def cancel(
        self,
        redemption_id: Annotated[UUID, PathParameter(description="The redemption's id")],
        ctx: NamedDependency[Context],
    ) -> RedemptionOut:
        return await service.cancel(ctx.pool, ctx.uid, redemption_id, _now())

    @get(
        "/city-card",
        operation_id="getCityCard",
        summary="Your linked city card (your city's)",
        response_description="The card (its number is not kept)",
        responses={404: problem(("not-found", "no card is linked"), NOT_REGISTERED)},
    )
    async def card(self, ctx: NamedDependency[Context]) -> CityCardOut:
        return await service.card(ctx.pool, await ctx.catalogue.current(), ctx.uid)

    @put(
        "/city-card",
        operation_id="linkCityCard",
        summary="Link (201) or replace (200) your city's card; only a keyed hash of its number is stored",
        status_code=200,
        response_description="Replaced",
        responses={
            **also(201, CityCardOut, "Linked"),
            **NOT_REGISTERED_404,
            409: problem(("conflict", "the card is linked to another account")),
            503: problem(("unavailable", "city cards are not configured, or the database is down")),
        },
    )
    async def link_card(self, data: JSONBody[CityCardIn], ctx: NamedDependency[Context]) -> Response[CityCardOut]:
        snapshot = await ctx.catalogue.current()
        linked, created = await service.link_card(ctx.pool, snapshot, ctx.settings, ctx.uid, data)
        return Response(linked, status_code=201 if created else 200)

    @delete(
        "/city-card",
        operation_id="unlinkCityCard",
        summary="Unlink your city card (deliveries under way still reach it)",
        response_description="Unlinked (also when none was linked)",
        responses=NOT_REGISTERED_404,
    )
    async def unlink_card(self, ctx: NamedDependency[Context]) -> None:
        await service.unlink_card(ctx.pool, ctx.uid)


def _partner(ctx: Context) -> PartnerCaller:
    assert ctx.partner is not None, "a partner route without the PARTNER guard"
    return ctx.partner


class PartnerController(Controller):
    """Partners, with their API key: check and accept redemption codes, see their redemptions, rotate the key.

    A partner sees only its own redemptions: another partner's code answers 404, as if it did not exist.
    """

    path = "/v1/partner"
    tags = ["partners"]
    guards = [PARTNER]

    @get(
        "/",
        operation_id="getPartner",
        summary="The partner your key belongs to, its rewards and the key",
        response_description="The partner",
    )
    async def whoami(self, ctx: NamedDependency[Context]) -> PartnerSelf:
        partner = _partner(ctx)
        return await service.partner_self(ctx.pool, partner.partner_id, partner.key_id)

    @get(
        "/redemptions",
        operation_id="listPartnerRedemptions",
        summary="Your redemptions, newest first",
        response_description="A page of redemptions",
    )
    async def redemptions(
        self, ctx: NamedDependency[Context], status: StatusFilter = None, limit: Limit = 50, cursor: Cursor = None
    ) -> PartnerRedemptionPage:
        partner = _partner(ctx)
        return await service.redemptions_page(
            ctx.pool, partner.partner_id, partner.city_id, status, limit, cursor, _now()
        )

    @get(
        "/redemptions/{code:str}",
        operation_id="checkRedemptionCode",
        summary="Check a code a resident shows: which reward, and whether it is valid now",
        response_description="The redemption; `valid` says whether to accept it",
    )
    async def check(self, code: RedemptionCode, ctx: NamedDependency[Context]) -> PartnerRedemption:
        return await service.check_code(ctx.pool, _partner(ctx).partner_id, code, _now())

    @post(
        "/redemptions/{code:str}/use",
        operation_id="useRedemptionCode",
        summary="Accept a code: it is marked used and cannot be used again",
        status_code=200,
        response_description="Used now",
        responses={
            409: problem(
                ("code-used", "the code was used already (`detail` says when)"),
                ("code-expired", "the code expired or the resident cancelled it"),
            )
        },
    )
    async def use(self, code: RedemptionCode, ctx: NamedDependency[Context]) -> PartnerRedemption:
        partner = _partner(ctx)
        return await service.use_code(ctx.pool, partner.partner_id, partner.key_id, code, _now())

    @post(
        "/keys",
        operation_id="rotatePartnerKey",
        summary="Rotate your API key: a new key now; the one you called with works 24 more hours",
        status_code=201,
        response_description="The new key, shown this once",
    )
    async def rotate(self, ctx: NamedDependency[Context]) -> NewKey:
        partner = _partner(ctx)
        return await service.rotate_key(ctx.pool, partner.partner_id, partner.key_id, _now())


FORBIDDEN_CITY = {403: problem(("forbidden", "`code` is a city you do not coordinate"))}


class AdminRewardController(Controller):
    """Coordinators: their city's partners, rewards, partner keys and redemptions; admins: every city's."""

    path = "/v1/admin/cities/{code:str}"
    tags = ["coordinators"]
    guards = [COORDINATOR]

    @get(
        "/partners",
        operation_id="listPartners",
        summary="The city's partners with their rewards, what each handed out, and their API keys",
        response_description="The partners",
        responses=FORBIDDEN_CITY,
    )
    async def partners(self, code: CityCode, ctx: NamedDependency[Context]) -> list[PartnerAdmin]:
        return await service.list_partners(ctx.pool, await ctx.catalogue.current(), ctx.grants, code)

    @put(
        "/partners/{partner:str}",
        operation_id="putPartner",
        summary="Create (201) or replace (200) a partner with its rewards, with the same checks as partner files",
        description="The body has the format of a partner file (`campaigns/<city>/rewards/<partner>.toml`). A "
        "reward left out is withdrawn; its redemptions stay valid. A partner from a file is changed in its file.",
        status_code=200,
        response_description="Replaced",
        responses={
            **also(201, PartnerAdmin, "Created"),
            **FORBIDDEN_CITY,
            409: problem(("conflict", "the code is a partner of a file or of another city, or a reward code is taken")),
        },
    )
    async def put_partner(
        self, code: CityCode, partner: PartnerCode, data: JSONBody[PartnerDefinition], ctx: NamedDependency[Context]
    ) -> Response[PartnerAdmin]:
        snapshot = await ctx.catalogue.current()
        stored, created = await service.put_partner(ctx.pool, snapshot, ctx.grants, code, partner, data)
        return Response(stored, status_code=201 if created else 200)

    @post(
        "/partners/{partner:str}/keys",
        operation_id="createPartnerKey",
        summary="A new API key for the partner, shown this once (only its hash is kept)",
        status_code=201,
        response_description="The new key",
        responses=FORBIDDEN_CITY,
    )
    async def create_key(self, code: CityCode, partner: PartnerCode, ctx: NamedDependency[Context]) -> NewKey:
        return await service.create_key(ctx.pool, await ctx.catalogue.current(), ctx.grants, code, partner, ctx.uid)

    @delete(
        "/partners/{partner:str}/keys/{key_id:int}",
        operation_id="revokePartnerKey",
        summary="Revoke a partner's API key at once",
        response_description="Revoked (also when it was revoked before)",
        responses=FORBIDDEN_CITY,
    )
    async def revoke_key(
        self,
        code: CityCode,
        partner: PartnerCode,
        key_id: Annotated[int, PathParameter(description="The key's id")],
        ctx: NamedDependency[Context],
    ) -> None:
        snapshot = await ctx.catalogue.current()
        await service.revoke_key(ctx.pool, snapshot, ctx.grants, code, partner, key_id, _now())

    @get(
        "/redemptions",
        operation_id="listCityRedemptions",
        summary="The city's redemptions, newest first, with each card delivery and its attempts",
        response_description="A page of redemptions (no resident is named)",
        responses=FORBIDDEN_CITY,
    )
    async def redemptions(
        self,
        code: CityCode,
        ctx: NamedDependency[Context],
        partner: Annotated[str | None, QueryParameter(max_length=64, description="Only this partner's")] = None,
        status: StatusFilter = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> PartnerRedemptionPage:
        snapshot = await ctx.catalogue.current()
        return await service.city_redemptions(
            ctx.pool, snapshot, ctx.grants, code, partner, status, limit, cursor, _now()
        )
