"""What the Slack handlers need from the rest of the bot, handed over in one object."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

from handlers.users import UserDirectory
from services.catalog import Catalog
from services.operators import OperatorCheck
from services.policy import Policy
from services.rewards import RewardService
from services.wallet import Wallet
from storage.db import Database


@dataclass
class Deps:
    rewards: RewardService
    catalog: Catalog
    wallet: Wallet
    policy: Policy
    database: Database
    users: UserDirectory
    operators: OperatorCheck | None
    # Work that may wait on Xoxoday runs here, after the ack, never on Bolt's listener threads.
    background: Executor
