"""Leases on the tasks a run makes for itself: embedded and CLI ingests, and the Ray driver.

The server's queue hands its tasks out under leases that its workers renew
(:mod:`omnidex.server.workers`); a run in any other process holds the tasks it creates the same
way. Each is ``running`` under a lease owned by ``local:<host>:<pid>``, renewed by a heartbeat
thread while the run goes on. When the process dies (SIGKILL, a crash, the machine going down)
nobody renews it, and the next run, task listing or ``omnidex doctor`` finds it abandoned: at
once when its owner was a process of this host that is gone, else when its lease ran out. An
abandoned task is failed (``abandoned``) and its object, if still ``processing``, set back to
``pending``, so that the next ingest takes it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from omnidex.errors import StoreError
from omnidex.store.catalog import Catalog
from omnidex.types import TaskRecord

log = logging.getLogger(__name__)

LEASE_S = 60.0
"""How long a task stays ours without a heartbeat; renewed every third of that."""
ABANDONED = (
    "abandoned: the run that was ingesting it stopped (killed?) before it finished; "
    "ingest it again to resume"
)
_PREFIX = "local"


def local_owner() -> str:
    """The owner of the leases this process holds."""
    return f"{_PREFIX}:{socket.gethostname()}:{os.getpid()}"


def owner_gone(owner: str) -> bool:
    """Whether ``owner`` is a process of this host that no longer runs. Owners on other hosts,
    and those of another form, are judged by their lease alone."""
    prefix, _, rest = owner.partition(":")
    host, _, pid = rest.rpartition(":")
    if prefix != _PREFIX or host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process: alive
        return False
    return False


def settle_abandoned(catalog: Catalog, *, repair: bool = True) -> list[TaskRecord]:
    """Fail the tasks whose run died, their objects back to pending; the tasks failed (without
    ``repair``: found, and left as they are)."""
    settled = catalog.settle_abandoned_tasks(owner_gone, ABANDONED, repair=repair)
    if repair:
        for task in settled:
            log.warning("task %s was abandoned by the run that held it; now failed", task.id)
    return settled


class Leases:
    """The leases of one run, renewed by a heartbeat thread until :meth:`close`."""

    def __init__(self, catalog: Catalog, lease_s: float = LEASE_S) -> None:
        self.catalog = catalog
        self.lease_s = lease_s
        self.owner = local_owner()
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, task_id: str) -> None:
        """Start ``task_id`` (running, one more attempt) under this run's lease."""
        self.catalog.hold_task(task_id, self.owner, self.lease_s)
        with self._lock:
            self._held.add(task_id)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._beat, name="omnidex-leases", daemon=True
                )
                self._thread.start()

    def close(self) -> None:
        """Stop the heartbeat (a later :meth:`hold` starts it again)."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._held.clear()
        self._stop.set()
        if thread is not None:
            thread.join()
        self._stop = threading.Event()

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            with self._lock:
                held = list(self._held)
            for task_id in held:
                try:
                    if not self.catalog.renew_lease(task_id, self.owner, self.lease_s):
                        with self._lock:  # settled, or taken as abandoned
                            self._held.discard(task_id)
                except StoreError as exc:  # tried again at the next beat
                    log.warning("task %s: lease not renewed: %s", task_id, exc.message)
