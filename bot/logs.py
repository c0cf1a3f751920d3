"""Logging set-up with a last line of defence against secrets in log lines.

Two formats, one redaction: text lines for people (`LOG_FORMAT=text`, the default) and one
JSON object per line for a log pipeline (`LOG_FORMAT=json`). Both pass every string they
write through `scrub`, traceback included.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime
from typing import Any

from services.logcontext import REF_NAMES, current_refs

# Slack tokens, bearer headers, key=value secrets, and every shape a voucher takes: codes and
# PINs are money, and a link is the voucher itself (xoxoday-api.md §3.6: vouchers[].type is
# code, codePin, url or urlPin; url codes point at plum.gift or revealyourgift.com).
_PATTERNS = [
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),  # JWTs (Xoxoday's)
    re.compile(r"\bxox[abpors]-[A-Za-z0-9-]+"),
    re.compile(r"\bxapp-[A-Za-z0-9-]+"),
    re.compile(r"\bxwfp-[A-Za-z0-9-]+"),  # a workflow step's token (function_executed)
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


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO-8601), level, logger, message, and the
    request / order / po the line is about when known (services.logcontext, or `extra=`),
    plus `exc` with the traceback. Each string is scrubbed before it is encoded, so a
    secret is found as written, not as JSON escapes it."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage(), self.secrets),
        }
        refs = dict(current_refs())
        for name in REF_NAMES:
            given = getattr(record, name, None)  # extra={"request": "R-12"} wins
            if isinstance(given, str | int) and not isinstance(given, bool):
                refs[name] = given
        for name, value in refs.items():
            entry[name] = scrub(value, self.secrets) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = scrub(self.formatException(record.exc_info), self.secrets)
        elif record.exc_text:
            entry["exc"] = scrub(record.exc_text, self.secrets)
        if record.stack_info:
            entry["stack"] = scrub(self.formatStack(record.stack_info), self.secrets)
        # ensure_ascii keeps the line ASCII: no pipeline splits it on a Unicode line separator.
        return json.dumps(entry, ensure_ascii=True, default=str)


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


def setup_logging(
    level: str = "INFO", secrets: tuple[str, ...] = (), log_format: str = "text"
) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter(secrets))
        # Python's warnings go through logging too, so every line stays one JSON object.
        logging.captureWarnings(True)
    else:
        handler.setFormatter(
            RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # An exception that ends a thread is printed by Python past logging, unredacted (and
    # not as JSON): it goes through the log instead.
    threading.excepthook = _log_thread_exception
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


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("rewards-bot").error(
        "thread %s ended with an error",
        name,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),  # type: ignore[arg-type]
    )
