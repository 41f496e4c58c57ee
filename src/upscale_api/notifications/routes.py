"""``/v1/me/devices``, ``/v1/me/notification-settings`` and the inbox ``/v1/me/notifications``."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from upscale_api.auth import SIGNED_IN
from upscale_api.context import Context
from upscale_api.notifications import service
from upscale_api.notifications.structs import (
    DeviceIn,
    DeviceOut,
    Inbox,
    NotificationSettings,
    NotificationSettingsPatch,
)
from upscale_api.openapi import NOT_REGISTERED, also, problem

InstallationId = Annotated[str, PathParameter(description="The device's Firebase installation ID")]
NotificationId = Annotated[int, PathParameter(description="The message's id")]


class DeviceController(Controller):
    path = "/v1/me/devices"
    tags = ["notifications"]
    guards = [SIGNED_IN]

    @put(
        "/{installation_id:str}",
        operation_id="registerDevice",
        summary="Register (201) or refresh (200) this device by its Firebase installation ID",
        description="A device registered by another resident moves to you (logging in on a shared phone).",
        status_code=200,
        response_description="Refreshed",
        responses={**also(201, DeviceOut, "Registered"), 404: problem(NOT_REGISTERED)},
    )
    async def register(
        self, installation_id: InstallationId, data: JSONBody[DeviceIn], ctx: NamedDependency[Context]
    ) -> Response[DeviceOut]:
        device, created = await service.register_device(ctx.pool, ctx.uid, installation_id, data)
        return Response(device, status_code=201 if created else 200)

    @get("/", operation_id="listDevices", summary="Your devices", response_description="Your registered devices")
    async def devices(self, ctx: NamedDependency[Context]) -> list[DeviceOut]:
        return await service.devices(ctx.pool, ctx.uid)

    @delete(
        "/{installation_id:str}",
        operation_id="removeDevice",
        summary="Forget this device (logout)",
        response_description="Forgotten: no more pushes to it",
    )
    async def remove(self, installation_id: InstallationId, ctx: NamedDependency[Context]) -> None:
        await service.remove_device(ctx.pool, ctx.uid, installation_id)


class NotificationController(Controller):
    path = "/v1/me"
    tags = ["notifications"]
    guards = [SIGNED_IN]

    @get(
        "/notification-settings",
        operation_id="getNotificationSettings",
        summary="What you get pushed, quiet hours and the daily cap",
        response_description="Your preferences",
        responses={404: problem(NOT_REGISTERED)},
    )
    async def settings(self, ctx: NamedDependency[Context]) -> NotificationSettings:
        return await service.settings(ctx.pool, ctx.uid)

    @patch(
        "/notification-settings",
        operation_id="updateNotificationSettings",
        summary="Change some preferences; fields left out keep their value",
        response_description="Your preferences after the change",
        responses={404: problem(NOT_REGISTERED)},
    )
    async def update_settings(
        self, data: JSONBody[NotificationSettingsPatch], ctx: NamedDependency[Context]
    ) -> NotificationSettings:
        return await service.update_settings(ctx.pool, ctx.uid, data)

    @get(
        "/notifications",
        operation_id="listNotifications",
        summary="Your inbox: every message, also those not pushed, newest first",
        response_description="A page of messages, the unread count and the cursor of the next page",
        responses={404: problem(NOT_REGISTERED)},
    )
    async def inbox(
        self,
        ctx: NamedDependency[Context],
        limit: Annotated[int, QueryParameter(ge=1, le=100, description="Page size")] = 30,
        cursor: Annotated[
            str | None,
            QueryParameter(
                max_length=20,
                description="The `next_cursor` of the previous page",
                schema_extra={"pattern": "^[0-9]+$"},
            ),
        ] = None,
    ) -> Inbox:
        return await service.inbox(ctx.pool, ctx.uid, limit, cursor)

    @post(
        "/notifications/{notification_id:int}/read",
        operation_id="markNotificationRead",
        summary="Mark a message read",
        status_code=204,
        response_description="Marked read",
    )
    async def read(self, notification_id: NotificationId, ctx: NamedDependency[Context]) -> None:
        await service.mark_read(ctx.pool, ctx.uid, notification_id)
