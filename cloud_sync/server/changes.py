"""How a console hears that its community's alerts changed, whichever server process
changed them.

On PostgreSQL a trigger on the alerts table calls pg_notify on every insert and update
(cloud_sync.server.schema), and each process keeps one connection LISTENing: a change
made by any process reaches every console within milliseconds, with no polling of the
database. On SQLite (one file, a trial) the consoles ask the database for the community's
alert version a few times a second instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from cloud_sync.server.db import pool_setting

CHANNEL = "edge_hub_alerts"
_log = logging.getLogger("cloud_sync.server.changes")


class PolledChanges:
    """SQLite: the version is the database's own (count and latest change)."""

    def __init__(self, version: Callable[[str], tuple[int, float]]) -> None:
        self._version = version
        self.check_s = 0.25

    def version(self, community: str) -> object:
        return self._version(community)

    def start(self) -> None:
        """Nothing runs in the background: each check asks the database."""

    def stop(self) -> None:
        """Nothing runs in the background to stop."""


class ListenedChanges:
    """PostgreSQL: a counter per community, moved by the notifications the trigger sends."""

    def __init__(self, url: str) -> None:
        self.url, _ = pool_setting(url)  # its own connection, outside the store's pool
        self.check_s = 0.05  # only memory is read: cheap
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="server-listen", daemon=True)

    def version(self, community: str) -> object:
        with self._lock:
            return self._counts.setdefault(community, 0)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _listen(self) -> None:
        import psycopg

        while not self._stopped.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._bump_all()  # anything missed while not listening
                    while not self._stopped.is_set():
                        for notice in conn.notifies(timeout=0.5):
                            self._bump(notice.payload)
            except psycopg.Error as error:
                _log.warning("Lost the PostgreSQL connection that hears alert changes (%s); "
                             "consoles are told of every community until it is back, trying "
                             "again in 1 s.", error)
                self._bump_all()
                self._stopped.wait(1.0)

    def _bump(self, community: Any) -> None:
        with self._lock:
            self._counts[str(community)] = self._counts.get(str(community), 0) + 1

    def _bump_all(self) -> None:
        with self._lock:
            for community in self._counts:
                self._counts[community] += 1
