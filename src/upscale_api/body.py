"""Request bodies are decoded strictly into the handler's ``data`` Struct.

Litestar's own path decodes JSON untyped and then converts leniently (a string
``"3"`` would pass as a number) and reports one error. :class:`StrictRequest`
decodes the bytes straight into the declared type with msgspec and, when that
fails, lists every bad field (:mod:`upscale_api.validation`). The Struct it
returns passes through Litestar's signature model untouched.

Any bytes that are not well-formed JSON (truncated, trailing bytes, invalid
UTF-8, nested too deeply) are a 400 ``malformed-body`` problem, and text
PostgreSQL cannot store a 422 naming the field, for every route alike.

A handler may accept a list whose items are answered one by one (offline sync):
it names that field in ``opt={"item_errors": "<field>"}``. Items that fail to
decode are dropped from the list and their errors kept in
:func:`item_errors`, keyed by their position in the body.
"""

from __future__ import annotations

import functools
import typing
from typing import Any

import msgspec
from litestar import Request
from litestar.handlers.http_handlers import HTTPRouteHandler

from upscale_api import validation
from upscale_api.validation import FieldError

_ITEM_ERRORS = "item_errors"
_POSITIONS = "item_positions"


class StrictRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        body = await self.body()
        handler = self.route_handler
        target = _data_type(handler)
        if target is None:  # not a Struct: decoded untyped, with the same answers to broken bytes
            return validation.decode(body or b"null", object, msgspec.json.decode)
        item_field = handler.opt.get("item_errors")
        if item_field is None:
            return validation.decode(body, target, msgspec.json.decode)
        return self._decode_items_one_by_one(body, target, item_field)

    def _decode_items_one_by_one(self, body: bytes, target: type[msgspec.Struct], item_field: str) -> Any:
        envelope = validation.decode(body, _envelope_of(target, item_field), msgspec.json.decode)
        raw_items: list[msgspec.Raw] = getattr(envelope, item_field)
        item_type = typing.get_args(_list_type(target, item_field))[0]
        decoded, errors, positions = [], {}, []
        for position, raw in enumerate(raw_items):
            try:
                # The envelope's decode checked the whole body's text already.
                decoded.append(validation.decode(bytes(raw), item_type, msgspec.json.decode, check_text=False))
                positions.append(position)
            except validation.InvalidInput as exc:  # each raw item is well-formed JSON already
                errors[position] = exc.errors
        self.state[_ITEM_ERRORS] = errors
        self.state[_POSITIONS] = positions
        fields = {f.name: getattr(envelope, f.name) for f in msgspec.structs.fields(target)}
        return target(**(fields | {item_field: decoded}))


def item_errors(request: Request[Any, Any, Any]) -> tuple[list[int], dict[int, list[FieldError]]]:
    """For an ``item_errors`` route: body positions of the decoded items, and the errors of the others."""
    return request.state.get(_POSITIONS, []), request.state.get(_ITEM_ERRORS, {})


def _data_type(handler: HTTPRouteHandler) -> type[msgspec.Struct] | None:
    field = handler.parsed_fn_signature.parameters.get("data")
    if field is None:
        return None
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return annotation
    return None


def _list_type(target: type[msgspec.Struct], item_field: str) -> Any:
    hint = typing.get_type_hints(target, include_extras=True)[item_field]
    while typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    return hint


@functools.cache
def _envelope_of(target: type[msgspec.Struct], item_field: str) -> type[msgspec.Struct]:
    """``target`` with the items of ``item_field`` left undecoded (``msgspec.Raw``)."""
    hints = typing.get_type_hints(target, include_extras=True)
    original = hints[item_field]
    metas = typing.get_args(original)[1:] if typing.get_origin(original) is typing.Annotated else ()
    raw_list: Any = list[msgspec.Raw]
    if metas:
        raw_list = typing.Annotated[raw_list, *metas]
    fields = [
        (
            f.name,
            raw_list if f.name == item_field else hints[f.name],
            f.default if f.default is not msgspec.NODEFAULT else msgspec.NODEFAULT,
        )
        for f in msgspec.structs.fields(target)
    ]
    return msgspec.defstruct(
        f"{target.__name__}Envelope",
        [(n, t) if d is msgspec.NODEFAULT else (n, t, d) for n, t, d in fields],
        forbid_unknown_fields=target.__struct_config__.forbid_unknown_fields,
        kw_only=True,
    )
