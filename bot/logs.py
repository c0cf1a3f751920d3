"""Logging set-up with a last line of defence against secrets in log lines."""

from __future__ import annotations

import logging
import re
import sys

# Slack tokens, bearer headers, key=value secrets, and every shape a voucher takes: codes and
# PINs are money, and a link is the voucher itself (xoxoday-api.md §3.6: vouchers[].type is
# code, codePin, url or urlPin; url codes point at plum.gift or revealyourgift.com).
_PATTERNS = [
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),  # JWTs (Xoxoday's)
    re.compile(r"\bxox[abpors]-[A-Za-z0-9-]+"),
    re.compile(r"\bxapp-[A-Za-z0-9-]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    # "voucherCode": "…", 'pin': '…', voucher_code=…, PIN: `…` (JSON, escaped JSON, reprs)
    re.compile(
        r"(?i)\b((?:access|refresh)_token|client_secret|voucher_?code|pin)"
        r"(['\"\\]*\s*[:=]\s*['\"`\\]*)[^'\"`,\s}\\]+"
    ),
    re.compile(r"(Code:\s*`)[^`]+"),  # a code as the recipient's DM shows it
    re.compile(r"(?i)\bhttps?://[^\s'\"<>|`]*(?:plum\.gift|revealyourgift\.com)[^\s'\"<>|`]*"),
    re.compile(r"(<)https?://[^|>\s]+(?=\|)"),  # the address of any Slack link <url|label>
    re.compile(r"\bDEMO-[A-Za-z0-9-]+"),  # the bundled simulator's codes and PIN
]


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "[redacted]")
    for pattern in _PATTERNS:
        if pattern.groups == 2:
            text = pattern.sub(r"\1\2[redacted]", text)
        elif pattern.groups == 1:
            text = pattern.sub(r"\1[redacted]", text)
        else:
            text = pattern.sub("[redacted]", text)
    return text


class RedactingFormatter(logging.Formatter):
    """Formats a record, traceback included, then removes anything that looks secret."""

    def __init__(self, fmt: str, secrets: tuple[str, ...] = ()) -> None:
        super().__init__(fmt)
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record), self.secrets)


# Libraries that log whole request and response bodies at DEBUG (slack_sdk: every message a
# recipient receives, codes included) or every URL at INFO (httpx). They stay at WARNING, and
# Bolt at INFO, unless LOG_LEVEL=TRACE.
QUIET_LOGGERS = {
    "slack_sdk": logging.WARNING,
    "slack_bolt": logging.INFO,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "urllib3": logging.WARNING,
    "websockets": logging.WARNING,
    "waitress": logging.INFO,
}
TRACE = "TRACE"  # DEBUG for every library too: unsafe, it can write voucher codes to the log


def setup_logging(level: str = "INFO", secrets: tuple[str, ...] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    trace = level.upper() == TRACE
    root.setLevel(logging.DEBUG if trace else level.upper())
    for name, floor in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(logging.DEBUG if trace else max(floor, root.level))
    # http.client prints bodies with print(), outside logging, when its debuglevel is set;
    # nothing here sets it, and TRACE does not either.
    if trace:
        logging.getLogger(__name__).warning(
            "LOG_LEVEL=TRACE: libraries log whole requests; voucher codes may reach this log"
        )
