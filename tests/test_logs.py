"""The log formatter is the last line of defence: no secret survives, not even in a traceback."""

from __future__ import annotations

import logging
import traceback

from bot.local import LocalStack
from bot.logs import QUIET_LOGGERS, RedactingFormatter, scrub, setup_logging
from tests.slack.conftest import fake_slack, make_stack, stack  # noqa: F401  (fixtures)
from tests.support import SimControl, wait_for

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZW1vIn0.c2lnbmF0dXJlMTIz"


def test_scrub_known_shapes_and_configured_secrets() -> None:
    line = (
        f"token xoxb-123-456-abc app xapp-1-A0-xyz Bearer {JWT} refresh_token=abcdef123 "
        "my-webhook-key-99 step xwfp-123-abc456"
    )
    cleaned = scrub(line, secrets=("my-webhook-key-99",))
    for secret in ("xoxb-123", "xapp-1", JWT, "abcdef123", "my-webhook-key-99", "xwfp-123"):
        assert secret not in cleaned
    assert cleaned.count("[redacted]") >= 6


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


class RawRecords(logging.Handler):
    """Every record as logged, before any formatter (so before the redaction) sees it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        self.lines.append(f"{record.name}: {text}")


def test_no_raw_record_carries_a_code_pin_or_link_at_debug(
    stack: LocalStack,  # noqa: F811  (the fixture imported above)
    xo: SimControl,
) -> None:
    """The redacting formatter is the last line of defence, not the first: at DEBUG, no record
    holds a voucher code, PIN or link even before it is formatted. (tests/test_run.py greps
    the formatted log, where the scrubber's DEMO-… pattern would hide a simulator code that
    a real Xoxoday code would not match.)"""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    setup_logging("DEBUG")
    raw = RawRecords()
    root.addHandler(raw)
    try:
        assert stack.request("UREQUESTER", ["UANA"], product_id=27222).text == ""
        assert stack.request("UREQUESTER", ["UBEN"], product_id=29877, amount="30").text == ""
        for ref in ("R-1", "R-2"):
            stack.driver.click("UAPPROVER", "approve_request", message=stack.approval_message(ref))
        for person in ("UANA", "UBEN"):
            wait_for(
                lambda p=person: any(
                    "Keep your code private" in str(m) for m in stack.slack.dms(p)
                ),
            )
    finally:
        root.removeHandler(raw)
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
    codes = {c for o in xo.orders() for c in o["vouchers"]}
    assert len(codes) == 2 and any(c.startswith("https://") for c in codes)  # a code, a link
    assert any("placeOrder" in line for line in raw.lines)  # DEBUG was on
    secrets = codes | {"DEMO-PIN"}
    hits = [line for line in raw.lines if any(s in line for s in secrets)]
    assert not hits, hits[:3]
