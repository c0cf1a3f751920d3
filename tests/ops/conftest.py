"""The lifecycle suite's runtime fixtures: a real SQLite file and services against the
shared simulator."""

from tests.lifecycle.conftest import make_runtime, runtime  # noqa: F401
