"""What a `send_reward` step ends with (its outputs), read from the request: one place, as
the step's listener, the runner's Send and the delivery room (a step the clock found sent,
handlers/consent_sender.py) all complete it with the same words."""

from __future__ import annotations

from typing import Any

from services.money import cents
from storage.models import OrderRow, RequestRow


def step_state(request: RequestRow, orders: list[OrderRow]) -> str:
    """One word a workflow can branch on: the request's state, and once approved, where its
    orders are (approved: on their way; delivered: all of them; failed: done, not all)."""
    if request.state != "approved":
        return request.state
    if not orders or any(not o.is_terminal for o in orders):
        return "approved"
    return "delivered" if all(o.state == "delivered" for o in orders) else "failed"


def outputs_of(request: RequestRow, orders: list[OrderRow]) -> dict[str, Any]:
    return {
        "request_ref": request.ref,
        "state": step_state(request, orders),
        # A Workflow Builder `number` is JSON: the cost leaves Decimal here, in cents.
        "cost": float(cents(request.total_cost)),
        "currency": request.currency or "",
    }
