"""Structured logs: one JSON object per line on standard error, through structlog.

Every line carries ``timestamp``, ``level``, ``logger`` and ``event``, and what
the code bound for the work at hand: ``request_id`` while a request is served
(``serving.py``), ``job`` and ``tick`` while a worker job runs (``worker.py``).
The standard library's loggers (ours, uvicorn's, asyncpg's, APScheduler's) go
through the same processors, so their lines are JSON with the same fields.

No line may carry an ID token, an e-mail address, a display name or an FCM
registration token. The code never logs bodies, headers or profile fields; as a
second line of defence :func:`redact` masks bearer tokens, JWTs, e-mail
addresses and the row values PostgreSQL puts into constraint errors (``Key
(...)=(...)``, ``Failing row contains (...)``) in every line, exceptions included.
"""

from __future__ import annotations

import re
import uuid

import structlog
from litestar.logging.config import LoggingConfig, StructLoggingConfig
from structlog.typing import EventDict, Processor, WrappedLogger

from upscale_api.settings import Settings

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
"""What an incoming X-Request-ID may be to be kept: short, and safe in a header, a log line and a URL."""

_SECRETS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\bbearer\s+\S+"), "Bearer [redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[redacted-email]"),
    (re.compile(r"(Key \([^)]*\))=\(.*?\)( already exists| is not present|\.|$)", re.MULTILINE), r"\1=([redacted])\2"),
    (re.compile(r"(Failing row contains) \(.*\)"), r"\1 ([redacted])"),
)


def request_id_from(header: str | None) -> str:
    """The incoming X-Request-ID when it is usable (1 to 64 of ``A-Z a-z 0-9 . _ : -``), else a new one."""
    if header is not None and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The request id bound for the request being served, if any."""
    value = structlog.contextvars.get_contextvars().get("request_id")
    return value if isinstance(value, str) else None


def redact_text(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def redact(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Mask secrets in every string value of the event (the rendered exception included)."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact_text(value)
    return event


def _shared(settings: Settings) -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _renderer(settings: Settings) -> Processor:
    if settings.upscale_log_format == "console":
        return structlog.dev.ConsoleRenderer(colors=False)
    return structlog.processors.JSONRenderer()


def logging_config(settings: Settings) -> StructLoggingConfig:
    """structlog and the standard library's logging, configured alike (for Litestar's StructlogPlugin)."""
    formatter = {
        "()": structlog.stdlib.ProcessorFormatter,
        "foreign_pre_chain": [*_shared(settings), structlog.stdlib.ExtraAdder()],
        "processors": [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            _renderer(settings),
        ],
    }
    standard = LoggingConfig(
        formatters={"structured": formatter},
        handlers={
            "stderr": {"class": "logging.StreamHandler", "formatter": "structured", "stream": "ext://sys.stderr"}
        },
        loggers={
            # Each of these repeats what our own lines say, or speaks once per job run.
            "apscheduler": {"level": "WARNING", "propagate": True},
            "httpx": {"level": "WARNING", "propagate": True},  # a line per request, URLs included
            "pgserver": {"level": "WARNING", "propagate": True},
            "uvicorn.access": {"level": "WARNING", "propagate": True},
            "litestar": {"level": settings.upscale_log_level, "propagate": True},
        },
        root={"level": settings.upscale_log_level, "handlers": ["stderr"]},
        configure_root_logger=True,
        disable_existing_loggers=False,
    )
    return StructLoggingConfig(
        processors=[*_shared(settings), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        standard_lib_logging_config=standard,
        log_exceptions="never",
        pretty_print_tty=False,
    )


def configure_logging(settings: Settings) -> None:
    """Configure logging for a process that is not the app (``upscale worker``, ``upscale serve``'s parent)."""
    config = logging_config(settings)
    config.configure()
    assert config.standard_lib_logging_config is not None
    config.standard_lib_logging_config.configure()
