"""Who receives a reward from a chat: members looked up quickly enough to answer Slack, and
checked (active, a person, an email the order can carry). The chat side implements `Members`
(handlers.users.UserDirectory); the intake (services/intake.py) asks it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol


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


def check_members(
    directory: Members | None, requester_id: str, members: list[str]
) -> tuple[list[tuple[str | None, str | None, str | None]], str | None]:
    """(member id, name, email) of each member who can receive a reward, and one sentence
    naming those who cannot (None when all can)."""
    if directory is None:
        return [], "Members of the workspace cannot be looked up here."
    # One concurrent round of lookups under a deadline, the requester's too: an answer to
    # Slack waits on it at most the directory's deadline, however many recipients.
    found = directory.lookup([*members, requester_id])
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
