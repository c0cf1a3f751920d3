"""The intake's part for a recipient's choice (services/intake.py's `Intake` is made of it):
a "Their choice" line of a request names no product (an amount of the wallet's currency for
Slack members, who choose later), and the recipient's choice itself comes back through
`choose`, checked like any reward against its product (sold in the country chosen, a value it
takes, a cost within the amount given) and recorded once by services/choices.py. One intake:
the same amount, recipient and pricing checks as every other surface."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from services import costs
from services.asks import Ask, ChoiceAsk, ChoiceSubmitted, Field, FieldError, Line, field_of
from services.catalog import Catalog
from services.choices import Choices, chosen_kind
from services.errors import InvalidReward, RewardError
from services.money import fmt_money
from services.reward_specs import CHOICE_NEEDS_SLACK, RewardSpec
from services.reward_types import RewardKind, kind
from services.rewards import RewardService
from services.xoxoday.models import Product
from storage.choices import NOT_CHOSEN

Problems = list[tuple[str, str]]
Recipient = tuple[str | None, str | None, str | None]


class ChoiceSurface:
    rewards: RewardService
    catalog: Catalog
    choices: Choices | None
    # services/intake.py: the amount as written, and the line's recipients, checked.
    _amount: Callable[[Line, Product | None, Problems], Decimal | None]
    _recipients: Callable[[Ask, Line, RewardKind | None, Problems], list[Recipient]]

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
