"""Slack users as the bot needs them (a name, an email, active or not), from a directory kept
in memory so that no answer to Slack waits on one Web API call per person.

Slack answers a call in 100-400 ms and a modal submission must be answered within 3 s
(docs.slack.dev/interactivity/handling-user-interaction#acknowledgment_response), so:

* the whole directory is read with users.list (Tier 2: 20 calls a minute, pages of 200, the
  size Slack recommends; docs.slack.dev/reference/methods/users.list) when the bot starts and
  every REFRESH_S after that, in the background, with the client that honours Retry-After;
* a person not in it (they joined since) is looked up with users.info on a miss;
  `lookup()` runs the misses of one submission concurrently and waits for them at most
  LOOKUP_DEADLINE_S, which leaves the ack well inside 3 s. A lookup that misses the deadline
  goes on in the background and fills the directory, so a second try finds the person at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

CACHE_S = 3600.0  # an entry is trusted this long; the refresh renews it every REFRESH_S
REFRESH_S = 600.0
RETRY_REFRESH_S = 60.0  # after a failed refresh
NOT_FOUND_S = 60.0  # "no such user" is remembered briefly
PAGE_SIZE = 200
LOOKUP_DEADLINE_S = 1.5  # users.info before an ack: the rest of a submission takes far less
LOOKUP_THREADS = 25  # 50 recipients in two rounds of Slack's latency


@dataclass(frozen=True)
class SlackUser:
    id: str
    name: str
    email: str | None
    is_bot: bool = False
    deleted: bool = False


@dataclass
class Lookup:
    """People looked up for one answer to Slack."""

    users: dict[str, SlackUser] = field(default_factory=dict)  # found, active or not
    missing: list[str] = field(default_factory=list)  # Slack does not know them
    late: list[str] = field(default_factory=list)  # not known in time: Slack slow or failing


def _user(data: dict[str, Any]) -> SlackUser:
    profile = data.get("profile") or {}
    return SlackUser(
        id=data["id"],
        name=profile.get("real_name") or data.get("real_name") or data.get("name") or data["id"],
        email=profile.get("email") or None,
        is_bot=bool(data.get("is_bot")) or data["id"] == "USLACKBOT",
        deleted=bool(data.get("deleted")),
    )


class UserDirectory:
    """`client` may wait (retries, Retry-After): the refresh and lookups after an ack use it.
    `quick_client` never waits long: users.info before an ack (default: `client`)."""

    def __init__(
        self,
        client: WebClient,
        *,
        quick_client: WebClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        refresh_s: float = REFRESH_S,
        threads: int = LOOKUP_THREADS,
    ) -> None:
        self.client = client
        self.quick_client = quick_client or client
        self.refresh_s = refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, SlackUser | None]] = {}
        self._emails: dict[str, str] = {}  # lower-cased email -> user id
        self._no_email: dict[str, float] = {}  # emails Slack did not know, and when
        self._pending: dict[str, Future[SlackUser | None]] = {}
        self._threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None
        self.refreshed_at: float | None = None

    # ---- the background refresh ------------------------------------------------------------

    def start(self) -> None:
        """Read the directory now and every `refresh_s`, on a thread of its own."""
        if self._refresher is not None:
            return
        self._stop.clear()
        self._refresher = threading.Thread(
            target=self._refresh_loop, name="users-list", daemon=True
        )
        self._refresher.start()

    def stop(self) -> None:
        self._stop.set()
        if self._refresher is not None:
            self._refresher.join(timeout=5)
            self._refresher = None
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _refresh_loop(self) -> None:
        while not self._stop.is_set():
            try:
                count = self.refresh()
            except Exception as exc:  # Slack down or the token refused: keep serving the cache
                log.warning("could not read the Slack directory (%s); trying again soon", exc)
                delay = RETRY_REFRESH_S
            else:
                log.info("Slack directory read: %d people", count)
                delay = self.refresh_s
            self._stop.wait(delay)

    def refresh(self) -> int:
        """users.list, every page; returns how many people it listed."""
        cursor: str | None = None
        count = 0
        while not self._stop.is_set():
            page = self.client.users_list(limit=PAGE_SIZE, cursor=cursor)
            now = self._clock()
            found = [_user(m) for m in page.get("members") or [] if m.get("id")]
            with self._lock:
                for user in found:
                    self._remember(user, now)
            count += len(found)
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                self.refreshed_at = now
                break
        return count

    def _remember(self, user: SlackUser | None, now: float, user_id: str | None = None) -> None:
        """Store an entry (the lock is held)."""
        key = user.id if user is not None else user_id
        if key is None:
            return
        self._cache[key] = (now, user)
        if user is not None and user.email:
            self._emails[user.email.lower()] = user.id

    # ---- lookups ---------------------------------------------------------------------------

    def known(self, user_id: str) -> SlackUser | None:
        """The directory's entry, without calling Slack (None: not known, or no such user)."""
        with self._lock:
            hit = self._cache.get(user_id)
        return hit[1] if hit is not None else None

    def _cached(
        self, user_id: str, max_age_s: float | None = None
    ) -> tuple[bool, SlackUser | None]:
        with self._lock:
            return self._cached_locked(user_id, max_age_s)

    def _cached_locked(
        self, user_id: str, max_age_s: float | None = None
    ) -> tuple[bool, SlackUser | None]:
        hit = self._cache.get(user_id)
        if hit is None:
            return False, None
        at, user = hit
        ttl = CACHE_S if user is not None else NOT_FOUND_S
        if max_age_s is not None:
            ttl = min(ttl, max_age_s)
        return self._clock() - at < ttl, user

    def _fetch(self, user_id: str) -> SlackUser | None:
        """users.info; None when Slack does not know the user. Errors propagate."""
        try:
            data = self.quick_client.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            if exc.response.get("error") not in ("user_not_found", "user_not_visible"):
                raise
            user = None
        else:
            user = _user(data)
        with self._lock:
            self._remember(user, self._clock(), user_id)
        return user

    def get(self, user_id: str, max_age_s: float | None = None) -> SlackUser | None:
        """The user (from the directory, else users.info), or None when Slack does not know
        them; `max_age_s=0` always asks Slack. Slack's errors propagate."""
        fresh, user = self._cached(user_id, max_age_s)
        return user if fresh else self._fetch(user_id)

    def _submit(self, user_id: str) -> Future[SlackUser | None]:
        with self._lock:
            running = self._pending.get(user_id)
            if running is not None:
                return running  # one users.info per person, however many ask
            fresh, user = self._cached_locked(user_id)
            if fresh:  # answered since the caller looked: no second call
                done: Future[SlackUser | None] = Future()
                done.set_result(user)
                return done
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="users-info")
            future = self._pool.submit(self._fetch, user_id)
            self._pending[user_id] = future
        future.add_done_callback(lambda _f: self._done(user_id))
        return future

    def _done(self, user_id: str) -> None:
        with self._lock:
            self._pending.pop(user_id, None)

    def lookup(self, user_ids: Iterable[str], deadline_s: float = LOOKUP_DEADLINE_S) -> Lookup:
        """Everyone in `user_ids`, from the directory, with users.info for the misses run
        concurrently; waits at most `deadline_s` for Slack. Whoever Slack did not describe in
        time (slow, rate-limited, failing) is `late`; their lookup goes on in the background."""
        result = Lookup()
        misses: dict[str, Future[SlackUser | None]] = {}
        for user_id in dict.fromkeys(user_ids):
            fresh, user = self._cached(user_id)
            if not fresh:
                misses[user_id] = self._submit(user_id)
            elif user is None:
                result.missing.append(user_id)
            else:
                result.users[user_id] = user
        if misses:
            wait(misses.values(), timeout=deadline_s)
        for user_id, future in misses.items():
            if not future.done() or future.cancelled() or future.exception() is not None:
                result.late.append(user_id)
                if future.done() and not future.cancelled():
                    log.warning("users.info for %s failed: %s", user_id, future.exception())
            elif (user := future.result()) is None:
                result.missing.append(user_id)
            else:
                result.users[user_id] = user
        return result

    def by_email(self, email: str) -> str | None:
        """The Slack user id for an email (recipients who came from a CSV file), or None when
        Slack says nobody has it. Slack's other errors propagate: the caller tries again later.

        Used after the ack, so it may wait: the directory is read first when it is older than
        `refresh_s` (a worker without the background refresh, a bulk import of hundreds), then
        users.lookupByEmail (Tier 3: 50 a minute) only for an email still unknown, and an
        email Slack does not know is not asked about again until the next read."""
        key = email.strip().lower()
        now = self._clock()
        with self._lock:
            found = self._emails.get(key)
            missed = self._no_email.get(key)
        if found is not None:
            return found
        if missed is not None and now - missed < self.refresh_s:
            return None
        if self.refreshed_at is None or now - self.refreshed_at >= self.refresh_s:
            try:
                self.refresh()
            except Exception as exc:
                log.warning("could not read the Slack directory (%s)", exc)
            with self._lock:
                found = self._emails.get(key)
            if found is not None:
                return found
        try:
            data = self.client.users_lookupByEmail(email=email)["user"]
        except SlackApiError as exc:
            if exc.response.get("error") != "users_not_found":
                raise  # Slack failed to answer: that says nothing about the person
            with self._lock:
                self._no_email[key] = self._clock()
            return None
        user = _user(data)
        with self._lock:
            self._remember(user, self._clock())
        return user.id
