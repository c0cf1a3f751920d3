"""Every Slack error has a class: retry later, give up this target (with a fallback), or fix
the message. Nothing permanent is retried for a day and a half.

GONE: the target (a person, a channel) can never take this message; the caller falls back
(approval channel → the approvers by DM; status channel → the requester's DM) and tells the
requester once. FIX: Slack refused what we built; retrying the same payload never helps (the
builders split long content so these cannot happen; one showing up is a bug, logged as an
error). Anything else (rate limits are handled before this, by the pacer) is LATER.
Sources: the errors sections of docs.slack.dev/reference/methods/chat.postMessage,
chat.update, views.publish and conversations.open; ../shared/slack-platform.md §7.
"""

from __future__ import annotations

from enum import StrEnum

# What each answer means to the requester when it is theirs to know.
GONE: dict[str, str] = {
    "not_in_channel": "the bot is not a member of that channel",
    "channel_not_found": "the bot cannot see that channel",
    "is_archived": "the channel is archived",
    "restricted_action": "the workspace does not let the bot post there",
    "restricted_action_read_only_channel": "only admins may post in that channel",
    "restricted_action_thread_only_channel": "that channel takes replies in threads only",
    "restricted_action_thread_locked": "that thread is locked",
    "restricted_action_non_threadable_channel": "that channel takes no threads",
    "user_disabled": "their Slack account is deactivated",
    "account_inactive": "the account is inactive",
    "cannot_dm_bot": "it is a bot",
    "user_not_found": "Slack does not know this person",
    "users_not_found": "Slack does not know this person",
    "messages_tab_disabled": "the bot's Messages tab is turned off",
    "not_enabled": "the Home tab is turned off for this app",
    # functions.completeError of a workflow step that ended (or that Slack no longer knows)
    "execution_not_in_running_state": "the workflow step has ended already",
    "function_execution_not_found": "Slack no longer knows the workflow step",
}
FIX = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_arguments",
        "msg_too_long",
        "msg_blocks_too_long",
        "too_many_attachments",
        "no_text",
        "missing_scope",
        "view_too_large",
        "invalid_attachments",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
    }
)


class ErrorClass(StrEnum):
    LATER = "later"
    GONE = "gone"
    FIX = "fix"


def classify(error: str) -> ErrorClass:
    if error in GONE:
        return ErrorClass.GONE
    if error in FIX:
        return ErrorClass.FIX
    return ErrorClass.LATER
