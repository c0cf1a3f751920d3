"""Which Xoxoday account a database's orders belong to, checked at every start.

An operator who tried the bot against the simulator or the sandbox and then puts production
credentials in `.env` keeps the same `REWARDS_DB`: every order still queued or unknown from the
trial would be placed again at the new account, for real money, and a "not found" there would
be believed (review of issues 8/9, finding 3). So the first start records the account (base URL
and client id) in the database, and a later start with another account is refused while any
order is unfinished; once all are finished, the database moves to the new account, on record.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

from bot.config import ConfigError, Settings
from storage import events, kv
from storage import orders as order_store
from storage.db import Database
from storage.models import TERMINAL_ORDER_STATES, EventKind

log = logging.getLogger(__name__)

ACCOUNT_KEY = "xoxoday.account"


def account_of(settings: Settings) -> dict[str, str]:
    """The account as recorded: the base URL as written in any case or trailing slash, and
    the client id."""
    url = urlsplit(settings.xoxoday_base_url.strip())
    base = f"{url.scheme.lower()}://{url.netloc.lower()}{url.path.rstrip('/')}"
    return {"base_url": base, "client_id": settings.xoxoday_client_id or ""}


def check_account(database: Database, settings: Settings) -> None:
    """Record the account at first start; refuse another one while orders are unfinished."""
    current = account_of(settings)
    with database.tx() as db:
        raw = kv.get(database, ACCOUNT_KEY)
        recorded = json.loads(raw) if raw else None
        if recorded == current:
            return
        if recorded is not None:
            unfinished = {
                state: n
                for state, n in sorted(order_store.count_by_state(database).items())
                if n and state not in TERMINAL_ORDER_STATES
            }
            changed = [
                name
                for name, key in (
                    ("XOXODAY_BASE_URL", "base_url"),
                    ("XOXODAY_CLIENT_ID", "client_id"),
                )
                if recorded.get(key) != current[key]
            ]
            was = f"{recorded.get('base_url')}, client {recorded.get('client_id') or '?'}"
            if unfinished:
                counts = ", ".join(f"{n} {state}" for state, n in unfinished.items())
                raise ConfigError(
                    f"{' and '.join(changed)}: {settings.rewards_db} holds unfinished orders "
                    f"({counts}) of another Xoxoday account ({was}); finish or cancel them "
                    "against that account first, or set REWARDS_DB to a new file for this one"
                )
            message = (
                f"Xoxoday account changed ({', '.join(changed)}): from {was} to "
                f"{current['base_url']}, client {current['client_id']}; every order of the "
                "old account is finished"
            )
            events.append(db, EventKind.SYSTEM_ACCOUNT_CHANGED, actor="start-up", reason=message)
            log.warning("%s: %s", settings.rewards_db, message)
        kv.put(database, ACCOUNT_KEY, json.dumps(current, sort_keys=True))
