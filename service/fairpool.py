"""A bounded thread pool that serves its owners in turn, each with a cap on tasks running at once.

Used for img_url downloads: one user's 45 hanging URLs occupy at most ``per_owner`` threads, and
another user's next download starts as soon as any thread is free.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)
Task = Callable[[], None]


class FairPool:
    def __init__(self, threads: int, per_owner: int, name: str) -> None:
        self.threads, self.per_owner, self.name = threads, per_owner, name
        self._ready = threading.Condition()
        self._pending: dict[str, deque[Task]] = {}
        self._turns: deque[str] = deque()  # owners with pending tasks, in serving order
        self._running: dict[str, int] = {}
        self._stopped = False

    def start(self) -> None:
        for index in range(self.threads):
            threading.Thread(target=self._serve, name=f"{self.name}-{index}", daemon=True).start()

    def stop(self) -> None:
        with self._ready:
            self._stopped = True
            self._ready.notify_all()

    def submit(self, owner: str, task: Task) -> None:
        with self._ready:
            if owner not in self._pending:
                self._pending[owner] = deque()
                self._turns.append(owner)
            self._pending[owner].append(task)
            self._ready.notify()

    def pending(self, owner: str) -> int:
        with self._ready:
            return len(self._pending.get(owner, ())) + self._running.get(owner, 0)

    def _next(self) -> tuple[str, Task] | None:
        for _ in range(len(self._turns)):
            owner = self._turns[0]
            self._turns.rotate(-1)
            if self._running.get(owner, 0) < self.per_owner:
                task = self._pending[owner].popleft()
                if not self._pending[owner]:
                    del self._pending[owner]
                    self._turns.remove(owner)
                self._running[owner] = self._running.get(owner, 0) + 1
                return owner, task
        return None

    def _serve(self) -> None:
        while True:
            with self._ready:
                while not self._stopped and (chosen := self._next()) is None:
                    self._ready.wait()
                if self._stopped:
                    return
            owner, task = chosen
            try:
                task()
            except Exception:  # a task reports its own failure; the pool never loses a thread
                log.exception("%s task for %s failed", self.name, owner)
            finally:
                with self._ready:
                    self._running[owner] -= 1
                    if not self._running[owner]:
                        del self._running[owner]
                    self._ready.notify_all()
