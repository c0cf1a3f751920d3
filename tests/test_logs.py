"""The log formatter is the last line of defence: no secret survives, not even in a traceback."""

from __future__ import annotations

import logging

from bot.logs import RedactingFormatter, scrub

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZW1vIn0.c2lnbmF0dXJlMTIz"


def test_scrub_known_shapes_and_configured_secrets() -> None:
    line = f"token xoxb-123-456-abc app xapp-1-A0-xyz Bearer {JWT} refresh_token=abcdef123 my-webhook-key-99"
    cleaned = scrub(line, secrets=("my-webhook-key-99",))
    for secret in ("xoxb-123", "xapp-1", JWT, "abcdef123", "my-webhook-key-99"):
        assert secret not in cleaned
    assert cleaned.count("[redacted]") >= 5


def test_tracebacks_are_scrubbed_too() -> None:
    formatter = RedactingFormatter("%(message)s", secrets=("s3cret-signing",))
    try:
        raise RuntimeError(f"refused with s3cret-signing and {JWT}")
    except RuntimeError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "it failed", None, None)
        import sys

        record.exc_info = sys.exc_info()
    text = formatter.format(record)
    assert "Traceback" in text and "RuntimeError" in text
    assert "s3cret-signing" not in text and JWT not in text
