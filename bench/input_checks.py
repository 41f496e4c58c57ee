"""What checking every input costs on the hot path: body decoding and the path/query guard.

    .venv/bin/python bench/input_checks.py [--seconds 4]

In one process, no database, no HTTP. Each row runs one operation over and over for
``--seconds`` and reports calls per second, p50/p99 of one call, and the peak memory
one call allocates (tracemalloc). Every row ``now`` is next to its baseline ``before``,
measured in the same run:

``before``
    What the request path did before input was checked: the body decoded by the
    former ``validation.decode`` (a typed ``msgspec.json.decode`` in a ``try``), and
    no middleware.
``now``
    ``validation.decode`` as ``StrictRequest`` runs it now (the same decode plus a scan
    of the bytes for a ``\\u0000`` or surrogate escape), and ``input_guard``.

Cases: a ``POST /v1/me/actions`` body; the same with its text written with a
surrogate-pair escape (valid, but the scan hits, so the body is decoded untyped again
and walked: the slow path); ``POST /v1/me/actions/batch`` with 500 actions, decoded as
``StrictRequest`` does (the envelope, then each item); one call through an empty ASGI
app with the scope of ``POST /v1/me/actions`` (no path parameters, no query) and of
``GET /v1/admin/held-entries/{id}?city=kranj&limit=50``.

The two of a pair run in alternating slices, so the machine's other load falls on both.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from upscale_api import body as strict_body
from upscale_api import validation
from upscale_api.actions.structs import ActionBatch, ActionIn
from upscale_api.input_guard import input_guard

BATCH = 500


def _action(text: str = "cycle-instead-of-car") -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "action_type": text,
        "quantity": 5.5,
        "performed_at": datetime.now(UTC).isoformat(),
    }


ONE = json.dumps(_action()).encode()
ONE_WITH_ESCAPE = json.dumps(_action("cycle-instead-of-car \U0001f6b2")).encode()  # json.dumps writes \ud83d\udeb2
MANY = json.dumps({"actions": [_action() for _ in range(BATCH)]}).encode()


def _batch_now() -> None:
    envelope_type = strict_body._envelope_of(ActionBatch, "actions")
    envelope = validation.decode(MANY, envelope_type, msgspec.json.decode)
    for raw in envelope.actions:  # type: ignore[attr-defined]
        validation.decode(bytes(raw), ActionIn, msgspec.json.decode, check_text=False)


def _decode_before(data: bytes, type_: type[Any]) -> Any:
    """The former ``validation.decode`` on a valid body."""
    try:
        return msgspec.json.decode(data, type=type_)
    except msgspec.ValidationError:
        raise


def _batch_before() -> None:
    envelope = _decode_before(MANY, strict_body._envelope_of(ActionBatch, "actions"))
    for raw in envelope.actions:
        _decode_before(bytes(raw), ActionIn)


async def _empty_app(scope: Any, receive: Any, send: Any) -> None:
    return None


GUARDED = input_guard(_empty_app)
LOG_SCOPE: dict[str, Any] = {"type": "http", "path_params": {}, "query_string": b""}
HELD_SCOPE: dict[str, Any] = {"type": "http", "path_params": {"entry_id": 812}, "query_string": b"city=kranj&limit=50"}


def _asgi(app: Any, scope: dict[str, Any]) -> Callable[[], None]:
    def call() -> None:
        coroutine = app(scope, None, None)
        with contextlib.suppress(StopIteration):  # the app never awaits: one step runs it to the end
            coroutine.send(None)

    return call


def _stats(name: str, samples: list[int], peak: int) -> dict[str, Any]:
    samples.sort()
    return {
        "name": name,
        "per_second": len(samples) / (sum(samples) / 1e9),
        "p50_us": samples[len(samples) // 2] / 1000,
        "p99_us": samples[int(len(samples) * 0.99)] / 1000,
        "peak_kib": peak / 1024,
    }


def _peak(operation: Callable[[], None]) -> int:
    tracemalloc.start()
    operation()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def measure_pair(
    names: tuple[str, str], operations: tuple[Callable[[], None], Callable[[], None]], seconds: float
) -> list[dict[str, Any]]:
    """Both operations, in 20 alternating slices of ``seconds / 20`` each."""
    samples: tuple[list[int], list[int]] = ([], [])
    for operation in operations:
        for _ in range(200):  # warm-up: caches, first allocations
            operation()
    for _ in range(20):
        for operation, taken in zip(operations, samples, strict=True):
            deadline = time.perf_counter() + seconds / 20
            while time.perf_counter() < deadline:
                started = time.perf_counter_ns()
                operation()
                taken.append(time.perf_counter_ns() - started)
    before, now = (_stats(n, s, _peak(o)) for n, s, o in zip(names, samples, operations, strict=True))
    now["added_us"] = now["p50_us"] - before["p50_us"]
    return [before, now]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0, help="per row (default 4)")
    args = parser.parse_args()
    cases: list[tuple[str, Callable[[], None], Callable[[], None]]] = [
        (
            "one action",
            lambda: _decode_before(ONE, ActionIn),
            lambda: validation.decode(ONE, ActionIn, msgspec.json.decode),
        ),
        (
            "one action, text with an escaped emoji",
            lambda: _decode_before(ONE_WITH_ESCAPE, ActionIn),
            lambda: validation.decode(ONE_WITH_ESCAPE, ActionIn, msgspec.json.decode),
        ),
        ("batch of 500", _batch_before, _batch_now),
        ("ASGI, POST /v1/me/actions", _asgi(_empty_app, LOG_SCOPE), _asgi(GUARDED, LOG_SCOPE)),
        ("ASGI, GET held entry with a query", _asgi(_empty_app, HELD_SCOPE), _asgi(GUARDED, HELD_SCOPE)),
    ]
    rows = []
    for case, before, now in cases:
        rows += measure_pair((f"{case}: before", f"{case}: now"), (before, now), args.seconds)
    print(f"body sizes: one action {len(ONE)} B, with an escape {len(ONE_WITH_ESCAPE)} B, batch {len(MANY)} B\n")
    print(f"| {'row':<50} | {'calls/s':>11} | {'p50 µs':>8} | {'p99 µs':>8} | {'peak KiB':>8} | {'p50 added µs':>12} |")
    print(f"|{'-' * 52}|{'-' * 12}:|{'-' * 9}:|{'-' * 9}:|{'-' * 9}:|{'-' * 13}:|")
    for row in rows:
        added = f"{row['added_us']:+.2f}" if "added_us" in row else "baseline"
        print(
            f"| {row['name']:<50} | {row['per_second']:>11,.0f} | {row['p50_us']:>8.2f} | {row['p99_us']:>8.2f}"
            f" | {row['peak_kib']:>8.1f} | {added:>12} |"
        )


if __name__ == "__main__":
    main()
