"""Secrets that reach a log line despite the code never logging bodies are masked."""

from __future__ import annotations

from upscale_api.observability.logs import redact_text


def test_secrets_that_reach_a_line_anyway_are_masked() -> None:
    line = (
        'duplicate key value violates unique constraint "devices_token"\n'
        "DETAIL:  Key (registration_token)=(regtoken-abc) already exists.\n"
        "Authorization: Bearer eyJhbGciOi.eyJzdWIiOi.sig from maja.novak@example.si"
    )

    masked = redact_text(line)

    for secret in ("regtoken-abc", "eyJhbGciOi", "maja.novak@example.si"):
        assert secret not in masked
    assert "Key (registration_token)=([redacted]) already exists." in masked
