"""Voucher codes for the recipient's DM, never stored.

Codes are money: they live in memory for a short while after placeOrder answers, and
otherwise are fetched again from Xoxoday (getOrderDetails) at the moment they are shown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from services.xoxoday.client import XoxodayClient
from services.xoxoday.models import Voucher
from storage.models import OrderRow

KEEP_S = 15 * 60


class VoucherSource:
    def __init__(
        self, client: XoxodayClient | None, clock: Callable[[], float] = time.time
    ) -> None:
        self.client = client
        self._clock = clock
        self._lock = threading.Lock()
        self._recent: dict[int, tuple[float, list[Voucher]]] = {}

    def remember(self, order_id: int, vouchers: list[Voucher]) -> None:
        if not vouchers:
            return
        with self._lock:
            now = self._clock()
            self._recent = {k: v for k, v in self._recent.items() if now - v[0] < KEEP_S}
            self._recent[order_id] = (now, vouchers)

    def for_order(self, order: OrderRow) -> list[Voucher]:
        """Codes, from memory or else from Xoxoday; [] when the order has none (yet)."""
        with self._lock:
            cached = self._recent.pop(order.id, None)
        if cached:
            return cached[1]
        if self.client is None or not order.xoxoday_order_id:
            return []
        details = self.client.get_order_details(order_id=order.xoxoday_order_id)
        return details.vouchers
