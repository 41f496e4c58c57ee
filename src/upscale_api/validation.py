"""Decoding that reports every bad field, not only the first.

msgspec stops at the first error. When a typed decode fails, the input is
decoded again without a type and walked field by field, so a client (or the
author of a definition file) sees every problem in one answer.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, TypeVar, Union

import msgspec

T = TypeVar("T")

_AT_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")


class FieldError(msgspec.Struct, frozen=True):
    """One bad field: where (``actions[3].quantity``) and why."""

    field: Annotated[str, msgspec.Meta(description="Where: `actions[3].quantity`; empty for the whole body")]
    reason: Annotated[str, msgspec.Meta(description="Why it is refused, in English")]


class InvalidInput(Exception):
    """The input does not match its type; ``errors`` lists every bad field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field or 'body'}: {e.reason}" for e in errors))
        self.errors = errors


class MalformedInput(Exception):
    """The bytes are not well-formed JSON/TOML at all."""


def decode(data: bytes, type_: type[T], decoder: Callable[..., Any]) -> T:
    """Decode ``data`` into ``type_`` with ``decoder`` (``msgspec.json.decode`` or
    ``msgspec.toml.decode``); raise :class:`InvalidInput` listing every bad field,
    or :class:`MalformedInput`."""
    try:
        return typing.cast(T, decoder(data, type=type_))
    except msgspec.ValidationError as exc:
        first = str(exc)
    except msgspec.DecodeError as exc:
        raise MalformedInput(str(exc)) from None
    try:
        errors = collect_errors(decoder(data), type_)
    except msgspec.ValidationError:  # not even representable untyped (e.g. 1e999)
        errors = []
    raise InvalidInput(errors or [_as_field_error(first, "")])


def convert(value: object, type_: type[T]) -> T:
    """Like :func:`msgspec.convert` (strict), raising :class:`InvalidInput` with every bad field."""
    try:
        return msgspec.convert(value, type_, strict=True)
    except msgspec.ValidationError:
        raise InvalidInput(collect_errors(value, type_)) from None


def collect_errors(value: object, type_: Any, path: str = "") -> list[FieldError]:
    """Every place where untyped ``value`` does not fit ``type_`` (empty when it fits)."""
    if _unwrap(type_) is msgspec.Raw:  # left undecoded on purpose: anything fits
        return []
    try:
        msgspec.convert(value, type_, strict=True)
        return []
    except msgspec.ValidationError as exc:
        whole = _as_field_error(str(exc), path)
    inner = _unwrap(type_)
    found: list[FieldError] = []
    if isinstance(inner, type) and issubclass(inner, msgspec.Struct) and isinstance(value, dict):
        found = _struct_errors(value, inner, path)
    elif typing.get_origin(inner) is list and isinstance(value, list):
        (item_type,) = typing.get_args(inner)
        for index, item in enumerate(value):
            found += collect_errors(item, item_type, f"{path}[{index}]")
    elif typing.get_origin(inner) is dict and isinstance(value, dict):
        _, value_type = typing.get_args(inner)
        for key, item in value.items():
            found += collect_errors(item, value_type, _join(path, str(key)))
    elif _is_optional(inner) and value is not None:
        (present,) = [a for a in typing.get_args(inner) if a is not type(None)]
        found = collect_errors(value, present, path)
    # Nothing deeper explains it (a length bound, a cross-field rule): report it here.
    return found or [whole]


def _struct_errors(value: dict[str, Any], struct: type[msgspec.Struct], path: str) -> list[FieldError]:
    found: list[FieldError] = []
    hints = typing.get_type_hints(struct, include_extras=True)
    known = set()
    for field in msgspec.structs.fields(struct):
        known.add(field.encode_name)
        where = _join(path, field.encode_name)
        if field.encode_name not in value:
            if field.required:
                found.append(FieldError(where, "required field is missing"))
            continue
        found += collect_errors(value[field.encode_name], hints[field.name], where)
    if struct.__struct_config__.forbid_unknown_fields:
        found += [FieldError(_join(path, k), "unknown field") for k in value if k not in known]
    return found


def _as_field_error(message: str, path: str) -> FieldError:
    match = _AT_PATH.search(message)
    if match is None:
        return FieldError(path, message)
    return FieldError((path + match.group("path")).lstrip("."), message[: match.start()])


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _unwrap(type_: Any) -> Any:
    while typing.get_origin(type_) is typing.Annotated:
        type_ = typing.get_args(type_)[0]
    return type_


def _is_optional(type_: Any) -> bool:
    return typing.get_origin(type_) in (Union, types.UnionType) and type(None) in typing.get_args(type_)
