"""A Xoxoday Plum Pro API simulator: a real HTTP server close enough to Xoxoday for the bot's
client, tests and demo (envelope quirks, OAuth rotation, orders, webhooks, limits, faults).

    sim = start(SimConfig(delivery_delay_s=-1))   # a free port on 127.0.0.1
    # point the client at sim.base_url with DEMO_CREDENTIALS; steer it through sim.url + "/_sim/..."
    sim.stop()
"""

from simulator.xoxoday.app import SimulatorApp
from simulator.xoxoday.config import SimConfig, add_arguments, config_from_args
from simulator.xoxoday.server import RunningSimulator, serve, start
from simulator.xoxoday.tokens import DEMO_CREDENTIALS

__all__ = [
    "DEMO_CREDENTIALS",
    "RunningSimulator",
    "SimConfig",
    "SimulatorApp",
    "add_arguments",
    "config_from_args",
    "serve",
    "start",
]
