"""Observability: Prometheus metrics, structured JSON logs with a request id, OpenTelemetry tracing.

The metrics are defined once in :mod:`.metrics` and counted where things happen
(the request middleware in ``serving.py``, the worker's jobs, the FCM sender, the
pool, the rate limits); :mod:`.logs` configures structlog for every process;
:mod:`.tracing` turns tracing on when an OTLP endpoint is set. They plug into the
app only in ``core.py``. See ``docs/operations.md``, "Observability".
"""
