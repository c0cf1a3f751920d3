"""What the Slack handlers need from the rest of the bot, handed over in one object."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from handlers.users import UserDirectory
from services.budget import BudgetView, budget_of
from services.catalog import Catalog
from services.choices import Choices
from services.consent import Consents
from services.delegation import Delegations
from services.duplicates import Duplicates
from services.intake import Intake
from services.operators import OperatorCheck
from services.policy import Policy
from services.resend import VoucherResend
from services.rewards import RewardService
from services.wallet import Wallet


class HomeOpener(Protocol):
    """What the handlers need of the Home tabs (handlers.home.HomeTabs): typed here, not
    imported, so deps stays below the modules that use it (no import circle)."""

    def opened(self, user_id: str) -> None: ...


@dataclass
class Deps:
    rewards: RewardService
    catalog: Catalog
    wallet: Wallet
    policy: Policy
    users: UserDirectory
    operators: OperatorCheck | None
    # Work that may wait on Xoxoday runs here, after the ack, never on Bolt's listener threads.
    background: Executor
    delegations: Delegations | None = None
    duplicates: Duplicates | None = None
    home: HomeOpener | None = None
    choices: Choices | None = None
    # REWARDS_DEFAULT_COUNTRY (else the first of REWARDS_COUNTRIES): where forms start.
    default_country: str | None = None
    # What workflows' runners were asked to confirm (services/consent.py).
    consents: Consents = field(default=None)  # type: ignore[assignment]
    # "Email my code again" (services/resend.py): who may, and once an hour per order.
    resends: VoucherResend | None = None
    # Every surface that asks for a reward hands it to this one intake.
    intake: Intake = field(init=False)

    def __post_init__(self) -> None:
        if self.consents is None:
            self.consents = Consents(self.rewards.database)
        self.intake = Intake(
            self.rewards,
            members=self.users,
            operators=self.operators,
            background=self.background,
            choices=self.choices,
        )

    def budget(self, requester_id: str) -> BudgetView:
        """The requester's budget this month (SQLite only: fine before an ack)."""
        month = datetime.now(UTC).strftime("%Y-%m")
        currency = self.wallet.known_currency() or ""
        return budget_of(self.rewards.database, self.policy, requester_id, month, currency)
