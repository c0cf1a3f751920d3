"""One intake: every surface that asks for a reward hands what it was given to `Intake.submit`,
which checks it once and records it, and names what is wrong by field.

The surfaces are the /reward modal (a message shortcut opens the same modal), the Workflow
Builder step `send_reward`, the CSV import, and the recipient's choice. Each reads its own
format (a modal's state, a step's inputs, a file's cells) into an `Ask` (a recipient's choice:
a `ChoiceAsk`), and shows the `FieldError`s it gets back in its own places: the modal under
its input blocks, the step as sentences naming its inputs, the import by line number. No
surface pretends to be another, and none checks a reward itself.

A "Their choice" line (services/reward_types.py `chooses_from`) names no product: its amount
is in the wallet's currency and its recipients must be Slack members, who choose later
(services/choices.py). Their choice comes back through `choose`, checked like any reward
against its product (sold in the country chosen, a value it takes, a cost within the amount
given) and recorded once.

What is checked, in order (each step only when the ones before found nothing):
1. each line: the product (one catalog lookup per line), its kind, the amount, who receives
   it (Slack members through the `Members` port, or one email), and the kind's extra fields
   (services/reward_types.py) and the contact a product may require;
2. the wallet's currency, which every cost is in (learning it means asking Xoxoday, which a
   3-second answer to Slack cannot wait for: `Ask.may_wait`);
3. each reward against its product: denomination, quantity, cost (RewardService.price);
4. the policy, the budget, the requester's waiting requests (at most REWARDS_MAX_WAITING, also
   checked first of all, before any lookup) and the record itself (RewardService.record), in
   one transaction.
A request within the auto-approve limit is then approved in the background.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from decimal import Decimal

from services.asks import (
    Ask,
    ChoiceAsk,
    ChoiceSubmitted,
    Field,
    FieldError,
    Line,
    Source,
    Submitted,
    field_of,
)
from services.catalog import Catalog
from services.choices import Choices
from services.errors import InvalidReward, PolicyRefusal, RewardError
from services.intake_choice import ChoiceSurface
from services.money import AmountError, parse_amount
from services.operators import OperatorCheck
from services.recipients import Members, check_members
from services.reward_types import TOPUP_PHONE, RewardKind, is_kind, kind
from services.rewards import CheckedReward, RewardService, RewardSpec
from services.xoxoday import errors as xe
from services.xoxoday.models import Product, parse_phone

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 50  # Slack members on one line; a CSV import has no such limit
# A form's one phone box: a top-up's number, or the contact a product requires.
PHONE_BOX = TOPUP_PHONE.field
# The intake's vocabulary lives in services/asks.py; the surfaces name it from here.
__all__ = [
    "PHONE_BOX",
    "Ask",
    "ChoiceAsk",
    "ChoiceSubmitted",
    "Field",
    "FieldError",
    "Intake",
    "Line",
    "Quote",
    "Source",
    "Submitted",
    "auto_approve",
]


@dataclass(frozen=True)
class Quote:
    """What an ask would cost (None when it could not be priced), or what is wrong."""

    total: Decimal | None
    currency: str
    errors: tuple[FieldError, ...] = ()
    rewards: tuple[CheckedReward, ...] = ()


@dataclass
class _Checked:
    """One line after step 1: its product (None: the recipients choose it later) and the
    rewards to price."""

    line: int
    reward_kind: RewardKind
    product: Product | None
    specs: list[RewardSpec]


class Intake(ChoiceSurface):
    def __init__(
        self,
        rewards: RewardService,
        *,
        members: Members | None = None,
        operators: OperatorCheck | None = None,
        background: Executor | None = None,
        choices: Choices | None = None,
    ) -> None:
        self.rewards = rewards
        self.catalog: Catalog = rewards.catalog
        self.members = members
        self.operators = operators
        self.choices = choices
        # Where a request within the auto-approve limit is approved (it may ask Xoxoday for
        # the balance); None: the caller approves it (Decision.auto_approvable).
        self.background = background

    def submit(self, ask: Ask, progress: Callable[[int, int], None] | None = None) -> Submitted:
        """Check the ask and record it; `progress(checked, lines)` is told as lines are checked."""
        if ask.idempotency_key:  # a retry or replay: the request recorded the first time
            existing = self.rewards.recorded(ask.idempotency_key)
            if existing is not None:
                return Submitted(existing)
        if not ask.trusted:  # before any lookup: a flood is refused at its cheapest
            try:
                self.rewards.check_waiting(ask.requester_id)
            except PolicyRefusal as exc:
                return Submitted(None, (FieldError(Field.REQUEST, exc.message),))
        checked, errors = self._check(ask, progress)
        if errors:
            return Submitted(None, errors)
        return self._record(ask, checked)

    def check(
        self, ask: Ask, progress: Callable[[int, int], None] | None = None
    ) -> tuple[FieldError, ...]:
        """What submit() would refuse, recording nothing (a CSV file with unreadable rows is
        still checked whole, so every problem is told at once)."""
        return self._check(ask, progress)[1]

    def quote(self, ask: Ask) -> Quote:
        """What the ask would cost, checked as submit() checks it and recording nothing (a
        workflow's runner is asked before anything is held: services/consent.py); the
        requester's waiting requests and budget too."""
        checked, errors = self._check(ask, None)
        if errors:
            return Quote(None, "", errors)
        total = sum((c.cost for c in checked), Decimal(0))
        currency = self.rewards.wallet.known_currency() if self.rewards.wallet else None
        if not ask.trusted:
            try:
                self.rewards.check_can_record(ask.requester_id, checked)
            except PolicyRefusal as exc:
                error = FieldError(field_of(exc.field), exc.message)
                return Quote(total, currency or "", (error,))
        return Quote(total, currency or "", (), tuple(checked))

    def _check(
        self, ask: Ask, progress: Callable[[int, int], None] | None
    ) -> tuple[list[CheckedReward], tuple[FieldError, ...]]:
        """Steps 1 to 3. Each line is checked on its own: a line refused at step 1 is not
        priced, the others are (so a file's every bad row is found in one go)."""
        if not ask.lines:
            return [], (FieldError(Field.RECIPIENTS, "Choose who receives it."),)
        lines, errors = self._read_lines(ask, progress)
        if not lines:
            return [], tuple(errors)
        problem = self._currency(ask.may_wait)
        if problem:
            return [], (*errors, FieldError(Field.REQUEST, problem))
        checked, priced = self._price(lines)
        errors += priced
        return checked, tuple(sorted(errors, key=lambda e: -1 if e.line is None else e.line))

    # --- 1. each line -------------------------------------------------------------------------

    def _read_lines(
        self, ask: Ask, progress: Callable[[int, int], None] | None
    ) -> tuple[list[_Checked], list[FieldError]]:
        checked: list[_Checked] = []
        errors: list[FieldError] = []
        for number, line in enumerate(ask.lines):
            problems: list[tuple[str, str]] = []
            found = self._line(ask, line, problems)
            errors += [FieldError(name, message, number) for name, message in problems]
            if found is not None:
                checked.append(_Checked(number, *found))
            if progress is not None:
                progress(number + 1, len(ask.lines))
        return checked, errors

    def _line(
        self, ask: Ask, line: Line, problems: list[tuple[str, str]]
    ) -> tuple[RewardKind, Product | None, list[RewardSpec]] | None:
        if line.reward_type is not None and not is_kind(line.reward_type):
            try:
                kind(line.reward_type)
            except KeyError as exc:  # names the kinds there are
                problems.append((Field.REWARD_TYPE, str(exc.args[0])))
                return None
        if line.reward_type is not None and kind(line.reward_type).chooses_from:
            return self._choice_line(ask, line, kind(line.reward_type), problems)
        product, reward_kind = self._product(line, problems)
        if reward_kind is None and line.reward_type is not None:
            reward_kind = kind(line.reward_type)
        amount = self._amount(line, product, problems)
        recipients = self._recipients(ask, line, reward_kind, problems)
        details = self._details(line, reward_kind, product, problems)
        if problems or product is None or reward_kind is None or amount is None:
            return None
        contact = details.pop(Field.CONTACT, None)
        specs = [
            RewardSpec(
                product_id=product.product_id,
                denomination=amount,
                reward_type=reward_kind.key,
                quantity=line.quantity,
                email=email,
                recipient_id=member_id,
                recipient_name=name,
                contact=contact,
                operator_validation=line.operator_check,
                notify_receiver_email=line.notify_receiver_email,
                tag=line.tag,
                details=details,
            )
            for member_id, name, email in recipients
        ]
        return reward_kind, product, specs

    def _product(
        self, line: Line, problems: list[tuple[str, str]]
    ) -> tuple[Product | None, RewardKind | None]:
        """The line's product and kind: the one catalog lookup of the request's line."""
        if line.product_id is None:
            problems.append((Field.PRODUCT, "Choose what to send."))
            return None, None
        try:
            found_type, product = self.catalog.product(line.product_id)
        except InvalidReward as exc:
            problems.append((Field.PRODUCT, exc.message))
            return None, None
        if line.reward_type is not None and found_type != line.reward_type:
            problems.append(
                (
                    Field.PRODUCT,
                    f"{product.name} ({product.product_id}) is listed under "
                    f"{kind(found_type).label}, not {kind(line.reward_type).label}.",
                )
            )
            return None, None
        return product, kind(found_type)

    def _amount(
        self, line: Line, product: Product | None, problems: list[tuple[str, str]]
    ) -> Decimal | None:
        if isinstance(line.amount, Decimal):
            return line.amount
        if not (line.amount or "").strip():
            if product is not None:
                words = "Enter an amount." if product.is_open_value else "Choose an amount."
                problems.append((Field.AMOUNT, words))
            return None
        try:
            return parse_amount(line.amount)
        except AmountError as exc:  # "1,5", "1 000", "1e3"…: refused, never guessed
            problems.append((Field.AMOUNT, exc.message[:1].upper() + exc.message[1:] + "."))
            return None

    def _recipients(
        self,
        ask: Ask,
        line: Line,
        reward_kind: RewardKind | None,
        problems: list[tuple[str, str]],
    ) -> list[tuple[str | None, str | None, str | None]]:
        """(member id, name, email) of each recipient, or a problem on Field.RECIPIENTS."""
        if not line.members:
            if line.email:
                return [(None, None, line.email)]
            problems.append((Field.RECIPIENTS, "Choose who receives it."))
            return []
        members = list(line.members)
        problem = None
        if reward_kind is not None and reward_kind.one_recipient and len(members) > 1:
            problem = "This kind of reward goes to one person; choose one recipient."
        elif len(members) > MAX_RECIPIENTS:
            problem = f"At most {MAX_RECIPIENTS} recipients at a time; use the CSV import for more."
        elif ask.requester_id in members:
            problem = "You cannot send a reward to yourself."
        if problem:
            problems.append((Field.RECIPIENTS, problem))
            return []
        found, problem = check_members(self.members, ask.requester_id, members)
        if problem:
            problems.append((Field.RECIPIENTS, problem))
        return found

    def _details(
        self,
        line: Line,
        reward_kind: RewardKind | None,
        product: Product | None,
        problems: list[tuple[str, str]],
    ) -> dict[str, str]:
        """The kind's extra fields (each checked by its own parser), and the contact the
        product may require (under Field.CONTACT)."""
        values: dict[str, str] = {}
        for detail in reward_kind.details if reward_kind is not None else ():
            value = (line.details.get(detail.field) or "").strip()
            if not value:
                problems.append((detail.field, detail.missing))
                continue
            try:
                values[detail.field] = detail.parse(value)
            except ValueError as exc:
                problems.append((detail.field, str(exc)))
                continue
            if detail.looks_up_operator and reward_kind is not None:
                problem = self._operator(value, line, reward_kind, product)
                if problem:
                    problems.append((detail.field, problem))
        contact = (line.contact or "").strip()
        if product is not None and product.is_phone_number_mandatory:
            # A form's one phone box serves both: the product's contact is the number in it
            # (checked just now when it is also the kind's own field).
            checked = not contact and PHONE_BOX in values
            contact = contact or (line.details.get(PHONE_BOX) or "").strip()
            if not contact:
                problems.append((Field.CONTACT, TOPUP_PHONE.missing))
            elif not checked:
                try:
                    parse_phone(contact)
                except ValueError as exc:
                    problems.append((Field.CONTACT, str(exc)))
        if contact:
            values[Field.CONTACT] = contact
        return values

    def _operator(
        self, phone: str, line: Line, reward_kind: RewardKind, product: Product | None
    ) -> str | None:
        """Whether a finished lookup puts the number on another operator than the plan's."""
        if (
            product is None
            or not reward_kind.operators_and_plans
            or not line.operator_check
            or self.operators is None
        ):
            return None
        operator = self._operator_name(reward_kind.key, product) or "this plan's operator"
        return self.operators.mismatch(phone, product, operator)

    def _operator_name(self, reward_type: str, product: Product) -> str | None:
        if product.parent_product_id is None:
            return None
        return self.catalog.operator_names(reward_type).get(product.parent_product_id)

    # --- 2. the wallet's currency -------------------------------------------------------------

    def _currency(self, may_wait: bool) -> str | None:
        """Why the costs cannot be known yet, or None."""
        wallet = self.rewards.wallet
        if wallet is None or wallet.known_currency() is not None:
            return None
        if may_wait:
            try:
                wallet.currency()
            except xe.XoxodayError as exc:
                return (
                    f"The Xoxoday wallet is not reachable ({exc.message}); try again in a minute."
                )
            return None
        if self.background is not None:
            self.background.submit(wallet.currency)
        return "The Xoxoday wallet is not reachable yet; try again in a minute."

    # --- 3. each reward against its product ---------------------------------------------------

    def _price(self, lines: list[_Checked]) -> tuple[list[CheckedReward], list[FieldError]]:
        checked: list[CheckedReward] = []
        errors: list[FieldError] = []
        for each in lines:
            for spec in each.specs:
                try:
                    if each.product is None:  # the recipient's choice: the amount is the cost
                        checked.append(self.rewards.price_choice(spec, each.reward_kind.key))
                        continue
                    checked.append(self.rewards.price(spec, each.reward_kind.key, each.product))
                except InvalidReward as exc:
                    error = FieldError(field_of(exc.field), exc.message, each.line)
                    if error not in errors:
                        errors.append(error)
        return checked, errors

    # --- 4. the record ------------------------------------------------------------------------

    @staticmethod
    def _link(ask: Ask) -> str | None:
        """The message the request is "for" (Reward this message): only while the message's
        author is among its recipients, else the ask would show someone else beside it."""
        return ask.source_link if _rewards_author(ask) else None

    def _record(self, ask: Ask, checked: list[CheckedReward]) -> Submitted:
        name = ask.requester_name
        if name is None and self.members is not None:
            requester = self.members.known(ask.requester_id)  # looked up with the recipients
            name = requester.name if requester is not None else None
        try:
            decision = self.rewards.record(
                ask.requester_id,
                checked,
                requester_name=name,
                source=ask.source.value,
                channel_id=ask.channel_id,
                message=ask.message,
                idempotency_key=ask.idempotency_key,
                trusted=ask.trusted,
                source_link=self._link(ask),
                confirmed_by=ask.confirmed_by,
            )
        except (InvalidReward, PolicyRefusal) as exc:
            return Submitted(None, (FieldError(field_of(exc.field), exc.message),))
        if decision.auto_approvable and self.background is not None:
            self.background.submit(auto_approve, self.rewards, decision.request.id)
        return Submitted(decision)


def _rewards_author(ask: Ask) -> bool:
    author = ask.source_author
    return author is not None and any(author in line.members for line in ask.lines)


def auto_approve(rewards: RewardService, request_id: int) -> None:
    """After the answer: approve within the limit, or else make sure the approvers are asked."""
    try:
        rewards.auto_approve(request_id)
    except RewardError as exc:
        log.info("R-%s not approved automatically: %s", request_id, exc)
    except Exception:
        log.exception("automatic approval of R-%s failed", request_id)
        rewards.to_approvers(request_id, "automatic approval failed; please decide by hand")
