"""The fake workspace's channels and the app's scopes: who may post where.

Slack's rules (https://docs.slack.dev/reference/methods/chat.postMessage, errors section;
https://docs.slack.dev/reference/scopes/chat.write.public): an app posts in a channel it is a
member of; in a public channel it is not in only with `chat:write.public`; otherwise
`not_in_channel`. An unknown id, or a private channel the app is not in, is
`channel_not_found`; an archived channel is `is_archived`. An announcement channel where only
admins post refuses the app with `restricted_action_read_only_channel`; a channel that takes
replies in threads only refuses a top-level post with `restricted_action_thread_only_channel`
(chat.postMessage's errors, as in slack-ruby/slack-api-ref methods/chat/chat.postMessage.json).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

# What manifest.yml asks for (tests/test_manifest.py keeps the two equal).
DEFAULT_SCOPES = frozenset(
    {"commands", "chat:write", "chat:write.public", "im:write", "users:read", "users:read.email"}
)
# The humans of the default directory (users.py): members of every default channel.
_PEOPLE = (
    "UREQUESTER",
    "UAPPROVER",
    "UAPPROVER2",
    "UANA",
    "UBEN",
    "UCHO",
    "UOTHER",
    "UNOMAIL",
)


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    bot_member: bool = False
    members: set[str] = field(default_factory=set)
    read_only: bool = False  # only admins post (an announcement channel)
    thread_only: bool = False  # posts only as replies in threads

    def public(self) -> dict[str, object]:
        """As conversations.info shows it (the parts the fake knows)."""
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_member": self.bot_member,
            "num_members": len(self.members) + int(self.bot_member),
        }


_DEFAULTS = [
    # Where people type /reward: public, and the bot was never invited (chat:write.public).
    Channel("CREWARDS", "rewards", members=set(_PEOPLE)),
    # The approvers' channel: private, so the bot has to be invited, and it was.
    Channel(
        "CAPPROVALS", "reward-approvals", is_private=True, bot_member=True, members=set(_PEOPLE)
    ),
    Channel("CGENERAL", "general", members=set(_PEOPLE)),
]


DEFAULT_CHANNEL_IDS = tuple(channel.id for channel in _DEFAULTS)


def default_channels() -> dict[str, Channel]:
    return {channel.id: copy.deepcopy(channel) for channel in _DEFAULTS}
