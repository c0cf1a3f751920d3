"""Order delivery webhooks (reference §5): POST, retried 3 times, then the webhook is disabled."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from plumbing.jsonutil import dumps
from simulator.xoxoday.config import SimConfig
from simulator.xoxoday.orders import Order, stamp, utcnow
from simulator.xoxoday.scheduler import Scheduler
from simulator.xoxoday.state import SimState

log = logging.getLogger(__name__)

RETRIES = 3
_webhook_ids = itertools.count(int(time.time() * 10) % 10**10)


def wire_status(webhook_id: int, status: str) -> str:
    """Xoxoday's pages show both `delivered` and `Delivered`; emit both, by id parity."""
    return status.capitalize() if webhook_id % 2 else status.lower()


class WebhookSender:
    """Delivers events on a small pool; the state lock guards the log and the enabled flag."""

    def __init__(
        self,
        lock: threading.RLock,
        state: Callable[[], SimState],
        config: Callable[[], SimConfig],
        generation: Callable[[], int],
        scheduler: Scheduler,
    ) -> None:
        self._lock = lock
        self._state = state
        self._config = config
        self._generation = generation
        self._scheduler = scheduler
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sim-webhook")
        self._client = httpx.Client(follow_redirects=False)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def notify(self, order: Order, synchronous: bool) -> dict[str, Any]:
        """Send the settlement of `order`; the first attempt inline when `synchronous`.

        Returns the first attempt's record (or, when asynchronous, the queued event).
        """
        webhook_id = next(_webhook_ids)
        payload = {
            "id": webhook_id,
            "data": {
                "orderId": order.order_id,
                "poNumber": order.po_number,
                "orderDate": stamp(order.created),
                "deliveryStatus": wire_status(webhook_id, order.webhook_status),
            },
            "createdAt": stamp(utcnow()),
        }
        with self._lock:
            state, config = self._state(), self._config()
            reason = None
            if not config.webhook_url:
                reason = "no webhook_url configured"
            elif not state.webhook_enabled:
                reason = "webhook disabled after failed deliveries"
            if reason:
                record = self._record(payload, 0, sent=False, reason=reason)
                state.webhook_log.append(record)
                return record
            generation = self._generation()
        if synchronous:
            return self._attempt(payload, 1, generation)
        self._pool.submit(self._attempt, payload, 1, generation)
        return {"id": webhook_id, "queued": True, "payload": payload}

    def _record(self, payload: dict[str, Any], attempt: int, **fields: Any) -> dict[str, Any]:
        return {
            "id": payload["id"],
            "attempt": attempt,
            "orderId": payload["data"]["orderId"],
            "poNumber": payload["data"]["poNumber"],
            "deliveryStatus": payload["data"]["deliveryStatus"],
            "at": stamp(utcnow()),
            "payload": payload,
            **fields,
        }

    def _attempt(self, payload: dict[str, Any], attempt: int, generation: int) -> dict[str, Any]:
        with self._lock:
            config = self._config()
            if generation != self._generation():  # a reset dropped this event
                return {"id": payload["id"], "dropped": True}
            url, key, timeout = config.webhook_url, config.webhook_key, config.webhook_timeout_s
            retry_delay = config.webhook_retry_delay_s
        # One connection per delivery, as a remote sender would; a kept-alive connection would
        # also hold up stopping the receiving server.
        headers = {"content-type": "application/json", "connection": "close"}
        if key:
            headers["x-api-key"] = key
        status, error = None, None
        try:
            response = self._client.post(
                url or "", content=dumps(payload), headers=headers, timeout=timeout
            )
            status = response.status_code
        except (httpx.HTTPError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        ok = status is not None and 200 <= status < 300
        record = self._record(
            payload, attempt, sent=True, ok=ok, url=url, status=status, error=error
        )
        with self._lock:
            if generation != self._generation():
                return record
            state = self._state()
            state.webhook_log.append(record)
            if not ok and attempt > RETRIES:
                state.webhook_enabled = False
                record["disabled_webhook"] = True
                log.warning("webhook %s failed %d times; disabled", url, attempt)
        if not ok and attempt <= RETRIES:
            self._scheduler.call_later(
                retry_delay,
                lambda: self._pool.submit(self._attempt, payload, attempt + 1, generation),
            )
        return record
