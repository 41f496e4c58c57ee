"""Choosing the language of a response and picking localised texts.

Texts are stored as ``{"sl": "...", "en": "..."}``. English is the fallback
whenever the wanted language is missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

FALLBACK = "en"
SUPPORTED = ("sl", "en")


def negotiate(accept_language: str | None, supported: Iterable[str] = SUPPORTED, default: str = FALLBACK) -> str:
    """The best of ``supported`` for an ``Accept-Language`` header (RFC 9110 weights)."""
    offered = list(supported)
    best, best_weight = default, 0.0
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        language = tag.strip().lower().split("-")[0]
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        weight -= position * 1e-6  # earlier wins among equal weights
        if language in offered and weight > best_weight:
            best, best_weight = language, weight
    return best


def pick(texts: Mapping[str, str], language: str) -> str:
    """The text in ``language``, else English, else any."""
    return texts.get(language) or texts.get(FALLBACK) or next(iter(texts.values()), "")
