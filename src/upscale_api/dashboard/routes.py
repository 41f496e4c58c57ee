"""``/dashboard``: the coordinators' web pages, rendered on the server.

Pages are HTML, not part of the JSON API: they are left out of the OpenAPI
document (``include_in_schema=False``) and their access is tested by a table of
their own (``tests/dashboard/test_dashboard_access.py``). A coordinator signs
in with a Firebase ID token, exchanged at ``POST /dashboard/sign-in`` for a
session cookie (HttpOnly, SameSite=Lax, Secure in production); the session
makes the caller known to the same access guards as a bearer token, so every
page runs the API's guard (``COORDINATOR``, roles read from the database on
every request) and the API's services with their checks of which city's data
a caller may see. Every form carries the session's CSRF token. Interaction
(deciding a held entry, a broadcast's preview, adding rows in the editor,
refreshing a campaign's figures) uses htmx, served from ``/dashboard/static``
like the stylesheet: nothing is fetched from anywhere else.
"""

from __future__ import annotations

import asyncio
import functools
import time
import typing
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from litestar import Controller, Litestar, MediaType, Request, Response, Router, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import PathParameter, QueryParameter
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from upscale_api.auth import COORDINATOR, PUBLIC, Identity
from upscale_api.campaigns import service as campaigns
from upscale_api.campaigns.structs import BroadcastIn, TeamKind
from upscale_api.catalogue.structs import Category
from upscale_api.context import Context
from upscale_api.dashboard import service
from upscale_api.dashboard.sessions import ROTATE, DashboardSessionConfig, PostgresSessionStore
from upscale_api.dashboard.texts import LANGUAGES, Language, day, figure, localized, pick_language, text
from upscale_api.errors import Problem
from upscale_api.reports import service as reports
from upscale_api.reviews import service as reviews
from upscale_api.reviews.structs import DecisionIn, Status
from upscale_api.roles.service import managed_cities
from upscale_api.settings import Settings
from upscale_api.validation import FieldError, InvalidInput, collect_errors

if TYPE_CHECKING:
    from litestar.config.app import AppConfig
    from litestar.types import ASGIApp, Receive, Scope, Send

SESSION_COOKIE = "upscale_dashboard"
STORE = "dashboard_sessions"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "_csrf"
CATEGORIES: list[str] = list(typing.get_args(Category))
TEAM_KINDS: list[str] = list(typing.get_args(TeamKind))
Code = Annotated[str, PathParameter(max_length=64)]
DISPLAY_ZONE = ZoneInfo("Europe/Ljubljana")
"""Times on pages about no one city (held entries, broadcasts) read on this clock."""
MAX_TOKEN = 8192
"""Longer than any Firebase ID token."""


# --- Sessions and access -----------------------------------------------------------


def session_identity(app: ASGIApp) -> ASGIApp:
    """Makes the signed-in coordinator of a live session the request's caller, as a verified
    bearer token would: the routes' access guards then check their roles as for the API."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        session = scope.get("session")
        if isinstance(session, dict):
            uid, expires_at = session.get("uid"), session.get("expires_at")
            if isinstance(uid, str) and isinstance(expires_at, float) and expires_at > time.time():
                scope.setdefault("state", {})["identity"] = Identity(uid, "dashboard-session", expires_at)
        await app(scope, receive, send)

    return middleware


async def csrf_protected(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Refuse a form or htmx request that does not carry this session's CSRF token."""
    expected = connection.scope.get("session", {}) or {}
    given = connection.headers.get(CSRF_HEADER)
    if given is None:
        form = await Request(connection.scope, connection.receive).form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not service.csrf_matches(expected.get("csrf") if isinstance(expected, dict) else None, given):
        raise PermissionDeniedException("the form has expired or did not come from this dashboard; reload the page")


def _language(request: Request[Any, Any, Any]) -> Language:
    session = request.scope.get("session")
    stored = session.get("lang") if isinstance(session, dict) else None
    asked = request.query_params.get("lang")
    language = pick_language(asked or stored, request.headers.get("accept-language", ""))
    if asked in LANGUAGES and isinstance(session, dict) and session.get("uid"):
        session["lang"] = asked
    return language


async def _page(request: Request[Any, Any, Any], template: str, ctx: Context, **context: Any) -> Template:
    """A page for a signed-in coordinator: the layout links the impact report of each of their cities."""
    managed = managed_cities(ctx.grants)
    cities = managed if managed is not None else sorted((await ctx.catalogue.current()).cities)
    return _render(request, template, cities, **context)


def _render(
    request: Request[Any, Any, Any], template: str, cities: list[str] | None = None, **context: Any
) -> Template:
    language = _language(request)
    session = request.scope.get("session") or {}
    return Template(
        template_name=template,
        context={
            "lang": language,
            "t": functools.partial(text, language),
            "day": functools.partial(_day, language=language),
            "moment": functools.partial(_moment, zone=context.get("zone", DISPLAY_ZONE)),
            "zone": context.get("zone", DISPLAY_ZONE),
            "figure": functools.partial(_figure, language=language),
            "uid": session.get("uid") if isinstance(session, dict) else None,
            "csrf": session.get("csrf", "") if isinstance(session, dict) else "",
            "cities": cities or [],
            "path": request.url.path,
            "query": request.url.query,
        }
        | context,
        media_type=MediaType.HTML,
    )


# --- Errors as pages ----------------------------------------------------------------


def _is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def _signed_out(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    target = f"/dashboard/sign-in?next={request.url.path}"
    if _is_htmx(request):
        return Response("", status_code=401, headers={"HX-Redirect": target})
    return Redirect(target, status_code=303)


def _error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, Problem):
        status, detail = exc.status, exc.detail
    elif isinstance(exc, HTTPException):
        status, detail = exc.status_code, exc.detail
    else:
        status, detail = 500, "something went wrong on our side; it has been logged"
    key = {403: "forbidden", 404: "not_found"}.get(status, "error")
    page = _render(request, "error.html.j2", title_key=key, detail=detail, status=status)
    page.status_code = status
    return page


EXCEPTION_HANDLERS: dict[Any, Any] = {
    NotAuthorizedException: _signed_out,
    Problem: _error_page,
    HTTPException: _error_page,
}


# --- Response headers ------------------------------------------------------------------

# Scripts, styles and images from the app only (the sign-in page's Firebase SDK talks to Google's
# identity endpoints and opens their sign-in window); no page may be framed by another site.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' https://identitytoolkit.googleapis.com https://securetoken.googleapis.com; "
    "frame-src https://*.firebaseapp.com; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


async def _security_headers(response: Response[Any]) -> Response[Any]:
    """Pages and exports: the policy above, and kept off shared caches (static files pass as they are)."""
    if not isinstance(response, Response):  # a static file
        return response
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


# --- Signing in ------------------------------------------------------------------------


class SignInController(Controller):
    """The sign-in page and the exchange of a Firebase ID token for a session."""

    path = "/sign-in"
    guards = [PUBLIC]

    @get("/", name="dashboard-sign-in")
    async def page(self, request: Request[Any, Any, Any], ctx: NamedDependency[Context]) -> Template:
        return _sign_in_page(request, ctx, service.safe_next(request.query_params.get("next")))

    @post("/", status_code=303)
    async def sign_in(self, request: Request[Any, Any, Any], ctx: NamedDependency[Context]) -> Response[Any]:
        form = await request.form()
        token, target = form.get("id_token"), service.safe_next(form.get("next"))
        language = _language(request)
        try:
            if not isinstance(token, str) or not token.strip() or len(token) > MAX_TOKEN:
                raise NotAuthorizedException("no usable ID token was sent")
            identity, _, csrf = await service.sign_in(request.app.state.token_verifier, ctx.pool, token)
        except NotAuthorizedException as exc:
            return _sign_in_page(request, ctx, target, text(language, "bad_token") + str(exc.detail), 401)
        except Problem:
            return _sign_in_page(request, ctx, target, text(language, "not_staff"), 403)
        request.scope[ROTATE] = True  # type: ignore[literal-required]
        expires_at = time.time() + service.SESSION_SECONDS
        request.set_session({"uid": identity.uid, "csrf": csrf, "expires_at": expires_at, "lang": language})
        return Redirect(target, status_code=303)


def _sign_in_page(
    request: Request[Any, Any, Any], ctx: Context, target: str, problem: str | None = None, status: int = 200
) -> Template:
    settings = ctx.settings
    page = _render(
        request,
        "sign_in.html.j2",
        emulated=settings.auth_emulated,
        project_id=settings.firebase_project_id,
        api_key=settings.upscale_firebase_web_api_key,
        auth_domain=settings.upscale_firebase_auth_domain,
        next=target,
        problem=problem,
    )
    page.status_code = status
    return page


# --- The pages -----------------------------------------------------------------------


def _today() -> date:
    return datetime.now(DISPLAY_ZONE).date()


class DashboardController(Controller):
    """Every page a signed-in coordinator (or admin) uses."""

    path = "/"
    guards = [COORDINATOR]

    @post("/sign-out", guards=[csrf_protected], status_code=303)
    async def sign_out(self, request: Request[Any, Any, Any]) -> Response[Any]:
        request.clear_session()
        return Redirect("/dashboard/sign-in", status_code=303)

    @get("/", name="dashboard-home")
    async def campaigns(self, request: Request[Any, Any, Any], ctx: NamedDependency[Context]) -> Template:
        today = _today()
        listed = await campaigns.overview(ctx.pool, ctx.grants, today - timedelta(days=today.weekday()))
        return await _page(request, "campaigns.html.j2", ctx, listed=listed)

    @get("/campaigns/{code:str}")
    async def campaign(self, request: Request[Any, Any, Any], code: Code, ctx: NamedDependency[Context]) -> Template:
        language = _language(request)
        snapshot = await ctx.catalogue.current()
        # Four reads on four connections at once: the page waits for the slowest, not for their sum.
        found, stats, recognition, contest = await asyncio.gather(
            campaigns.get_campaign(ctx.pool, ctx.grants, code),
            campaigns.stats(ctx.pool, ctx.grants, code),
            campaigns.recognition(ctx.pool, ctx.grants, code),
            campaigns.contest(ctx.pool, snapshot, ctx.grants, code, language),
        )
        figures = service.campaign_figures(found.definition, stats, contest, language, _today())
        return await _page(
            request,
            "campaign_fragment.html.j2" if _is_htmx(request) else "campaign.html.j2",
            ctx,
            campaign=found,
            title=localized(found.definition.title, language),
            stats=stats,
            recognition=recognition,
            contest=contest,
            figures=figures,
            localized=lambda texts: localized(texts, language),
            zone=ZoneInfo(snapshot.cities[found.city].time_zone) if found.city in snapshot.cities else DISPLAY_ZONE,
        )

    @get("/campaigns/{code:str}/recognition.csv")
    async def recognition_csv(self, code: Code, ctx: NamedDependency[Context]) -> Response[str]:
        recognised = await campaigns.recognition(ctx.pool, ctx.grants, code)
        return _csv(campaigns.recognition_csv(recognised), f"{code}-recognition.csv")

    @get("/campaigns/{code:str}/contest.csv")
    async def contest_csv(
        self, request: Request[Any, Any, Any], code: Code, ctx: NamedDependency[Context]
    ) -> Response[str]:
        snapshot = await ctx.catalogue.current()
        standing = await campaigns.contest(ctx.pool, snapshot, ctx.grants, code, _language(request))
        return _csv(campaigns.contest_csv(standing), f"{code}-contest.csv")

    # --- the editor

    @get("/campaigns/new")
    async def new_campaign(self, request: Request[Any, Any, Any], ctx: NamedDependency[Context]) -> Template:
        managed = managed_cities(ctx.grants)
        snapshot = await ctx.catalogue.current()
        city = (managed or sorted(snapshot.cities))[0]
        return await self._editor(request, ctx, service.new_campaign(city, _today()), new=True)

    @post("/campaigns/new", guards=[csrf_protected], status_code=200)
    async def create_campaign(self, request: Request[Any, Any, Any], ctx: NamedDependency[Context]) -> Response[Any]:
        form = await request.form()
        fields = list(form.multi_items())
        managed = managed_cities(ctx.grants)
        snapshot = await ctx.catalogue.current()
        base = service.new_campaign((managed or sorted(snapshot.cities))[0], _today())
        definition = service.form_to_definition(fields, base)
        code = definition.get("code", "")
        if isinstance(code, str) and code and await campaigns.campaign_id(ctx.pool, code) is not None:
            errors = {"code": f"a campaign {code!r} exists already"}
            return await self._editor(request, ctx, definition, new=True, errors=errors, status=422)
        return await self._save(request, ctx, definition, code if isinstance(code, str) else "", new=True)

    @get("/campaigns/{code:str}/edit")
    async def edit_campaign(
        self, request: Request[Any, Any, Any], code: Code, ctx: NamedDependency[Context]
    ) -> Template:
        found = await campaigns.get_campaign(ctx.pool, ctx.grants, code)
        return await self._editor(request, ctx, msgspec.to_builtins(found.definition), source=found.source)

    @post("/campaigns/{code:str}/edit", guards=[csrf_protected], status_code=200)
    async def save_campaign(
        self, request: Request[Any, Any, Any], code: Code, ctx: NamedDependency[Context]
    ) -> Response[Any]:
        found = await campaigns.get_campaign(ctx.pool, ctx.grants, code)
        form = await request.form()
        definition = service.form_to_definition(list(form.multi_items()), msgspec.to_builtins(found.definition))
        definition["code"] = code
        return await self._save(request, ctx, definition, code, new=False, source=found.source)

    async def _save(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[Context],
        definition: dict[str, Any],
        code: str,
        *,
        new: bool,
        source: str = "api",
    ) -> Response[Any]:
        snapshot = await ctx.catalogue.current()
        try:
            campaign = service.to_campaign(definition)
            await campaigns.put_campaign(ctx.pool, snapshot, ctx.grants, code, campaign)
        except InvalidInput as exc:
            errors = service.errors_by_field(exc.errors)
            return await self._editor(request, ctx, definition, new=new, errors=errors, status=422, source=source)
        except Problem as exc:
            if exc.status not in (409, 422):
                raise
            errors = service.errors_by_field(exc.errors or [FieldError("", exc.detail)])
            return await self._editor(
                request, ctx, definition, new=new, errors=errors, status=exc.status, source=source
            )
        return Redirect(f"/dashboard/campaigns/{code}/edit?saved=1", status_code=303)

    def _editor_context(self, snapshot: Any, definition: dict[str, Any], language: Language) -> dict[str, Any]:
        cities = definition.get("cities") or []
        offered = sorted(
            {
                t.code: t for c in cities if c in snapshot.cities for t in snapshot.offered_in(snapshot.cities[c])
            }.values(),
            key=lambda t: (t.category, t.code),
        )
        # A rule or the ranking counts only the campaign's own action types: those are the choices
        # (every offered type while it has none yet).
        counted = {a.get("type") for a in definition.get("action") or [] if isinstance(a, dict)}
        choices = [t for t in offered if t.code in counted] or offered

        def named(types: list[Any]) -> list[tuple[str, str]]:
            return [(t.code, f"{localized(t.title, language)} ({t.unit})") for t in types]

        return {
            "category_options": [(c, text(language, f"cat_{c}")) for c in CATEGORIES],
            "rule_kinds": [
                (k, text(language, f"kind_{k}"))
                for k in ("team_participation", "quantity", "distinct_days", "collective", "personal")
            ],
            "member_kinds": [(k, text(language, f"kind_{k}")) for k in ("distinct_days", "quantity")],
            "type_options": named(offered),
            "counted_options": named(choices),
            "team_kinds": TEAM_KINDS,
            "campaign_cities": cities,
        }

    async def _editor(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[Context],
        definition: dict[str, Any],
        *,
        new: bool = False,
        errors: dict[str, str] | None = None,
        status: int = 200,
        source: str = "api",
    ) -> Template:
        snapshot = await ctx.catalogue.current()
        errors = errors or {}
        page = await _page(
            request,
            "editor.html.j2",
            ctx,
            d=definition,
            new=new,
            errors=errors,
            unplaced=[(f, r) for f, r in errors.items() if not _placed(f)],
            saved=request.query_params.get("saved") == "1" and not errors,
            read_only=source == "file",
            **self._editor_context(snapshot, definition, _language(request)),
        )
        page.status_code = status
        return page

    # --- broadcast

    @get("/campaigns/{code:str}/broadcast")
    async def broadcast_form(
        self, request: Request[Any, Any, Any], code: Code, ctx: NamedDependency[Context]
    ) -> Template:
        found = await campaigns.get_campaign(ctx.pool, ctx.grants, code)
        teams = await campaigns.teams(ctx.pool, ctx.grants, code)
        return await _page(
            request, "broadcast.html.j2", ctx, campaign=found, teams=teams, form={}, errors={}, result=None
        )

    @post("/campaigns/{code:str}/broadcast", guards=[csrf_protected], status_code=200)
    async def broadcast(self, request: Request[Any, Any, Any], code: Code, ctx: NamedDependency[Context]) -> Template:
        found = await campaigns.get_campaign(ctx.pool, ctx.grants, code)
        teams = await campaigns.teams(ctx.pool, ctx.grants, code)
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        send = form.get("action") == "send"
        body: dict[str, Any] = {
            "title": {lang: form.get(f"title.{lang}", "") for lang in LANGUAGES},
            "body": {lang: form.get(f"body.{lang}", "") for lang in LANGUAGES},
            "segment": {
                k: v for k, v in (("team", form.get("team")), ("inactive_days", form.get("inactive_days"))) if v
            },
            "dry_run": not send,
        }
        errors: dict[str, str] = {}
        result = None
        try:
            message = msgspec.convert(body, BroadcastIn, strict=False)
            result = await campaigns.broadcast(ctx.pool, ctx.grants, code, message, datetime.now(UTC))
        except msgspec.ValidationError:
            errors = service.errors_by_field(collect_errors(body, BroadcastIn, strict=False))
        except Problem as exc:
            if exc.status != 422:
                raise
            errors = service.errors_by_field(exc.errors or [FieldError("", exc.detail)])
        page = await _page(
            request,
            "broadcast_result.html.j2" if _is_htmx(request) else "broadcast.html.j2",
            ctx,
            campaign=found,
            teams=teams,
            form=form,
            errors=errors,
            result=result,
        )
        page.status_code = 422 if errors else 200
        return page

    # --- held entries

    @get("/held-entries")
    async def held_entries(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[Context],
        status: Annotated[Status | None, QueryParameter()] = "pending",
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Template:
        page = await reviews.list_entries(ctx.pool, ctx.grants, None, status, 50, cursor)
        return await _page(request, "held_entries.html.j2", ctx, entries=page, status=status)

    @post("/held-entries/{entry_id:int}/decision", guards=[csrf_protected], status_code=200)
    async def decide(
        self,
        request: Request[Any, Any, Any],
        entry_id: Annotated[int, PathParameter(ge=1)],
        ctx: NamedDependency[Context],
    ) -> Template:
        form = await request.form()
        raw = {"decision": form.get("decision"), "note": (form.get("note") or None)}
        try:
            decision = msgspec.convert(raw, DecisionIn)
        except msgspec.ValidationError:
            errors = collect_errors(raw, DecisionIn)
            raise Problem.invalid(errors) from None
        entry = await reviews.decide(ctx.pool, ctx.grants, ctx.uid, entry_id, decision, datetime.now(UTC))
        if _is_htmx(request):
            return await _page(request, "held_entry_row.html.j2", ctx, entry=entry)
        listed = await reviews.list_entries(ctx.pool, ctx.grants, None, "pending", 50, None)
        return await _page(request, "held_entries.html.j2", ctx, entries=listed, status="pending")

    # --- city impact

    @get("/cities/{code:str}/impact")
    async def impact(
        self,
        request: Request[Any, Any, Any],
        code: Code,
        ctx: NamedDependency[Context],
        start: Annotated[str | None, QueryParameter(name="from", max_length=7)] = None,
        to: Annotated[str | None, QueryParameter(max_length=7)] = None,
    ) -> Template:
        language = _language(request)
        snapshot = await ctx.catalogue.current()
        report = await reports.city_impact(
            ctx.pool, snapshot, ctx.grants, code, start or None, to or None, datetime.now(UTC)
        )
        chart, target, used = service.impact_figures(report, language)
        city = snapshot.cities[code]
        return await _page(
            request,
            "impact.html.j2",
            ctx,
            report=report,
            chart=chart,
            target=target,
            used=used,
            city_name=localized(city.name, language),
        )

    @get("/cities/{code:str}/impact.csv")
    async def impact_csv(
        self,
        code: Code,
        ctx: NamedDependency[Context],
        start: Annotated[str | None, QueryParameter(name="from", max_length=7)] = None,
        to: Annotated[str | None, QueryParameter(max_length=7)] = None,
    ) -> Response[str]:
        snapshot = await ctx.catalogue.current()
        report = await reports.city_impact(
            ctx.pool, snapshot, ctx.grants, code, start or None, to or None, datetime.now(UTC)
        )
        return _csv(reports.impact_csv(report), f"{code}-impact-{report.from_}-{report.to}.csv")


def _placed(field: str) -> bool:
    """Whether the editor shows an error beside this field (others are listed on top)."""
    return field.startswith(("title.", "description.", "starts_on", "ends_on", "code", "status", "enrolment",
                             "invite_code", "action[", "team[", "challenge[", "ranking"))  # fmt: skip


def _moment(value: datetime, *, zone: ZoneInfo) -> str:
    """A moment on the clock of the city the page is about."""
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _day(value: date, *, language: Language) -> str:
    return day(value, language)


def _figure(value: float, decimals: int = 1, *, language: Language) -> str:
    return figure(value, language, decimals)


def _csv(content: str, name: str) -> Response[str]:
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- Registration -----------------------------------------------------------------------


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("upscale_api.dashboard", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals.update(CSRF_FIELD=CSRF_FIELD, zip=zip)
    return environment


def session_config(settings: Settings) -> DashboardSessionConfig:
    """The session cookie: HttpOnly, SameSite=Lax, only under /dashboard, Secure outside development and tests."""
    return DashboardSessionConfig(
        key=SESSION_COOKIE,
        store=STORE,
        max_age=service.SESSION_SECONDS,
        path="/dashboard",
        httponly=True,
        secure=settings.upscale_env == "production",
        samesite="lax",
    )


def configure_dashboard(app_config: AppConfig, settings: Settings) -> None:
    """Register the dashboard on the app: its routes under ``/dashboard``, its templates, the
    session store and the session middleware (on these routes only), its static files."""
    store = PostgresSessionStore()
    stores = app_config.stores if isinstance(app_config.stores, dict) else {}
    app_config.stores = {**stores, STORE: store}
    app_config.template_config = TemplateConfig(instance=JinjaTemplateEngine.from_environment(_environment()))
    sessions = session_config(settings)
    static = create_static_files_router(
        path="/static",
        directories=[resources.files("upscale_api.dashboard") / "static"],  # type: ignore[list-item]
        guards=[PUBLIC],
        include_in_schema=False,
        name="dashboard-static",
        opt={"rate_limit": "off"},
    )
    app_config.route_handlers.append(
        Router(
            "/dashboard",
            route_handlers=[SignInController, DashboardController, static],
            middleware=[sessions.middleware, session_identity],
            exception_handlers=EXCEPTION_HANDLERS,
            after_request=_security_headers,
            include_in_schema=False,
        )
    )

    @asynccontextmanager
    async def bind_store(app: Litestar) -> AsyncIterator[None]:
        store.bind(app.state.pool)
        try:
            yield
        finally:
            store.bind(None)

    app_config.lifespan.append(bind_store)
