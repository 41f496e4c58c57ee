"""Consent per purpose: the document file format and what residents read and send.

``campaigns/consents/<purpose>.toml`` holds every version of one purpose's
document (``[[version]]``); the highest is in force. A stored version never
changes its text: a change is a new version, and a new version asks again.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from upscale_api.catalogue.structs import Localized
from upscale_api.openapi import example

Purpose = Literal["service", "research", "demographics"]
PURPOSES: tuple[Purpose, ...] = ("service", "research", "demographics")
Moment = Annotated[datetime, Meta(tz=True)]
Gender = Literal["woman", "man", "another", "prefer-not-to-say"]
LongText = dict[Annotated[str, Meta(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")], Annotated[str, Meta(min_length=1)]]


class _File(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class ConsentVersion(_File):
    """One version of a consent document."""

    version: Annotated[int, Meta(ge=1)]
    published_on: date
    title: Localized
    body: LongText
    """The whole text the resident agrees to (Markdown), per language."""


class ConsentFile(_File):
    """``campaigns/consents/<purpose>.toml``: every version of one purpose's document."""

    purpose: Purpose
    version: Annotated[list[ConsentVersion], Meta(min_length=1)]


# --- The resident API -------------------------------------------------------------


class ConsentOut(msgspec.Struct, kw_only=True):
    """One purpose: the document in force, in your language, and your decision."""

    purpose: Annotated[
        Purpose,
        Meta(
            description="`service` (using the app), `research` (your data in anonymised research exports and "
            "studies), `demographics` (your birth year and gender, for research)"
        ),
    ]
    version: Annotated[int, Meta(description="The version of the document in force")]
    published_on: Annotated[date, Meta(description="When this version was published")]
    title: Annotated[str, Meta(description="The document's title")]
    body: Annotated[str, Meta(description="The document's text (Markdown)")]
    granted: Annotated[bool, Meta(description="Whether your consent is current: granted for the version in force")]
    decided_version: Annotated[int | None, Meta(description="The version you last decided on; null: never asked")]
    decided_at: Annotated[Moment | None, Meta(description="When you last decided; null: never")]
    needs_decision: Annotated[
        bool, Meta(description="True until you decide on the version in force (a new version asks again)")
    ]


class ConsentsOut(msgspec.Struct):
    """Every purpose, in the order service, research, demographics."""

    items: Annotated[list[ConsentOut], Meta(description="One entry per purpose")]


class ConsentDecisionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Grant or withdraw one purpose, naming the version you read."""

    purpose: Annotated[Purpose, Meta(description="Which purpose")]
    version: Annotated[
        int, Meta(ge=1, le=1_000_000, description="The version of the document you were shown (must be in force)")
    ]
    granted: Annotated[bool, Meta(description="true: grant; false: withdraw (or decline)")]


class ConsentsIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Decisions on one or more purposes; purposes not listed stay as they are."""

    decisions: Annotated[
        list[ConsentDecisionIn],
        Meta(min_length=1, max_length=3, description="At most one decision per purpose"),
    ]


class ConsentChangeOut(msgspec.Struct):
    """One decision as it was recorded."""

    purpose: Annotated[Purpose, Meta(description="Which purpose")]
    version: Annotated[int, Meta(description="The document version decided on")]
    granted: Annotated[bool, Meta(description="Granted (true) or withdrawn (false)")]
    decided_at: Annotated[Moment, Meta(description="When")]


class ConsentHistoryOut(msgspec.Struct):
    """Every decision you made, newest first."""

    items: Annotated[list[ConsentChangeOut], Meta(description="Every decision, newest first")]


class DemographicsIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Your birth year and gender, used only in research exports (as 10-year age bands)."""

    birth_year: Annotated[
        Annotated[int, Meta(ge=1900, le=2100)] | None, Meta(description="The year you were born; null: not given")
    ] = None
    gender: Annotated[Gender | None, Meta(description="Your gender; null: not given")] = None


class DemographicsOut(msgspec.Struct):
    """What you gave; both null when nothing was given (or the consent was withdrawn)."""

    birth_year: Annotated[int | None, Meta(description="The year you were born; null: not given")]
    gender: Annotated[Gender | None, Meta(description="Your gender; null: not given")]


_WHEN = datetime(2026, 9, 14, 8, 30, tzinfo=UTC)
example(
    ConsentsOut(
        items=[
            ConsentOut(
                purpose="research",
                version=2,
                published_on=date(2026, 9, 1),
                title="Research participation",
                body="Your actions, pseudonymised, may be analysed by the study's researchers...",
                granted=False,
                decided_version=1,
                decided_at=_WHEN,
                needs_decision=True,
            )
        ]
    )
)
example(ConsentsIn(decisions=[ConsentDecisionIn(purpose="research", version=2, granted=True)]))
example(ConsentHistoryOut(items=[ConsentChangeOut(purpose="research", version=2, granted=True, decided_at=_WHEN)]))
example(DemographicsIn(birth_year=1988, gender="woman"))
example(DemographicsOut(birth_year=1988, gender="woman"))
