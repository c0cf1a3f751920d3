"""The suites reuse the runtime and Slack-stack fixtures of the lifecycle and Slack tests."""

from tests.lifecycle.conftest import make_runtime
from tests.slack.conftest import fake_slack, make_stack, stack

__all__ = ["fake_slack", "make_runtime", "make_stack", "stack"]
