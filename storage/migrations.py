"""Versioned schema migrations, applied in code with sqlite-utils.

`PRAGMA user_version` holds the number of migrations applied. Each migration runs in the
same transaction as the version bump, so a database is always at exactly one version, and a
file written by an older release upgrades in place the first time a newer one opens it.
Money is stored as decimal TEXT and summed in Python, never as REAL.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from storage.db import Database

Migration = Callable[[sqlite_utils.Database], None]


class SchemaTooNew(RuntimeError):
    """The file was written by a newer release (a rollback, or the wrong REWARDS_DB)."""


def m001_initial(db: sqlite_utils.Database) -> None:
    db["requests"].create(
        {
            "id": int,
            "requester_id": str,
            "requester_name": str,
            "source": str,  # slack | csv
            "channel_id": str,
            "message": str,
            "state": str,  # pending_approval | approved | rejected | cancelled
            "total_cost": str,
            "currency": str,
            "auto_approved": int,
            "decided_by": str,
            "decided_at": str,
            "decision_reason": str,
            "idempotency_key": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"requester_id", "source", "state", "total_cost", "created_at", "updated_at"},
        defaults={"auto_approved": 0, "message": ""},
    )
    db["requests"].create_index(["idempotency_key"], unique=True)
    db["requests"].create_index(["requester_id", "created_at"])
    db["requests"].create_index(["state"])

    db["orders"].create(
        {
            "id": int,
            "request_id": int,
            "po_number": str,
            "state": str,
            "reward_type": str,
            "product_id": int,
            "product_name": str,
            "denomination": str,
            "quantity": int,
            "product_currency": str,
            "cost_estimate": str,  # in the wallet's currency
            "recipient_id": str,  # Slack user id, when the recipient is in Slack
            "recipient_name": str,
            "email": str,
            "contact": str,
            "loyalty_member_id": str,
            "phone": str,
            "operator_validation": int,
            "notify_receiver_email": int,
            "tag": str,
            "xoxoday_order_id": int,
            "amount_charged": str,
            "wallet_currency": str,
            "delivery_status": str,
            "attempts": int,
            "next_attempt_at": float,
            "polls": int,
            "next_poll_at": float,
            "claimed_by": str,
            "failure_reason": str,
            "last_error": str,
            "created_at": str,
            "updated_at": str,
            "placed_at": str,
            "settled_at": str,
        },
        pk="id",
        foreign_keys=[("request_id", "requests", "id")],
        not_null={
            "request_id",
            "po_number",
            "state",
            "reward_type",
            "product_id",
            "denomination",
            "quantity",
            "created_at",
            "updated_at",
        },
        defaults={"attempts": 0, "polls": 0, "next_attempt_at": 0, "quantity": 1},
    )
    db["orders"].create_index(["po_number"], unique=True)
    db["orders"].create_index(["request_id"])
    db["orders"].create_index(["state", "next_attempt_at"])
    db["orders"].create_index(["state", "next_poll_at"])
    db["orders"].create_index(["xoxoday_order_id"])

    # Append-only: who did what, when and why. Also the outbox the notifier reads.
    db["events"].create(
        {
            "id": int,
            "at": str,
            "kind": str,
            "request_id": int,
            "order_id": int,
            "actor": str,
            "from_state": str,
            "to_state": str,
            "reason": str,
            "data": str,  # JSON
        },
        pk="id",
        not_null={"at", "kind"},
    )
    db["events"].create_index(["request_id"])
    db["events"].create_index(["order_id"])

    # Every placeOrder / getOrderDetails call with request and response, secrets redacted.
    db["api_calls"].create(
        {
            "id": int,
            "at": str,
            "op": str,
            "po_number": str,
            "request": str,
            "status": int,
            "response": str,
            "error": str,
            "duration_ms": int,
        },
        pk="id",
        not_null={"at", "op"},
    )
    db["api_calls"].create_index(["po_number"])

    db["tokens"].create(
        {
            "name": str,
            "access_token": str,
            "refresh_token": str,
            "access_expires_at": float,
            "refresh_expires_at": float,
            "obtained_at": float,
            "seed": str,
            "updated_at": str,
        },
        pk="name",
    )

    db["webhooks"].create(
        {
            "id": int,
            "webhook_id": str,
            "received_at": str,
            "po_number": str,
            "xoxoday_order_id": int,
            "delivery_status": str,
            "outcome": str,  # applied | duplicate | deferred | unknown_order | ignored
            "body": str,
        },
        pk="id",
        not_null={"webhook_id", "received_at"},
    )
    db["webhooks"].create_index(["webhook_id"], unique=True)
    db["webhooks"].create_index(["po_number"])

    # Signed amounts in the wallet's currency: + reserves or spends, - gives back.
    db["budget_ledger"].create(
        {
            "id": int,
            "at": str,
            "requester_id": str,
            "month": str,  # YYYY-MM, the month the request was made
            "request_id": int,
            "order_id": int,
            "amount": str,
            "currency": str,
            "kind": str,  # reserve | release | adjust | refund
        },
        pk="id",
        not_null={"at", "requester_id", "month", "amount", "kind"},
    )
    db["budget_ledger"].create_index(["requester_id", "month"])

    db["catalog"].create(
        {
            "product_id": int,
            "reward_type": str,
            "name": str,
            "parent_product_id": int,
            "data": str,  # the product as Xoxoday sent it
            "fetched_at": str,
        },
        pk="product_id",
    )
    db["catalog"].create_index(["reward_type", "name"])

    # Small shared state: the worker's lease, the notifier's cursor, catalog refresh times.
    db["kv"].create({"key": str, "value": str, "updated_at": str}, pk="key")


def m002_chat_messages(db: sqlite_utils.Database) -> None:
    """Where the bot's messages about a request live, so they can be updated in place."""
    db["chat_messages"].create(
        {
            "id": int,
            "request_id": int,
            "kind": str,  # status | approval
            "channel": str,
            "ts": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("request_id", "requests", "id")],
        not_null={"request_id", "kind", "channel", "ts", "created_at"},
    )
    db["chat_messages"].create_index(["request_id", "kind"])
    db["chat_messages"].create_index(["channel", "ts"], unique=True)


def m003_order_state_counts(db: sqlite_utils.Database) -> None:
    """Orders per state, kept by triggers: status views and the worker's idle check read nine
    rows instead of counting a table that only grows."""
    db["order_state_counts"].create({"state": str, "n": int}, pk="state", not_null={"n"})
    db.execute(
        "INSERT INTO order_state_counts (state, n) "
        "SELECT state, COUNT(*) FROM orders GROUP BY state"
    )
    bump = (
        "INSERT OR IGNORE INTO order_state_counts (state, n) VALUES (NEW.state, 0); "
        "UPDATE order_state_counts SET n = n + 1 WHERE state = NEW.state;"
    )
    db.execute(f"CREATE TRIGGER orders_count_insert AFTER INSERT ON orders BEGIN {bump} END")
    db.execute(
        "CREATE TRIGGER orders_count_update AFTER UPDATE OF state ON orders "
        "WHEN OLD.state IS NOT NEW.state BEGIN "
        f"UPDATE order_state_counts SET n = n - 1 WHERE state = OLD.state; {bump} END"
    )
    db.execute(
        "CREATE TRIGGER orders_count_delete AFTER DELETE ON orders BEGIN "
        "UPDATE order_state_counts SET n = n - 1 WHERE state = OLD.state; END"
    )


def m004_order_inflight_window_and_statuses(db: sqlite_utils.Database) -> None:
    """What the worker needs to follow Xoxoday's real answers (xoxoday-api.md §12).

    - `sent_at`: when the current placeOrder attempt was sent (epoch seconds), written
      before the call, so a "not found" is trusted only once the in-flight window since then
      has passed, even for an order recovered after a crash (services/inflight.py);
    - `not_found_at`: when a first trusted "not found" was heard; a second lookup must agree;
    - `last_error_id`: the errorId of the last refusal (PLE10010 asks for a balance check);
    - `cancelled_quantity`: units Xoxoday cancelled, whose share was given back;
    - `odd_status_polls`: polls answered with a status value nobody documented (capped).
    """
    orders = db["orders"]
    orders.add_column("sent_at", float)
    orders.add_column("not_found_at", float)
    orders.add_column("last_error_id", str)
    orders.add_column("cancelled_quantity", int, not_null_default=0)
    orders.add_column("odd_status_polls", int, not_null_default=0)
    # Orders caught mid-placement by the upgrade: start their window now, the safe side.
    db.execute(
        "UPDATE orders SET sent_at = CAST(strftime('%s', 'now') AS REAL) "
        "WHERE state IN ('placing', 'unknown')"
    )


def m005_notification_steps(db: sqlite_utils.Database) -> None:
    """What each notifier did for each event and target (a post, a DM, a target given up), so a
    retried notification repeats nothing that went through and gives up on someone once."""
    db["notification_steps"].create(
        {
            "consumer": str,  # the notifier: slack
            "key": str,  # e.g. e42:dm:UANA (event 42's DM to UANA), R7:unreachable:UANA
            "outcome": str,  # done | gave_up | refused
            "detail": str,  # Slack's error, when not done
            "created_at": str,
        },
        pk=("consumer", "key"),
        not_null={"consumer", "key", "outcome", "created_at"},
    )


def m006_chat_message_targets(db: sqlite_utils.Database) -> None:
    """Who each status or approval message was addressed to (a channel id, or a person's user id
    for a DM): Slack answers a DM post with an opaque D… channel id that does not name the
    person, and a target given up must be recognised by the same name when the message is
    edited or replied to. NULL on older rows: their channel id stands for the target."""
    db["chat_messages"].add_column("target", str)


def m007_request_source_link(db: sqlite_utils.Database) -> None:
    """The Slack message a request was made from ("Reward this message"): its permalink, so
    the approval ask and the status message link back to it. Checked as a Slack permalink
    before it is stored; NULL for every other request."""
    db["requests"].add_column("source_link", str)


def m008_order_lookup_failures(db: sqlite_utils.Database) -> None:
    """Failed lookups of an `unknown` order (getOrderDetails itself failing), so the worker
    looks less and less often (capped) and tells the operators once, instead of asking at a
    fixed interval for ever in silence (services/worker.py `_lookup_failed`).

    - `lookup_failures`: failed lookups in a row since the order became unknown;
    - `lookup_failed_since`: when the first of them failed (epoch seconds);
    - `lookup_alerted_at`: when the operators were alerted about it (once per streak).
    """
    orders = db["orders"]
    orders.add_column("lookup_failures", int, not_null_default=0)
    orders.add_column("lookup_failed_since", float)
    orders.add_column("lookup_alerted_at", float)


def m009_reminders_delegation_home(db: sqlite_utils.Database) -> None:
    """Approvals that never stall (issue 10): due times on each waiting request, delegation,
    and who has opened the App Home.

    Requests (times are epoch seconds, set by the scheduler when it first sees the request):
    - `waiting_since`: the moment the schedule counts from; NULL means `created_at`. Requests
      already waiting when this migration runs count from now, the safe side: an upgrade never
      expires a week-old request on the spot;
    - `remind_at`, `reminders_sent`: the next reminder and how many went out;
    - `escalate_at`, `escalated_at`: when escalation approvers are asked, and when they were;
    - `expires_at`: when the request expires if nobody decides it (NULL: not scheduled yet);
    - `decided_for`: the approver a delegate stood in for (`decided_by` is who clicked).
    """
    requests = db["requests"]
    requests.add_column("waiting_since", str)
    requests.add_column("remind_at", float)
    requests.add_column("reminders_sent", int, not_null_default=0)
    requests.add_column("escalate_at", float)
    requests.add_column("escalated_at", str)
    requests.add_column("expires_at", float)
    requests.add_column("decided_for", str)
    db.execute(
        "UPDATE requests SET waiting_since = strftime('%Y-%m-%dT%H:%M:%S.000+00:00', 'now') "
        "WHERE state = 'pending_approval'"
    )
    # An approver's stand-in, through `until` (a day, inclusive); one per approver.
    db["delegations"].create(
        {
            "approver_id": str,
            "delegate_id": str,
            "until": str,  # YYYY-MM-DD
            "created_at": str,
        },
        pk="approver_id",
        not_null={"delegate_id", "until", "created_at"},
    )
    db["delegations"].create_index(["delegate_id"])
    # People who opened the Home tab: only their Home is published again when it changes.
    db["home_tabs"].create(
        {"user_id": str, "opened_at": str, "published_at": str},
        pk="user_id",
        not_null={"opened_at"},
    )
    # Earlier rewards of a recipient (duplicate warning, the Home tab's "received").
    db["orders"].create_index(["recipient_id", "created_at"])
    db.execute("CREATE INDEX idx_orders_email_lower ON orders (lower(email))")


def m010_order_discount(db: sqlite_utils.Database) -> None:
    """`order_discount`: the discount Xoxoday gave on the order (its `orderDiscount`, in the
    wallet's currency), for the finance export. Orders placed before this migration get it
    from the stored placeOrder / getOrderDetails answers (api_calls), where there is one."""
    db["orders"].add_column("order_discount", str)
    answer = (
        "COALESCE(json_extract(a.response, '$.data.placeOrder.data.orderDiscount'), "
        "json_extract(a.response, '$.data.getOrderDetails.data.orderDiscount'))"
    )
    db.execute(
        "UPDATE orders SET order_discount = ("
        f"  SELECT NULLIF(CAST({answer} AS TEXT), '') FROM api_calls a"
        "   WHERE a.po_number = orders.po_number AND a.status = 200"
        f"    AND json_valid(a.response) AND {answer} IS NOT NULL"
        "   ORDER BY a.id DESC LIMIT 1"
        ") WHERE xoxoday_order_id IS NOT NULL"
    )


def m011_slack_outbox(db: sqlite_utils.Database) -> None:
    """Slack delivery as work in the database (issue 15): what people should see, coalesced by
    key and sent by the delivery room; the pacer's log of calls per rate-limit lane and the
    Retry-After holds, shared by every process on the file; and the reminder digests, so a
    decision takes its buttons out of every digest that lists it."""
    db["slack_outbox"].create(
        {
            "key": str,  # status:R7, thread:R7, home:U123, event:e42, digest:remind:U123 ...
            "kind": str,
            "request_id": int,
            "target": str,
            "data": str,  # JSON list: thread lines, digest entries (appended as they come)
            "pending": int,  # 1: to send; 0: sent (kept a while: the gap before the next)
            "version": int,  # +1 at every mark, so a mark during a send is not lost
            "not_before": float,  # epoch seconds
            "lane": str,  # the rate-limit lane it last waited for
            "tries": int,
            "last_error": str,
            "sent_at": float,
            "created_at": str,
        },
        pk="key",
        not_null={"key", "kind", "data", "pending", "version", "not_before", "tries"},
    )
    db["slack_outbox"].create_index(["pending", "not_before"])
    db["slack_pace"].create({"lane": str, "at": float}, not_null={"lane", "at"})
    db["slack_pace"].create_index(["lane", "at"])
    db["slack_pace_holds"].create({"lane": str, "until": float}, pk="lane", not_null={"until"})
    db["slack_digests"].create(
        {
            "id": int,
            "channel": str,
            "ts": str,
            "target": str,  # the approver it was sent to
            "why": str,  # remind | escalate
            "entries": str,  # JSON list of {request_id, acting_for, round, of}
            "created_at": str,
        },
        pk="id",
        not_null={"channel", "ts", "target", "why", "entries", "created_at"},
    )
    db["slack_digest_requests"].create(
        {"digest_id": int, "request_id": int},
        pk=("digest_id", "request_id"),
        foreign_keys=[("digest_id", "slack_digests", "id")],
    )
    db["slack_digest_requests"].create_index(["request_id"])


def m012_catalog_by_country(db: sqlite_utils.Database) -> None:
    """A catalog by country (issue 18): where each product is sold, and what it costs.

    - `catalog_countries`: a product's Xoxoday country codes (getFilters' filterValueCode:
      `usa`, `india`, `uk`), one row each; `fetched_at` is the refresh that saw it there;
    - `catalog.currency_code`: the product's currency;
    - `catalog.min_cost_cents`: the wallet cost of its smallest value, in whole cents rounded
      up (NULL: no rate known). It only narrows a search ("fits 50 USD") in SQL; the exact
      Decimal check follows in Python;
    - `countries`: the names and ISO codes of the country codes, as getFilters answers.
    """
    db["catalog"].add_column("currency_code", str)
    db["catalog"].add_column("min_cost_cents", int)
    db["catalog_countries"].create(
        {"product_id": int, "country": str, "fetched_at": str},
        pk=("product_id", "country"),
        not_null={"fetched_at"},
    )
    db["catalog_countries"].create_index(["country", "product_id"])
    db["countries"].create(
        {"code": str, "name": str, "iso": str, "position": int},
        pk="code",
        not_null={"name"},
    )


def m013_audits(db: sqlite_utils.Database) -> None:
    """The daily audit against Xoxoday's order history and payment report (services/audit.py):
    one row per audited day (claimed by one scheduler, retried after a failure), the findings
    each recorded once (a key per finding: alerted once however often a day is audited), and
    when a recipient last had Xoxoday email their code again (once an hour per order)."""
    db["audits"].create(
        {
            "day": str,  # YYYY-MM-DD (UTC)
            "state": str,  # running | done | failed
            "actor": str,
            "attempts": int,
            "started_at": float,  # epoch seconds
            "finished_at": float,
            "next_attempt_at": float,  # a failed audit is tried again from then
            "error": str,
            "summary": str,  # JSON: counts by kind, orders and payment rows seen
        },
        pk="day",
        not_null={"day", "state", "attempts", "started_at"},
        defaults={"attempts": 0},
    )
    db["audit_findings"].create(
        {
            "id": int,
            "day": str,
            "kind": str,  # orphan | missing | charge_mismatch | topup | refund | adjustment
            "key": str,
            "po_number": str,
            "xoxoday_order_id": int,
            "order_id": int,
            "message": str,
            "found_at": str,
        },
        pk="id",
        not_null={"day", "kind", "key", "message", "found_at"},
    )
    db["audit_findings"].create_index(["kind", "key"], unique=True)
    db["audit_findings"].create_index(["day"])
    db["orders"].add_column("email_resent_at", float)


def m014_order_details(db: sqlite_utils.Database) -> None:
    """`details`: a reward kind's extra fields as one JSON object by field name
    (services/reward_types.py Detail.field), so a new kind with new fields (a lounge's
    traveller name and departure date, merchandise's shipping address) needs no migration.
    The two fields that had columns of their own move into it, and the columns go."""
    db["orders"].add_column("details", str)
    db.execute(
        "UPDATE orders SET details = json_object('loyalty_member_id', loyalty_member_id) "
        "WHERE loyalty_member_id IS NOT NULL"
    )
    db.execute(
        "UPDATE orders SET details = json_object('phone', phone) "
        "WHERE phone IS NOT NULL AND details IS NULL"
    )
    db.execute("ALTER TABLE orders DROP COLUMN loyalty_member_id")
    db.execute("ALTER TABLE orders DROP COLUMN phone")


def m015_workflow_consents(db: sqlite_utils.Database) -> None:
    """A `send_reward` step asks the person who ran it before anything is recorded (issue 16):
    `workflow_consents` is that question, per step execution, and its answer; nothing of it
    is held or shown to approvers. `requests.confirmed_by`: who confirmed a workflow's
    request by DM before it was recorded (NULL for every other request, and for a workflow's
    request recorded before this migration)."""
    db["workflow_consents"].create(
        {
            "execution_id": str,  # Slack's function_execution_id (Fx…)
            "workflow_execution_id": str,
            "runner": str,  # whose budget pays: the step's user_context
            "inputs": str,  # the step's inputs as Slack sent them (JSON)
            "state": str,  # asked | sending | sent | declined | expired | refused
            "asked_at": float,
            "expires_at": float,  # no answer by then: the step fails, nothing is recorded
            "channel": str,  # the DM that asks (D…), and its ts
            "ts": str,
            "request_id": int,  # once sent
            "reason": str,  # why it was not sent, in words for the runner
            "updated_at": str,
        },
        pk="execution_id",
        not_null={"runner", "inputs", "state", "asked_at", "expires_at", "updated_at"},
    )
    db["workflow_consents"].create_index(["state", "expires_at"])
    db["requests"].add_column("confirmed_by", str)


def m016_growth_indexes(db: sqlite_utils.Database) -> None:
    """Indexes for years of history (issue 20): every lookup the bot makes while someone
    waits, or in a round of the worker, is a search, whatever the size of the record.

    - `budget_ledger (order_id)`: what an order holds (release, refund, adjustment, the
      finance export's refunds) was a scan of the whole ledger per order;
    - `budget_ledger (month, request_id)`: the company's spend of a month (the Home);
    - `requests (created_at)`: a month's requests (the finance export);
    - `requests (requester_id, state)`: how many requests of one person wait;
    - `requests (state, expires_at)`, `(state, remind_at)`, `(state, escalate_at)`: the
      schedule's due requests, earliest first, without sorting every waiting request;
    - `orders (placed_at)`: the audit's orders of a day;
    - `request_state_counts`: requests per state, kept by triggers as migration 3 keeps the
      orders' (/metrics counted every request at each scrape).
    History and "received" read `(requester_id, created_at)` and `(recipient_id,
    created_at)` newest first, which the indexes of migrations 1 and 9 serve.
    """
    db["budget_ledger"].create_index(["order_id"])
    db["budget_ledger"].create_index(["month", "request_id"])
    db["requests"].create_index(["created_at"])
    db["requests"].create_index(["requester_id", "state"])
    db["requests"].create_index(["state", "expires_at"])
    db["requests"].create_index(["state", "remind_at"])
    db["requests"].create_index(["state", "escalate_at"])
    db["orders"].create_index(["placed_at"])
    db["request_state_counts"].create({"state": str, "n": int}, pk="state", not_null={"n"})
    db.execute(
        "INSERT INTO request_state_counts (state, n) "
        "SELECT state, COUNT(*) FROM requests GROUP BY state"
    )
    bump = (
        "INSERT OR IGNORE INTO request_state_counts (state, n) VALUES (NEW.state, 0); "
        "UPDATE request_state_counts SET n = n + 1 WHERE state = NEW.state;"
    )
    db.execute(f"CREATE TRIGGER requests_count_insert AFTER INSERT ON requests BEGIN {bump} END")
    db.execute(
        "CREATE TRIGGER requests_count_update AFTER UPDATE OF state ON requests "
        "WHEN OLD.state IS NOT NEW.state BEGIN "
        f"UPDATE request_state_counts SET n = n - 1 WHERE state = OLD.state; {bump} END"
    )
    db.execute(
        "CREATE TRIGGER requests_count_delete AFTER DELETE ON requests BEGIN "
        "UPDATE request_state_counts SET n = n - 1 WHERE state = OLD.state; END"
    )


def m017_slack_dm_conversations(db: sqlite_utils.Database) -> None:
    """Which D… channel is the app's DM with which person (issue 15's pacer): Slack counts a
    DM posted to the user id and one posted to its D… channel as one conversation, so the
    pacer does too, every process alike. Filled from the DMs already recorded."""
    db["slack_dm_channels"].create(
        {"channel": str, "user_id": str}, pk="channel", not_null={"user_id"}
    )
    for table, user in (("chat_messages", "target"), ("slack_digests", "target")):
        db.execute(
            f"INSERT OR IGNORE INTO slack_dm_channels (channel, user_id) "
            f"SELECT channel, {user} FROM {table} WHERE channel LIKE 'D%' "
            f"AND ({user} LIKE 'U%' OR {user} LIKE 'W%')"
        )


def m018_budget_releases(db: sqlite_utils.Database) -> None:
    """`budget_releases`: orders withdrawn by a rejection, a cancellation or an expiry whose
    reserve is still to be given back (issue 20). The decision withdraws the orders and
    queues them here in its own transaction; the worker gives each reserve back after the
    answer, and takes the row in the same transaction as the ledger's release row, so it
    happens once. Until then every reader counts a withdrawn order's rows as nothing
    (storage/ledger.py `spent`)."""
    db["budget_releases"].create(
        {"order_id": int, "queued_at": str},
        pk="order_id",
        foreign_keys=[("order_id", "orders", "id")],
        not_null={"queued_at"},
    )


def m019_ask_stand_ins(db: sqlite_utils.Database) -> None:
    """Whom the reader of an approval ask stood in for when it was sent
    (`chat_messages.acting_for`), so the ask can say they no longer do once their delegation
    ends, in place of its buttons (NULL for an ask recorded before: it says so in general)."""
    db["chat_messages"].add_column("acting_for", str)


def m020_choices(db: sqlite_utils.Database) -> None:
    """The recipient's choice (issue 18; storage/choices.py): one row per "Their choice"
    order, with the amount given, the offer's schedule and where it was chosen; and each
    member's last country."""
    db["choices"].create(
        {
            "order_id": int,
            "request_id": int,
            "recipient_id": str,
            "amount": str,  # Decimal, in the wallet's currency
            "currency": str,
            "offered_at": float,
            "remind_at": float,
            "reminders_sent": int,
            "expires_at": float,
            "chosen_at": float,
            "country": str,
            "chosen_by": str,
            "expired_at": float,
        },
        pk="order_id",
        foreign_keys=[("order_id", "orders", "id"), ("request_id", "requests", "id")],
        not_null={"request_id", "recipient_id", "amount"},
    )
    db["choices"].create_index(["request_id"])
    db["choices"].create_index(["recipient_id"])
    db["member_countries"].create(
        {"user_id": str, "country": str, "updated_at": str},
        pk="user_id",
        not_null={"country", "updated_at"},
    )


MIGRATIONS: list[Migration] = [
    m001_initial,
    m002_chat_messages,
    m003_order_state_counts,
    m004_order_inflight_window_and_statuses,
    m005_notification_steps,
    m006_chat_message_targets,
    m007_request_source_link,
    m008_order_lookup_failures,
    m009_reminders_delegation_home,
    m010_order_discount,
    m011_slack_outbox,
    m012_catalog_by_country,
    m013_audits,
    m014_order_details,
    m015_workflow_consents,
    m016_growth_indexes,
    m017_slack_dm_conversations,
    m018_budget_releases,
    m019_ask_stand_ins,
    m020_choices,
]


def current_version(database: Database) -> int:
    return int(database.scalar("PRAGMA user_version"))


def migrate(database: Database, target: int | None = None) -> int:
    """Apply the missing migrations (up to `target`); returns the version reached."""
    goal = len(MIGRATIONS) if target is None else target
    with database.tx() as db:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise SchemaTooNew(
                f"{database.path} is at schema version {version}, newer than this release "
                f"({len(MIGRATIONS)}); upgrade rewards-bot"
            )
        for number in range(version + 1, goal + 1):
            MIGRATIONS[number - 1](db)
            db.execute(f"PRAGMA user_version = {number}")
            version = number
    return version


def open_database(path: str) -> Database:
    database = Database(path)
    migrate(database)
    return database
