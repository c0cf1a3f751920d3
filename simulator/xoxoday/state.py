"""Everything /_sim/reset puts back: tokens, wallet, orders, faults, limits, webhook state."""

from __future__ import annotations

import random
from collections import Counter, deque
from decimal import Decimal
from typing import Any

from simulator.xoxoday.catalog import FX_TO_USD, PRODUCTS_BY_ID, Product
from simulator.xoxoday.config import SimConfig
from simulator.xoxoday.faults import FaultPlan
from simulator.xoxoday.orders import Ledger, Order, utcnow
from simulator.xoxoday.ratelimit import RateLimiter
from simulator.xoxoday.tokens import TokenStore


class SimState:
    """Plain data; the app guards it with one lock."""

    def __init__(self, config: SimConfig) -> None:
        self.tokens = TokenStore.with_demo_pair()
        self.limiter = RateLimiter()
        self.faults = FaultPlan()
        self.faults_applied: Counter[str] = Counter()
        self.products: dict[int, Product] = dict(PRODUCTS_BY_ID)
        # US dollars per unit of each currency, as locked for the day (/_sim/rates: a new day).
        self.rates: dict[str, Decimal] = dict(FX_TO_USD)
        self.orders: dict[int, Order] = {}
        self.orders_by_po: dict[str, Order] = {}
        self.ledger = Ledger(config.initial_balance, utcnow())
        self.webhook_enabled = True
        self.webhook_log: list[dict[str, Any]] = []
        self.rng = random.Random(config.seed)  # the real-shapes shares, repeatable per reset
        self.refreshes: deque[float] = deque()  # refresh times, for refresh_limit_per_min

    def add_order(self, order: Order) -> None:
        self.orders[order.order_id] = order
        if order.po_number:
            # A late commit may land after a second order with its poNumber: both stay in
            # `orders` (and in /_sim/orders), the first keeps the poNumber.
            self.orders_by_po.setdefault(order.po_number, order)

    def forget(self, order: Order) -> None:
        """The order is gone from Xoxoday's order records (the ledger keeps its rows)."""
        self.orders.pop(order.order_id, None)
        if self.orders_by_po.get(order.po_number) is order:
            del self.orders_by_po[order.po_number]
            for other in self.orders.values():  # a late duplicate takes the poNumber back
                if other.po_number == order.po_number:
                    self.orders_by_po[order.po_number] = other
                    break
