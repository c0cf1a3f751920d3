"""`rewards-bot run`: the Slack app, its HTTP endpoints and the worker, in one process.

HTTP mode serves `POST /slack/events`, `POST /xoxoday/webhook`, `GET /healthz` and
`GET /metrics` (unless REWARDS_METRICS=off) on waitress. With SLACK_APP_TOKEN set, Slack's
requests arrive over Socket Mode instead and the same server keeps serving the rest.
"""

from __future__ import annotations

import hmac
import io
import logging
import signal
import threading
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import SignatureVerifier

from bot.config import ConfigError, Settings, is_loopback, is_loopback_address
from bot.metrics import build_registry, metrics_app
from bot.runtime import Runtime, build_runtime
from handlers.app import BACKGROUND_THREADS, LoggedExecutor, build_app, delivery_client, web_client
from handlers.delivery import DeliveryRoom
from handlers.deps import Deps
from handlers.home import HomeTabs
from handlers.notifier import SlackNotifier, digest_gather
from handlers.people import SlackPeople
from handlers.sender import SlackSender
from handlers.users import UserDirectory
from plumbing.httpserver import CONNECTION_LIMIT, ServerThread
from plumbing.wsgi import Request, StartResponse, json_response
from services.home import HomeService
from services.intake import auto_approve
from services.metrics import Instruments
from services.notices import Notices
from services.operators import OperatorCheck
from services.outbox import Outbox
from services.pacing import Pacer
from storage import orders as order_store

log = logging.getLogger("rewards-bot")
HTTP_THREADS = 32
# Headers a proxy, tunnel or CDN adds on someone else's behalf (WSGI names; any
# X-Forwarded-* too): RFC 7239 Forwarded, the de facto X-Forwarded-For / X-Real-IP, Via
# (RFC 9110 §7.6.3), and the client-address headers of common CDNs and tunnels.
FORWARDING_HEADERS = (
    "HTTP_FORWARDED",
    "HTTP_X_REAL_IP",
    "HTTP_VIA",
    "HTTP_CF_CONNECTING_IP",
    "HTTP_TRUE_CLIENT_IP",
    "HTTP_X_CLIENT_IP",
    "HTTP_X_CLUSTER_CLIENT_IP",
    "HTTP_FASTLY_CLIENT_IP",
)


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


@dataclass
class Bot:
    runtime: Runtime
    app: App
    room: DeliveryRoom
    background: LoggedExecutor
    deps: Deps
    registry: CollectorRegistry

    def wsgi(self, *, with_slack: bool = True) -> Any:
        slack = SlackRequestHandler(self.app) if with_slack else None
        verifier = SignatureVerifier(_secret(self.runtime.settings.slack_signing_secret))
        runtime = self.runtime
        metrics = metrics_app(self.registry) if runtime.settings.rewards_metrics != "off" else None

        def slack_events(environ: dict[str, Any], start_response: StartResponse) -> Any:
            # Checked here as well as in Bolt, because Bolt parses the body before it checks
            # the signature: forged junk must get a 401, not a parse error.
            req = Request.from_environ(environ)
            try:
                valid = verifier.is_valid(
                    body=req.body.decode("utf-8"),
                    timestamp=req.headers.get("x-slack-request-timestamp", ""),
                    signature=req.headers.get("x-slack-signature", ""),
                )
            except ValueError:  # not UTF-8, or a timestamp that is not a number
                valid = False
            if not valid:
                return json_response(start_response, 401, {"error": "invalid signature"})
            environ["wsgi.input"] = io.BytesIO(req.body)
            environ["CONTENT_LENGTH"] = str(len(req.body))
            try:
                return slack(environ, start_response)  # type: ignore[misc]
            except ValueError:  # signed, yet not a Slack payload
                return json_response(start_response, 400, {"error": "not a Slack payload"})

        def application(environ: dict[str, Any], start_response: StartResponse) -> Any:
            path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
            if path == "/slack/events" and slack is not None:
                return slack_events(environ, start_response)
            if path == "/xoxoday/webhook" and method == "POST":
                req = Request.from_environ(environ)
                status, body = runtime.webhooks.handle(req.headers, req.body)
                return json_response(start_response, status, body)
            if path == "/healthz" and method == "GET":
                return json_response(start_response, *self.health())
            if path == "/metrics" and method == "GET" and metrics is not None:
                if not self.may_scrape(environ):
                    return json_response(
                        start_response,
                        403,
                        {"error": "metrics answer this machine, or a bearer REWARDS_METRICS_TOKEN"},
                    )
                return metrics(environ, start_response)
            return json_response(start_response, 404, {"error": "not found"})

        return application

    def may_scrape(self, environ: dict[str, Any]) -> bool:
        """/metrics shows the wallet balance and the worker's host, and this port faces the
        internet in HTTP mode (Slack must reach /slack/events): without REWARDS_METRICS_TOKEN
        only a direct connection from this machine is answered (a scraper or an agent beside
        the bot); with it, a client that presents it as a bearer token, compared in constant
        time. A reverse proxy or tunnel on this machine (the README suggests one) connects
        from 127.0.0.1 on behalf of anyone, so a request carrying a forwarding header is not
        direct, whatever address it comes from."""
        token = _secret(self.runtime.settings.rewards_metrics_token)
        if token:
            given = str(environ.get("HTTP_AUTHORIZATION") or "")
            return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
        if any(key in environ for key in FORWARDING_HEADERS) or any(
            key.startswith("HTTP_X_FORWARDED_") for key in environ
        ):
            return False
        return is_loopback_address(str(environ.get("REMOTE_ADDR") or ""))

    def health(self) -> tuple[int, dict[str, Any]]:
        """Whether the bot and its worker are healthy, and nothing else: the route answers
        anyone, so it tells no counts, states or hosts (the operator's are in /metrics)."""
        try:
            order_store.count_by_state(self.runtime.database)  # reads a few rows
        except Exception:  # the database is the one thing we cannot run without
            log.warning("health check: the database did not answer", exc_info=True)
            return 503, {"ok": False}
        ok = self.runtime.worker.status in ("active", "standby")
        return (200 if ok else 503), {"ok": ok}

    def start(self) -> None:
        self.deps.users.start()  # reads Slack's directory in the background, and keeps it fresh
        self.runtime.worker.start()
        self.room.start()
        # Requests recorded as auto-approvable just before a stop are approved now.
        for request_id in self.runtime.rewards.stranded_auto_approvals():
            self.background.submit(auto_approve, self.runtime.rewards, request_id)

    def stop(self) -> None:
        self.runtime.worker.stop(timeout=30)  # lets in-flight placements finish and be stored
        self.background.shutdown(wait=True, cancel_futures=False)
        self.room.run_until_idle(timeout=5)  # what the last placements owe, if Slack is quick
        self.room.stop()
        self.deps.users.stop()
        self.runtime.close()


def build_home_tabs(runtime: Runtime, client: Any, outbox: Outbox) -> HomeTabs:
    """The App Home of each person, from the runtime's services."""
    service = HomeService(
        runtime.database,
        runtime.policy,
        runtime.deciders,
        runtime.delegations,
        wallet_view=runtime.wallet.cached_view,
        currency=runtime.wallet.known_currency,
        low_balance=runtime.settings.rewards_low_balance,
    )
    return HomeTabs(
        client,
        Notices(runtime.database),
        outbox,
        service,
        refresh_wallet=lambda: runtime.wallet.balance(max_age_s=60),
    )


def attach_slack_notifier(runtime: Runtime, users: UserDirectory) -> DeliveryRoom:
    """Events go to Slack from here on (with Slack's own cursor, apart from the log's), through
    the delivery room: its own threads, its own paced client."""
    settings = runtime.settings
    pacer = Pacer(runtime.database)
    client = delivery_client(
        _secret(settings.slack_bot_token),
        settings.slack_api_url,
        pacer,
        on_error=runtime.metrics.slack_error,
    )
    notices = Notices(runtime.database)
    outbox = Outbox(runtime.database)
    home = build_home_tabs(runtime, client, outbox)
    sender = SlackSender(
        client,
        notices,
        outbox,
        runtime.vouchers,
        runtime.policy,
        users=users,
        approval_channel=settings.rewards_approval_channel,
        deciders=runtime.deciders,
        delegations=runtime.delegations,
        duplicates=runtime.duplicates,
        home=home,
        visibility=runtime.rewards.visibility,
    )
    notifier = SlackNotifier(
        outbox,
        notices,
        runtime.policy,
        deciders=runtime.deciders,
        delegations=runtime.delegations,
        digest_gather_s=digest_gather(settings.rewards_remind_after.total_seconds()),
    )
    runtime.dispatcher.use(notifier, "slack")
    worker = runtime.worker

    def holds_lease() -> bool:
        # Only the process whose worker holds the lease sends (or none holds it: a stop).
        return (worker.lease.holder_info() or {}).get("holder") in (worker.name, None)

    room = DeliveryRoom(runtime.dispatcher, outbox, sender, pacer, active=holds_lease)
    runtime.notifications = room
    return room


def build_bot(settings: Settings, **runtime_options: Any) -> Bot:
    """Everything `run` needs, without starting anything (tests and the demo use it too)."""
    settings.require("slack_bot_token", "slack_signing_secret")
    token = _secret(settings.slack_bot_token)
    metrics = Instruments()
    client = web_client(token, settings.slack_api_url, on_error=metrics.slack_error)
    # One directory: filled with users.list by `client`; recipients (and deciders, see
    # SlackPeople) missing from it are looked up before an ack with a client that never
    # waits long.
    users = UserDirectory(
        client,
        quick_client=web_client(
            token, settings.slack_api_url, quick=True, on_error=metrics.slack_error
        ),
    )
    runtime = build_runtime(settings, people=SlackPeople(users), metrics=metrics, **runtime_options)
    room = attach_slack_notifier(runtime, users)
    background = LoggedExecutor(BACKGROUND_THREADS, thread_name_prefix="after-ack")
    deps = Deps(
        rewards=runtime.rewards,
        catalog=runtime.catalog,
        wallet=runtime.wallet,
        policy=runtime.policy,
        users=users,
        operators=OperatorCheck(runtime.client),
        background=background,
        delegations=runtime.delegations,
        duplicates=runtime.duplicates,
        home=room.sender.home,
        choices=runtime.choices,
        default_country=settings.default_country,
        consents=runtime.consents,
        resends=runtime.resends,
    )
    app = build_app(
        client, _secret(settings.slack_signing_secret), deps, on_slack_error=metrics.slack_error
    )
    registry = build_registry(runtime.database, metrics.registry, runtime.wallet.last_known)
    return Bot(
        runtime=runtime,
        app=app,
        room=room,
        background=background,
        deps=deps,
        registry=registry,
    )


def _check_slack_token(bot: Bot) -> None:
    """auth.test once: a refused token or an unreachable Slack is one line, not a traceback."""
    try:
        identity = bot.app.client.auth_test()
    except SlackApiError as exc:
        raise ConfigError(
            f"SLACK_BOT_TOKEN was refused by Slack ({exc.response.get('error')})"
        ) from None
    except (SlackClientError, OSError) as exc:  # refused, timed out, DNS, TLS…
        raise ConfigError(
            f"SLACK_API_URL: Slack is not reachable at {bot.app.client.base_url} ({_why(exc)})"
        ) from None
    log.info("connected to Slack as %s in %s", identity.get("user"), identity.get("team"))


def _why(exc: BaseException) -> str:
    """The innermost reason of a connection failure, without a traceback."""
    reason = getattr(exc, "reason", None) or exc
    text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return text.strip().rstrip(".")


def _warm_up(bot: Bot) -> None:
    """Fill the caches the handlers read, so the first /reward finds a catalog (the refresh
    runs on a thread of its own: a large catalog takes minutes)."""
    try:
        bot.runtime.wallet.balance()
        bot.runtime.catalog.refresh_if_stale()
    except Exception as exc:
        log.warning("could not reach Xoxoday at start-up (%s); will retry on use", exc)


def _connect_socket(handler: Any) -> None:
    try:
        handler.connect()
    except SlackApiError as exc:  # apps.connections.open refused the app-level token
        raise ConfigError(
            f"SLACK_APP_TOKEN was refused by Slack ({exc.response.get('error')})"
        ) from None
    except (SlackClientError, OSError) as exc:
        raise ConfigError(f"SLACK_APP_TOKEN: Socket Mode could not connect ({_why(exc)})") from None


def _allow_open_files(wanted: int) -> None:
    """Raise this process's soft limit on open files (often 1024) toward `wanted`."""
    try:
        import resource
    except ImportError:  # not on this platform
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < wanted:
        log.warning("only %s open files allowed: fewer connections can be served", target)


def run_bot(settings: Settings) -> int:
    bot = build_bot(settings)
    _check_slack_token(bot)
    if settings.xoxoday_webhook_key is None:
        log.warning("XOXODAY_WEBHOOK_KEY is not set: webhooks are refused, deliveries are polled")
    if is_loopback(settings.xoxoday_base_url) and not is_loopback(settings.slack_api_url):
        log.warning(
            "XOXODAY_BASE_URL is on this machine (the bundled simulator?): rewards sent in "
            "this Slack workspace are not real"
        )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    socket_mode = settings.slack_app_token is not None
    routes = bot.wsgi(with_slack=not socket_mode)
    _allow_open_files(CONNECTION_LIMIT + 256)  # each connection is a descriptor
    server = ServerThread(routes, settings.host, settings.port, HTTP_THREADS)
    bot.background.submit(_warm_up, bot)
    bot.start()
    server.start()
    handler = None
    try:  # a refused app token must still stop the worker and the server below
        if socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            handler = SocketModeHandler(bot.app, _secret(settings.slack_app_token))
            _connect_socket(handler)
            log.info(
                "Socket Mode connected; webhook and health check on port %s (%s)",
                server.port,
                settings.host,
            )
        else:
            log.info(
                "listening on port %s (%s) for /slack/events, /xoxoday/webhook, /healthz%s",
                server.port,
                settings.host,
                ", /metrics" if settings.rewards_metrics != "off" else "",
            )
        while not stop.wait(1.0):
            pass
    finally:
        log.info("stopping: finishing the orders in flight")
        if handler is not None:
            handler.close()
        server.stop()
        bot.stop()
    return 0
