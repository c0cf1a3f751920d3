"""Every action, block and callback id the bot uses, in one place."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    REWARD_TYPE = "reward_type"
    PRODUCT = "product"
    DENOMINATION_CHOICE = "denomination_choice"  # fixed products: pick a value
    DENOMINATION_AMOUNT = "denomination_amount"  # open products: type an amount
    RECIPIENTS = "recipients"
    # The phone box: a top-up's number (services/reward_types.py TOPUP_PHONE.field, which
    # the operator lookup follows) or the contact a product requires. A kind's other extra
    # fields are inputs whose block and action ids are their own names.
    PHONE = "phone"
    OPERATOR_CHECK = "operator_check"
    MESSAGE = "message"
    NOTIFY = "notify"
    APPROVE = "approve_request"
    REJECT = "reject_request"
    REASON = "reason"
    CANCEL = "cancel_request"  # the requester's Cancel on the Home tab
    COUNTRY = "country"  # the /reward form: where the gift cards searched are sold
    CHOOSE = "choose_reward"  # "Choose my reward", in the recipient's DM and Home
    # The recipient's choice modal: where they live, the gift card, its value.
    CHOICE_COUNTRY = "choice_country"
    CHOICE_PRODUCT = "choice_product"
    CHOICE_VALUE = "choice_value"  # a fixed value that fits
    CHOICE_AMOUNT = "choice_amount"  # an open amount, up to what fits
    # A workflow's runner confirms (or not) what its send_reward step asks (services/consent.py).
    CONSENT_SEND = "consent_send"
    CONSENT_DECLINE = "consent_decline"
    RESEND_CODE = "resend_code"  # the recipient's "Email my code again" (DM and Home)


class Block(StrEnum):
    """Input block ids; inline errors are keyed by these."""

    REWARD_TYPE = "reward_type"
    PRODUCT = "product"
    DENOMINATION_CHOICE = "denomination_choice"
    DENOMINATION_AMOUNT = "denomination_amount"
    RECIPIENTS = "recipients"
    # The phone box: a top-up's number (services/reward_types.py TOPUP_PHONE.field, which
    # the operator lookup follows) or the contact a product requires. A kind's other extra
    # fields are inputs whose block and action ids are their own names.
    PHONE = "phone"
    OPERATOR_CHECK = "operator_check"
    MESSAGE = "message"
    NOTIFY = "notify"
    REASON = "reason"
    DECISION = "decision"
    COUNTRY = "country"
    CHOICE_COUNTRY = "choice_country"
    CHOICE_PRODUCT = "choice_product"
    CHOICE_VALUE = "choice_value"
    CHOICE_AMOUNT = "choice_amount"
    CONSENT = "consent"


class Callback(StrEnum):
    REWARD = "reward_modal"
    REJECT = "reject_modal"
    CHOICE = "choice_modal"  # a recipient chooses their reward


COMMAND = "/reward"


class Step(StrEnum):
    """Workflow Builder custom steps (manifest `functions`)."""

    SEND_REWARD = "send_reward"
    REWARD_STATUS = "reward_status"


class Shortcut(StrEnum):
    """Message shortcuts (manifest `features.shortcuts`)."""

    REWARD_MESSAGE = "reward_message"
