"""A local Slack stand-in: a fake Web API the bot's WebClient talks to, and a driver that sends
the bot signed requests as people in Slack would (commands, clicks, modal input, submissions).

    fake = start_fake_slack()                     # bot: SLACK_API_URL=fake.api_url
    driver = SlackDriver(bot_url, signing_secret, fake)
    driver.command("UREQUESTER", "@ana 500 for the launch")
    view = fake.latest_view("UREQUESTER")
    fake.stop()

Workflow steps: `driver.run_step("send_reward", inputs, runner="UREQUESTER")` sends
function_executed; `fake.execution(id)` says how the app ended it. A message shortcut:
`driver.message_shortcut(user, fake.post_as(author, channel, text), "reward_message")`.

Socket Mode: `start_fake_slack(app_token="xapp-demo")`, the bot connects with that app token,
then `SocketDriver(fake)` sends the same interactions as envelopes and returns the acks.
"""

from simulator.slack.blocks import plain_text
from simulator.slack.driver import SlackDriver, SocketDriver
from simulator.slack.fake import Call, FakeSlack, RunningFakeSlack, start_fake_slack
from simulator.slack.socket_mode import SOCKET_ACK, SocketModeServer
from simulator.slack.users import BOT_USER_ID, TEAM_ID, default_users, make_user
from simulator.slack.workspace import APP_ID

__all__ = [
    "APP_ID",
    "BOT_USER_ID",
    "SOCKET_ACK",
    "TEAM_ID",
    "Call",
    "FakeSlack",
    "RunningFakeSlack",
    "SlackDriver",
    "SocketDriver",
    "SocketModeServer",
    "default_users",
    "make_user",
    "plain_text",
    "start_fake_slack",
]
