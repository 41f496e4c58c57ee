"""``GET /v1/me/export``: a resident takes all their data. (``DELETE /v1/me``, erasing it, is a route
of ``residents/routes.py``, which serves ``/v1/me``, and runs :func:`upscale_api.privacy.service.erase_account`.)"""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.response import Stream

from upscale_api.auth import SIGNED_IN
from upscale_api.context import Context
from upscale_api.openapi import NOT_REGISTERED, problem
from upscale_api.privacy import service
from upscale_api.privacy.structs import ResidentExport


class PrivacyController(Controller):
    path = "/v1/me"
    tags = ["residents"]
    guards = [SIGNED_IN]

    @get(
        "/export",
        operation_id="exportMyData",
        summary="Everything the service holds about you, as one JSON document (GDPR Art. 15 and 20)",
        description="Streamed as it is read, from one consistent snapshot: profile, staff roles, every action "
        "(deleted ones included), enrolments, teams started, scores, badges, challenges met, held day totals, "
        "devices, notification settings, messages, research consents and survey answers. The schema is "
        "`ResidentExport`; `format` names its version.",
        response_description="Your data (sent as an attachment)",
        responses={404: problem(NOT_REGISTERED)},
        media_type="application/json",
        opt={"documented_body": ResidentExport},
    )
    async def export(self, ctx: NamedDependency[Context]) -> Stream:
        resident = await service.find_for_export(ctx.pool, ctx.uid)
        now = datetime.now(UTC)
        filename = f"upscale-export-{now.date().isoformat()}.json"
        return Stream(
            service.export(ctx.pool, ctx.uid, resident["id"], now),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
        )
