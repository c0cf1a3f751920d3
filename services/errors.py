"""Domain errors: each carries a sentence a person can act on (shown in Slack or the CLI)."""

from __future__ import annotations

from decimal import Decimal


class RewardError(Exception):
    """Base class: `str(error)` is the message for people; `field` points at the input."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidReward(RewardError):
    """The reward as asked cannot be ordered (product, amount, recipient details)."""


class CatalogUnavailable(RewardError):
    pass


class PolicyRefusal(RewardError):
    """A rule of the company's policy says no."""


class OverOrderLimit(PolicyRefusal):
    pass


class OverBudget(PolicyRefusal):
    pass


class TooManyWaiting(PolicyRefusal):
    """The requester has REWARDS_MAX_WAITING requests waiting for approval already."""


class NotAnApprover(PolicyRefusal):
    pass


class SelfApproval(PolicyRefusal):
    """The person deciding is the requester or one of the recipients."""


class DeciderUnknown(PolicyRefusal):
    """Who is deciding could not be checked against the recipients (no email, or the
    directory did not answer): refused rather than risk someone approving their own reward."""


class NotRequester(PolicyRefusal):
    pass


class InvalidDelegation(RewardError):
    """A delegation as asked cannot be set (who, until when)."""


class InsufficientFunds(PolicyRefusal):
    """The wallet cannot pay for the request; nothing is placed."""

    def __init__(self, message: str, *, available: Decimal, needed: Decimal) -> None:
        super().__init__(message)
        self.available = available
        self.needed = needed


class RequestNotFound(RewardError):
    pass


class RequestNotPending(RewardError):
    """Someone else decided first (or the request was cancelled): nothing changed."""

    def __init__(self, message: str, *, state: str, decided_by: str | None = None) -> None:
        super().__init__(message)
        self.state = state
        self.decided_by = decided_by


class ChoiceNotYours(RewardError):
    """Someone who is not the recipient asked to see or make a choice (or there is none)."""


class ChoiceClosed(RewardError):
    """The choice no longer waits: already made, expired or withdrawn."""

    def __init__(self, message: str, *, state: str) -> None:
        super().__init__(message)
        self.state = state
