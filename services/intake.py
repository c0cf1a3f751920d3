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
4. the policy, the budget and the record itself (RewardService.record), in one transaction.
A request within the auto-approve limit is then approved in the background.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from services import costs
from services.catalog import Catalog
from services.choices import Choices, Chosen, chosen_kind
from services.errors import InvalidReward, PolicyRefusal, RewardError
from services.money import AmountError, fmt_money, parse_amount
from services.operators import OperatorCheck
from services.reward_types import TOPUP_PHONE, RewardKind, is_kind, kind
from services.rewards import (
    CHOICE_NEEDS_SLACK,
    CheckedReward,
    Decision,
    RewardService,
    RewardSpec,
)
from services.xoxoday import errors as xe
from services.xoxoday.models import Product, parse_phone
from storage.choices import NOT_CHOSEN

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 50  # Slack members on one line; a CSV import has no such limit
# A form's one phone box: a top-up's number, or the contact a product requires.
PHONE_BOX = TOPUP_PHONE.field


class Field(StrEnum):
    """What an error is about. A kind's extra fields (services/reward_types.py) are named by
    their own `field` ("phone", "loyalty_member_id"), beside these."""

    REWARD_TYPE = "reward_type"
    PRODUCT = "product"
    AMOUNT = "amount"
    QUANTITY = "quantity"
    RECIPIENTS = "recipients"
    EMAIL = "email"
    CONTACT = "contact"  # a phone number the product itself requires
    MESSAGE = "message"
    COUNTRY = "country"  # where a recipient's choice is sold
    REQUEST = "request"  # the request as a whole: the wallet, the record


class Source(StrEnum):
    """Where a request came from; stored on it (requests.source)."""

    SLACK = "slack"  # the /reward modal, opened by the command or a message shortcut
    WORKFLOW = "workflow"
    CSV = "csv"


@dataclass(frozen=True)
class FieldError:
    field: str  # a Field, or a kind's extra field
    message: str  # as people read it (surfaces that write sentences finish it)
    line: int | None = None  # the index in Ask.lines; None: the request as a whole


@dataclass(frozen=True)
class Line:
    """One product at one amount, for each of its recipients (one order each)."""

    product_id: int | None
    amount: str | Decimal | None  # as written; parsed here
    reward_type: str | None = None  # None: the product's own kind (a CSV row says none)
    members: Sequence[str] = ()  # Slack member ids
    email: str | None = None  # or one person known by email only (a CSV row)
    details: Mapping[str, str | None] = field(default_factory=dict)  # the kind's extra fields
    contact: str | None = None
    quantity: int = 1
    tag: str | None = None
    notify_receiver_email: bool = False
    operator_check: bool = True  # Xoxoday checks a top-up number against the plan's operator


@dataclass(frozen=True)
class Ask:
    requester_id: str
    lines: Sequence[Line]
    source: Source
    idempotency_key: str | None
    message: str = ""
    channel_id: str | None = None  # where the request's status is posted
    source_link: str | None = None  # the chat message it was made from (checked by the caller)
    requester_name: str | None = None  # else the Members port's name for the requester
    trusted: bool = False  # an operator at the shell: no approval, no spending limits
    may_wait: bool = False  # nobody waits on a 3-second answer: Xoxoday may be asked


@dataclass(frozen=True)
class ChoiceAsk:
    """A recipient's choice as their modal gave it: `user_id` is the signed submitter."""

    order_id: int
    user_id: str
    country: str | None
    product_id: int | None
    amount: str | Decimal | None
    submission: str  # the same submission twice is one choice (the modal's view id)


@dataclass(frozen=True)
class ChoiceSubmitted:
    chosen: Chosen | None
    errors: tuple[FieldError, ...] = ()


@dataclass(frozen=True)
class Submitted:
    """The recorded request (the one recorded before, for a repeated idempotency key), or
    what is wrong."""

    decision: Decision | None
    errors: tuple[FieldError, ...] = ()


class Member(Protocol):
    """A chat member as the intake needs one (handlers.users.SlackUser)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def is_bot(self) -> bool: ...
    @property
    def deleted(self) -> bool: ...


class Found(Protocol):
    @property
    def users(self) -> Mapping[str, Member]: ...
    @property
    def late(self) -> Sequence[str]: ...


class Members(Protocol):
    """Who the chat's members are (handlers.users.UserDirectory): looked up quickly enough to
    answer Slack, with those not known in time reported as late."""

    def lookup(self, user_ids: Iterable[str]) -> Found: ...

    def known(self, user_id: str) -> Member | None: ...


@dataclass
class _Checked:
    """One line after step 1: its product (None: the recipients choose it later) and the
    rewards to price."""

    line: int
    reward_kind: RewardKind
    product: Product | None
    specs: list[RewardSpec]


class Intake:
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

    def _choice_line(
        self, ask: Ask, line: Line, reward_kind: RewardKind, problems: list[tuple[str, str]]
    ) -> tuple[RewardKind, None, list[RewardSpec]] | None:
        """An amount of the wallet's currency for Slack members to spend on a gift card
        they choose; no product yet."""
        if not line.members and line.email:
            problems.append((Field.RECIPIENTS, CHOICE_NEEDS_SLACK))
            return None
        amount = self._amount(line, None, problems)
        if amount is None and not problems:
            problems.append((Field.AMOUNT, "Enter the amount each recipient may spend."))
        recipients = self._recipients(ask, line, reward_kind, problems)
        problem = None if amount is None or problems else self._choosable(reward_kind, amount)
        if problem is not None:
            problems.append((Field.AMOUNT, problem))
        if problems or amount is None:
            return None
        specs = [
            RewardSpec(
                product_id=NOT_CHOSEN,
                denomination=amount,
                reward_type=reward_kind.key,
                recipient_id=member_id,
                recipient_name=name,
                email=email,
                tag=line.tag,
            )
            for member_id, name, email in recipients
        ]
        return reward_kind, None, specs

    def _choosable(self, reward_kind: RewardKind, amount: Decimal) -> str | None:
        """Why no recipient could choose anything for `amount` (the wallet's currency)."""
        if self.catalog.search(reward_kind.chooses_from or "", limit=1, within=amount):
            return None
        currency = self.rewards.wallet.known_currency() if self.rewards.wallet else None
        return (
            f"No gift card in the catalog costs {fmt_money(amount, currency)} or less; "
            "give a larger amount."
        )

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
        found, problem = self._members(ask.requester_id, members)
        if problem:
            problems.append((Field.RECIPIENTS, problem))
        return found

    def _members(
        self, requester_id: str, members: list[str]
    ) -> tuple[list[tuple[str | None, str | None, str | None]], str | None]:
        if self.members is None:
            return [], "Members of the workspace cannot be looked up here."
        # One concurrent round of lookups under a deadline, the requester's too: an answer to
        # Slack waits on it at most the directory's deadline, however many recipients.
        found = self.members.lookup([*members, requester_id])
        problems = []
        late = [u for u in members if u in found.late]
        if late:
            # Nothing is recorded unchecked: the lookups finish in the background, so the
            # next try finds everyone at once.
            problems.append(
                f"Slack was slow to tell me about {len(late)} of the recipients; "
                "press Request again in a moment"
            )
        people: list[tuple[str | None, str | None, str | None]] = []
        for user_id in members:
            if user_id in late:
                continue
            user = found.users.get(user_id)
            if user is None or user.deleted:
                problems.append(f"<@{user_id}> is not an active member of this workspace")
            elif user.is_bot:
                problems.append(f"{user.name} is a bot")
            elif not user.email:
                problems.append(
                    f"{user.name} has no email the bot can see (it is needed for the order)"
                )
            else:
                people.append((user.id, user.name, user.email))
        return people, "; ".join(problems)[:2000] if problems else None

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
                source_link=ask.source_link,
            )
        except (InvalidReward, PolicyRefusal) as exc:
            return Submitted(None, (FieldError(field_of(exc.field), exc.message),))
        if decision.auto_approvable and self.background is not None:
            self.background.submit(auto_approve, self.rewards, decision.request.id)
        return Submitted(decision)

    # --- a recipient's choice -----------------------------------------------------------------

    def choose(self, ask: ChoiceAsk) -> ChoiceSubmitted:
        """Check a recipient's choice against its product and the amount they were given,
        and record it once (services/choices.py)."""
        if self.choices is None:
            return ChoiceSubmitted(None, (FieldError(Field.REQUEST, "Choices are not set up."),))
        try:
            offer = self.choices.offer_for(ask.order_id, ask.user_id)
        except RewardError as exc:
            return ChoiceSubmitted(None, (FieldError(Field.REQUEST, exc.message),))
        if not offer.open:  # chosen before, maybe by this very submission (a double submit)
            try:
                return ChoiceSubmitted(self.choices.recorded(offer, ask.submission))
            except RewardError as exc:
                return ChoiceSubmitted(None, (FieldError(Field.REQUEST, exc.message),))
        problems: list[tuple[str, str]] = []
        product = self._chosen_product(ask, chosen_kind(offer), problems)
        amount = self._amount(Line(product_id=ask.product_id, amount=ask.amount), product, problems)
        if problems or product is None or amount is None:
            return ChoiceSubmitted(None, tuple(FieldError(f, m) for f, m in problems))
        spec = RewardSpec(
            product_id=product.product_id,
            denomination=amount,
            recipient_id=offer.order.recipient_id,
            recipient_name=offer.order.recipient_name,
            email=offer.order.email,
        )
        try:
            checked = self.rewards.price(spec, offer.order.reward_type, product)
        except InvalidReward as exc:
            return ChoiceSubmitted(None, (FieldError(field_of(exc.field), exc.message),))
        if checked.cost > offer.amount:
            shown = costs.in_both(product, amount, offer.currency)
            return ChoiceSubmitted(
                None,
                (FieldError(Field.AMOUNT, f"{shown}: more than the {offer.given} you have."),),
            )
        try:
            chosen = self.choices.record(
                offer, checked, country=ask.country, submission=ask.submission
            )
        except RewardError as exc:
            return ChoiceSubmitted(None, (FieldError(Field.REQUEST, exc.message),))
        return ChoiceSubmitted(chosen)

    def _chosen_product(
        self, ask: ChoiceAsk, reward_type: str, problems: list[tuple[str, str]]
    ) -> Product | None:
        if ask.product_id is None:
            problems.append((Field.PRODUCT, "Choose a gift card."))
            return None
        try:
            found_type, product = self.catalog.product(ask.product_id)
        except InvalidReward as exc:
            problems.append((Field.PRODUCT, exc.message))
            return None
        if found_type != reward_type:
            problems.append((Field.PRODUCT, f"{product.name} is not a {kind(reward_type).label}."))
            return None
        if ask.country and not self.catalog.sold_in(product.product_id, ask.country):
            problems.append((Field.PRODUCT, f"{product.name} is not sold in that country."))
            return None
        return product


def field_of(name: str | None) -> str:
    """An error's field as the service names it (RewardError.field): a refusal of the policy
    (over a limit, over the budget) names none, and is about the amount."""
    if name in (None, "denomination"):
        return Field.AMOUNT
    return name


def auto_approve(rewards: RewardService, request_id: int) -> None:
    """After the answer: approve within the limit, or else make sure the approvers are asked."""
    try:
        rewards.auto_approve(request_id)
    except RewardError as exc:
        log.info("R-%s not approved automatically: %s", request_id, exc)
    except Exception:
        log.exception("automatic approval of R-%s failed", request_id)
        rewards.to_approvers(request_id, "automatic approval failed; please decide by hand")
