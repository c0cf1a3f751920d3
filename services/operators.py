"""Which operator a phone number is on, to warn before a top-up goes to the wrong plan.

Xoxoday checks again at placement (performOperatorValidation). This lookup only lets the
form say so while the person is still looking at it, so it runs in the background and the
form uses whatever answer has arrived: Slack's 3-second answer never waits on Xoxoday.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from services.xoxoday import errors as xe
from services.xoxoday.client import XoxodayClient
from services.xoxoday.models import MobileOperator, Product, e164

log = logging.getLogger(__name__)


class OperatorCheck:
    def __init__(self, client: XoxodayClient) -> None:
        self.client = client
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="operator")
        self._lock = threading.Lock()
        self._known: dict[str, MobileOperator | None] = {}

    def lookup_later(self, phone: str) -> Future[MobileOperator | None] | None:
        """Start a lookup (once per number); None when the number is not valid E.164."""
        try:
            number = e164(phone)
        except ValueError:
            return None
        return self._pool.submit(self._lookup, number)

    def known(self, phone: str) -> MobileOperator | None:
        try:
            number = e164(phone)
        except ValueError:
            return None
        with self._lock:
            return self._known.get(number)

    def mismatch(self, phone: str, plan: Product, operator_name: str) -> str | None:
        """A sentence when a finished lookup puts the number on another operator."""
        found = self.known(phone)
        if found is None or found.parent_product_id in (None, plan.parent_product_id):
            return None
        return (
            f"{phone} is on {found.operator}, not {operator_name}: pick a {found.operator} plan "
            "or untick the operator check"
        )

    def _lookup(self, number: str) -> MobileOperator | None:
        with self._lock:
            if number in self._known:
                return self._known[number]
        try:
            found: MobileOperator | None = self.client.lookup_mobile_number(number)
        except xe.XoxodayError as exc:
            log.info("operator lookup failed: %s", exc)
            return None  # not remembered: a later entry of the number tries again
        with self._lock:
            self._known[number] = found
        return found
