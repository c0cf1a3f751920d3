"""The log formatter is the last line of defence: no secret survives, not even in a traceback."""

from __future__ import annotations

import logging

from bot.logs import QUIET_LOGGERS, RedactingFormatter, scrub, setup_logging

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


def test_every_voucher_shape_is_scrubbed() -> None:
    shapes = {
        '{"voucherCode": "https://stagingstores.plum.gift/AbC123", "pin": "4821"}': [
            "AbC123",
            "4821",
        ],
        'body={\\"voucherCode\\": \\"ZX-99-QQ\\", \\"pin\\": \\"7733\\"}': ["ZX-99-QQ", "7733"],
        "{'voucher_code': 'Q1W2E3R4', 'pin': 'P1N'}": ["Q1W2E3R4", "P1N"],
        "Code: `GIFT-8812-XY`   PIN: `5521`": ["GIFT-8812-XY", "5521"],
        "<https://cards.example/redeem/77|Open your gift card>": ["cards.example/redeem/77"],
        "see https://revealyourgift.com/r/abc?x=1 now": ["revealyourgift.com/r/abc"],
        "sim issued DEMO-1764600000000-a1b2c3 with DEMO-PIN": ["DEMO-1764600000000", "DEMO-PIN"],
    }
    for line, secrets in shapes.items():
        cleaned = scrub(line)
        assert [s for s in secrets if s in cleaned] == [], (line, cleaned)
    # Ordinary words stay readable.
    assert scrub("shipping: 3 parcels, status code: 500") == "shipping: 3 parcels, status code: 500"


def test_chatty_libraries_stay_quiet_unless_trace() -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        setup_logging("DEBUG")
        assert root.level == logging.DEBUG
        assert logging.getLogger("slack_sdk").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("slack_sdk.web.base_client").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("slack_bolt").getEffectiveLevel() == logging.INFO
        setup_logging("ERROR")
        assert logging.getLogger("slack_sdk").getEffectiveLevel() == logging.ERROR
        setup_logging("TRACE")
        assert root.level == logging.DEBUG
        assert logging.getLogger("slack_sdk").getEffectiveLevel() == logging.DEBUG
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
