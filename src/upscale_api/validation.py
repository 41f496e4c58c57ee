"""Decoding that reports every bad field, not only the first.

msgspec stops at the first error. When a typed decode fails, the input is
decoded again without a type and walked field by field, so a client (or the
author of a definition file) sees every problem in one answer.

Text PostgreSQL cannot store (U+0000, and unpaired surrogates, which have no
UTF-8 form) is refused here too, once for every body and file, naming each
field. Both can only arrive as ``\\u`` escapes, so only input holding such an
escape is walked: a body without one costs a single scan of its bytes.
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
# \u0000 or \uD800-\uDFFF as written in JSON or TOML (TOML's \U00000000 starts the same way).
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|d[89a-f])", re.IGNORECASE)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


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


def decode(data: bytes, type_: type[T], decoder: Callable[..., Any], *, check_text: bool = True) -> T:
    """Decode ``data`` into ``type_`` with ``decoder`` (``msgspec.json.decode`` or
    ``msgspec.toml.decode``); raise :class:`InvalidInput` listing every bad field
    (text that cannot be stored included), or :class:`MalformedInput` for any bytes
    that are not well-formed (truncated, trailing bytes, invalid UTF-8, nested too deeply).

    ``check_text=False`` skips looking for unstorable text: for parts of a body
    whose whole was checked already."""
    suspect = check_text and _may_hold_unstorable(data)
    try:
        decoded = typing.cast(T, decoder(data, type=type_))
    except msgspec.ValidationError as exc:
        first = str(exc)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedInput(_malformed_reason(exc)) from None
    else:
        unstorable = unstorable_text(_untyped(data, decoder)) if suspect else []
        if unstorable:
            raise InvalidInput(unstorable)
        return decoded
    # The typed decode stops at the first bad field, before reading the rest: the
    # bytes after it may still be broken, which makes the whole body malformed.
    try:
        untyped = _untyped(data, decoder)
    except InvalidInput:  # well-formed, but with no untyped value (e.g. 1e999): the first error says it
        raise InvalidInput([_as_field_error(first, "")]) from None
    try:
        errors = collect_errors(untyped, type_)
    except RecursionError:
        errors = []
    errors = (errors or [_as_field_error(first, "")]) + (unstorable_text(untyped) if suspect else [])
    raise InvalidInput(errors)


def _may_hold_unstorable(data: bytes) -> bool:
    # Most bodies hold no backslash at all: one byte is found fastest; the pattern runs only then.
    return b"\\" in data and _UNSTORABLE_ESCAPE.search(data) is not None


def _untyped(data: bytes, decoder: Callable[..., Any]) -> Any:
    """``data`` decoded without a type; :class:`MalformedInput` when the bytes are broken,
    :class:`InvalidInput` when a value has no untyped form (a number out of range)."""
    try:
        return decoder(data)
    except msgspec.ValidationError as exc:
        raise InvalidInput([_as_field_error(str(exc), "")]) from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedInput(_malformed_reason(exc)) from None


def _malformed_reason(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return f"not valid UTF-8 (byte {exc.start})"
    return str(exc)


def unstorable_reason(text: str) -> str | None:
    """Why PostgreSQL cannot store ``text``, or None when it can."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains U+0000 (NUL), which cannot be stored"
    return "contains an unpaired surrogate, which is not text"


def unstorable_text(value: object) -> list[FieldError]:
    """Every string and key of untyped ``value`` that holds U+0000 or an unpaired surrogate.

    Iterative, because ``value`` may be nested as deeply as the decoder allows."""
    found: list[FieldError] = []
    pending: list[tuple[str, object]] = [("", value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            reason = unstorable_reason(item)
            if reason:
                found.append(FieldError(path, reason))
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                name = str(key)
                reason = unstorable_reason(name)
                if reason:
                    escaped = name.encode("unicode_escape", "backslashreplace").decode("ascii")
                    found.append(FieldError(_join(path, escaped), f"the name {reason}"))
                else:
                    pending.append((_join(path, name), child))
        elif isinstance(item, list):
            pending.extend((f"{path}[{index}]", child) for index, child in reversed(list(enumerate(item))))
    return found


def convert(value: object, type_: type[T]) -> T:
    """Like :func:`msgspec.convert` (strict), raising :class:`InvalidInput` with every bad field."""
    try:
        return msgspec.convert(value, type_, strict=True)
    except msgspec.ValidationError:
        raise InvalidInput(collect_errors(value, type_)) from None


def collect_errors(value: object, type_: Any, path: str = "", *, strict: bool = True) -> list[FieldError]:
    """Every place where untyped ``value`` does not fit ``type_`` (empty when it fits).

    ``strict=False`` reads numbers and booleans written as text (a form's fields) as
    :func:`msgspec.convert` does with ``strict=False``."""
    if _unwrap(type_) is msgspec.Raw:  # left undecoded on purpose: anything fits
        return []
    try:
        msgspec.convert(value, type_, strict=strict)
        return []
    except msgspec.ValidationError as exc:
        whole = _as_field_error(str(exc), path)
    inner = _unwrap(type_)
    explained = _explain(type_, inner, value, path, strict)
    if explained is not None:
        return explained
    found: list[FieldError] = []
    if isinstance(inner, type) and issubclass(inner, msgspec.Struct) and isinstance(value, dict):
        found = _struct_errors(value, inner, path, strict)
    elif typing.get_origin(inner) is list and isinstance(value, list):
        (item_type,) = typing.get_args(inner)
        for index, item in enumerate(value):
            found += collect_errors(item, item_type, f"{path}[{index}]", strict=strict)
    elif typing.get_origin(inner) is dict and isinstance(value, dict):
        _, value_type = typing.get_args(inner)
        for key, item in value.items():
            found += collect_errors(item, value_type, _join(path, str(key)), strict=strict)
    elif _is_optional(inner) and value is not None:
        (present,) = [a for a in typing.get_args(inner) if a is not type(None)]
        found = collect_errors(value, present, path, strict=strict)
    # Nothing deeper explains it (a length bound, a cross-field rule): report it here.
    return found or [whole]


def _explain(type_: Any, inner: Any, value: object, path: str, strict: bool) -> list[FieldError] | None:
    """A clearer reason than msgspec's for the mistakes people make writing a value by hand: the
    allowed values of a choice (a literal, or the ``kind`` of a rule), a fraction written as a
    percentage. None when there is nothing to add."""
    if typing.get_origin(inner) is typing.Literal:
        allowed = typing.get_args(inner)
        if value not in allowed:
            return [FieldError(path, f"{value!r} is not one of {', '.join(map(str, allowed))}")]
        return None
    tagged = _tagged(inner)
    if tagged is not None and isinstance(value, dict):
        return _tagged_errors(tagged, value, path, strict)
    if value == "" and _min_length(type_) >= 1:
        return [FieldError(path, "must not be empty")]
    number = value if strict else _as_number(value)
    if _is_fraction(type_) and isinstance(number, int | float) and not isinstance(number, bool):
        return [FieldError(path, f"must be a fraction above 0 and at most 1 (0.5 is half, 1 is all), not {number}")]
    return None


def _tagged_errors(
    tagged: tuple[str, dict[str, type[msgspec.Struct]]], value: dict[str, Any], path: str, strict: bool
) -> list[FieldError] | None:
    """A tagged union's value: its tag must name one of the kinds, then its fields are that kind's."""
    tag_field, by_tag = tagged
    kinds = ", ".join(by_tag)
    if tag_field not in value:
        return [FieldError(_join(path, tag_field), f"required field is missing: one of {kinds}")]
    struct = by_tag.get(value[tag_field]) if isinstance(value[tag_field], str) else None
    if struct is None:
        return [FieldError(_join(path, tag_field), f"{value[tag_field]!r} is not one of {kinds}")]
    errors = _struct_errors({k: v for k, v in value.items() if k != tag_field}, struct, path, strict)
    return errors or None


def _min_length(type_: Any) -> int:
    """The least length a text of ``type_`` must have (0 when none is set)."""
    if typing.get_origin(type_) is not typing.Annotated:
        return 0
    base, *metas = typing.get_args(type_)
    found = [m.min_length for m in metas if isinstance(m, msgspec.Meta) and m.min_length is not None]
    return max([*found, _min_length(base)])


def _as_number(value: object) -> object:
    try:
        return float(value) if isinstance(value, str) else value
    except ValueError:
        return value


def _tagged(type_: Any) -> tuple[str, dict[str, type[msgspec.Struct]]] | None:
    """The tag field and the Struct of each tag of a union of tagged Structs (None for other types)."""
    if typing.get_origin(type_) not in (Union, types.UnionType):
        return None
    by_tag: dict[str, type[msgspec.Struct]] = {}
    tag_field = None
    for member in typing.get_args(type_):
        if not (isinstance(member, type) and issubclass(member, msgspec.Struct)):
            return None
        info = msgspec.inspect.type_info(member)
        if not isinstance(info, msgspec.inspect.StructType) or info.tag_field is None:
            return None
        tag_field = info.tag_field
        by_tag[str(info.tag)] = member
    return (tag_field, by_tag) if tag_field is not None else None


def _is_fraction(type_: Any) -> bool:
    """A float constrained to 0..1 (a share): its bounds read as a fraction."""
    if typing.get_origin(type_) is not typing.Annotated:
        return False
    base, *metas = typing.get_args(type_)
    if _unwrap(base) is not float:
        return False
    bounds = [m for m in metas if isinstance(m, msgspec.Meta)]
    return any(m.le == 1 and m.gt == 0 for m in bounds)


def _struct_errors(
    value: dict[str, Any], struct: type[msgspec.Struct], path: str, strict: bool = True
) -> list[FieldError]:
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
        found += collect_errors(value[field.encode_name], hints[field.name], where, strict=strict)
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
