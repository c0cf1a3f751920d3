"""Builds the running parts from Settings: database, Xoxoday client, services, worker."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot.account import check_account
from bot.config import ConfigError, Settings
from services.audit import Auditor
from services.audit_schedule import DailyAudit
from services.catalog import Catalog
from services.choice_schedule import ChoiceSchedule, ChoiceScheduler, Schedules
from services.choices import Choices
from services.consent import Consents
from services.delegation import Deciders, Delegations
from services.delivery import Delivery, WebhookReceiver
from services.duplicates import Duplicates
from services.metrics import Instruments
from services.notify import EventPump, LoggingNotifier, NotificationDispatcher, Notifier
from services.policy import PeopleDirectory, Policy
from services.reminders import Schedule, Scheduler
from services.resend import VoucherResend
from services.rewards import RewardService
from services.vouchers import VoucherSource
from services.wallet import Wallet
from services.worker import Worker
from services.xoxoday.client import Exchange, XoxodayClient
from services.xoxoday.ratelimit import RateLimiter
from services.xoxoday.tokens import TokenSet
from storage.api_calls import ApiCallLog
from storage.db import Database
from storage.migrations import SchemaTooNew, migrate
from storage.tokens import SqliteTokenStore

log = logging.getLogger(__name__)


def _secret(value: object) -> str:
    return value.get_secret_value() if value is not None else ""  # type: ignore[attr-defined]


def open_db(settings: Settings) -> Database:
    """The database, migrated; a path that cannot be one (a folder, a file of something else,
    a newer release's file) is one line naming REWARDS_DB."""
    path = settings.rewards_db
    try:
        database = Database(path)
    except OSError as exc:
        raise ConfigError(f"REWARDS_DB: cannot create {path} ({exc.strerror or exc})") from None
    try:
        migrate(database)
    except SchemaTooNew as exc:
        database.close()
        raise ConfigError(f"REWARDS_DB: {exc}") from None
    except (OSError, sqlite3.DatabaseError) as exc:
        database.close()
        raise ConfigError(f"REWARDS_DB: cannot use {path} ({exc})") from None
    return database


def build_client(
    settings: Settings, database: Database, metrics: Instruments | None = None
) -> XoxodayClient:
    settings.require("xoxoday_client_id", "xoxoday_client_secret", "xoxoday_refresh_token")
    initial = TokenSet(
        access_token=_secret(settings.xoxoday_access_token),
        refresh_token=_secret(settings.xoxoday_refresh_token),
    )
    return XoxodayClient(
        settings.xoxoday_base_url,
        settings.xoxoday_client_id or "",
        _secret(settings.xoxoday_client_secret),
        SqliteTokenStore(database),
        initial_tokens=initial,
        timeout_s=settings.xoxoday_timeout_s,
        place_order_timeout_s=settings.xoxoday_place_order_timeout_s,
        limiter=RateLimiter(
            scale=settings.xoxoday_rate_scale,
            on_wait=metrics.rate_limit_wait if metrics is not None else None,
        ),
        on_exchange=_exchange_hooks(ApiCallLog(database), metrics),
    )


def _exchange_hooks(log: ApiCallLog, metrics: Instruments | None) -> Callable[[Exchange], None]:
    """The request log, and the call counters when there are any."""
    if metrics is None:
        return log

    def both(exchange: Exchange) -> None:
        metrics.xoxoday_exchange(exchange)
        log(exchange)

    return both


def build_policy(settings: Settings) -> Policy:
    return Policy(
        approvers=frozenset(settings.rewards_approvers),
        escalation_approvers=frozenset(settings.rewards_escalation_approvers),
        auto_approve_max=settings.rewards_auto_approve_max,
        monthly_budget=settings.rewards_monthly_budget,
        max_order=settings.rewards_max_order,
        max_waiting=settings.rewards_max_waiting,
    )


def build_schedule(settings: Settings) -> Schedule:
    return Schedule(
        remind_after=settings.rewards_remind_after,
        escalate_after=settings.rewards_escalate_after,
        expire_after=settings.rewards_expire_after,
        escalates=bool(settings.rewards_escalation_approvers),
    )


class Notifications(Protocol):
    def start(self) -> object: ...

    def stop(self, timeout: float = 10.0) -> None: ...

    def run_until_idle(self, timeout: float = 30.0) -> bool: ...


def build_choice_schedule(settings: Settings) -> ChoiceSchedule:
    return ChoiceSchedule(
        remind_after=tuple(settings.rewards_choice_remind),
        expire_after=settings.rewards_choice_expire,
    )


@dataclass
class Runtime:
    settings: Settings
    database: Database
    client: XoxodayClient
    catalog: Catalog
    wallet: Wallet
    policy: Policy
    vouchers: VoucherSource
    delivery: Delivery
    rewards: RewardService
    webhooks: WebhookReceiver
    worker: Worker
    dispatcher: NotificationDispatcher
    delegations: Delegations
    deciders: Deciders
    scheduler: Scheduler
    duplicates: Duplicates
    choice_scheduler: ChoiceScheduler
    auditor: Auditor
    consents: Consents
    resends: VoucherResend
    metrics: Instruments = field(default_factory=Instruments)
    # Tells people what happened, on threads of its own (never the worker's loop): the log's
    # pump, or Slack's delivery room once bot/serve.py attaches it.
    notifications: Notifications | None = None

    @property
    def choices(self) -> Choices:
        """The recipients' choices (services/choices.py), as their schedule holds them."""
        return self.choice_scheduler.choices

    def close(self) -> None:
        self.catalog.stop()  # its refresh thread writes to the database closed below
        self.client.close()
        self.database.close()


def _checked_client(settings: Settings, database: Database, metrics: Instruments) -> XoxodayClient:
    """The Xoxoday client, once the database is known to belong to its account; on a
    configuration error nothing is left open."""
    client: XoxodayClient | None = None
    try:
        client = build_client(settings, database, metrics)  # the credentials are set
        check_account(database, settings)  # before anything could place an order
    except ConfigError:
        if client is not None:
            client.close()
        database.close()
        raise
    return client


@dataclass(frozen=True)
class InTheLoop:
    """What the worker's loop runs beside placement (see _in_the_loop)."""

    scheduler: Scheduler
    auditor: Auditor
    consents: Consents
    choices: ChoiceScheduler


def _in_the_loop(
    worker: Worker,
    rewards: RewardService,
    delegations: Delegations,
    people: PeopleDirectory | None,
    settings: Settings,
) -> InTheLoop:
    """What runs in the worker's loop beside placement: reminders, escalation and expiry
    (services/reminders.py; a decision checks the same times itself, services/deadlines.py),
    workflows' questions to their runners left unanswered (services/consent.py), the
    reminders and expiry of choices not made (services/choice_schedule.py), and the daily
    audit against Xoxoday's books (services/audit_schedule.py)."""
    database, catalog = rewards.database, rewards.catalog
    consents = Consents(database)
    scheduler = Scheduler(
        database,
        rewards,
        rewards.schedule,
        name=f"{worker.name}",
        delegations=delegations,
        people=people,
        consents=consents,
    )
    # The recipients' choices (services/choices.py): their reminders and expiry.
    choices = Choices(database, catalog, default_country=settings.default_country, wake=worker.wake)
    choice_scheduler = ChoiceScheduler(
        database, choices, build_choice_schedule(settings), name=worker.name
    )
    worker.scheduler = Schedules(scheduler, choice_scheduler)
    auditor = Auditor(database, worker.client, rewards.wallet)
    worker.audit = DailyAudit(database, auditor, name=f"{worker.name}:audit")
    return InTheLoop(scheduler, auditor, consents, choice_scheduler)


def build_runtime(
    settings: Settings,
    *,
    notifier: Notifier | None = None,
    people: PeopleDirectory | None = None,
    poll_first_s: float = 60.0,
    backoff_first_s: float = 5.0,
    metrics: Instruments | None = None,
) -> Runtime:
    database = open_db(settings)
    # This process's counters, in a registry of its own (several stacks can share a process).
    metrics = metrics if metrics is not None else Instruments()
    client = _checked_client(settings, database, metrics)
    wallet = Wallet(client, database)
    catalog = Catalog(database, client, wallet=wallet, countries=settings.rewards_countries)
    vouchers = VoucherSource(client)
    delivery = Delivery(
        database,
        vouchers=vouchers,
        poll_first_s=poll_first_s,
        on_refund=wallet.invalidate,
        on_charge=wallet.record_charge,
    )
    dispatcher = NotificationDispatcher(
        database, notifier or LoggingNotifier(), "log" if notifier is None else "slack"
    )
    worker = Worker(
        database,
        client,
        catalog,
        delivery,
        concurrency=settings.rewards_worker_concurrency,
        backoff_first_s=backoff_first_s,
        # Xoxoday's "realtime within 120 s": the in-flight window is the placeOrder timeout.
        inflight_window_s=settings.xoxoday_place_order_timeout_s,
        wallet=wallet,
        metrics=metrics,
    )
    policy = build_policy(settings)
    delegations = Delegations(database, policy)
    deciders = Deciders(policy, delegations, schedule=build_schedule(settings))
    rewards = RewardService(
        database,
        catalog,
        wallet,
        policy,
        wake=worker.wake,
        people=people,
        deciders=deciders,
        schedule=deciders.schedule,
    )
    loop = _in_the_loop(worker, rewards, delegations, people, settings)
    receiver = WebhookReceiver(
        database, delivery, _secret(settings.xoxoday_webhook_key) or None, on_applied=worker.wake
    )
    return Runtime(
        settings=settings,
        database=database,
        client=client,
        catalog=catalog,
        wallet=wallet,
        policy=policy,
        vouchers=vouchers,
        delivery=delivery,
        rewards=rewards,
        webhooks=receiver,
        worker=worker,
        dispatcher=dispatcher,
        delegations=delegations,
        deciders=deciders,
        scheduler=loop.scheduler,
        duplicates=Duplicates(database, settings.rewards_duplicate_window),
        choice_scheduler=loop.choices,
        auditor=loop.auditor,
        consents=loop.consents,
        resends=VoucherResend(database, client),
        metrics=metrics,
        notifications=EventPump(dispatcher),
    )
