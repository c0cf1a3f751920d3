"""What travels inside Slack payloads (private_metadata, button values), as typed models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Meta(BaseModel):
    model_config = ConfigDict(extra="ignore")

    def dump(self) -> str:
        text = self.model_dump_json(exclude_none=True)
        assert len(text) <= 3000, "private_metadata is limited to 3000 characters"
        return text

    @classmethod
    def load(cls, text: str | None):  # type: ignore[no-untyped-def]
        """Parse, or None when the payload is not ours (old view, forged value)."""
        try:
            return cls.model_validate_json(text or "")
        except ValidationError:
            return None


class RewardModalMeta(_Meta):
    channel_id: str | None = None  # where /reward was typed: the status goes there
    reward_type: str = "gift_card"
    product_id: int | None = None


class RequestRef(_Meta):
    """A button's value: which request it decides."""

    request_id: int = Field(gt=0)


class RejectModalMeta(_Meta):
    request_id: int = Field(gt=0)
