"""Whether networks are running in this process: background compiles wait for a quiet moment."""

from __future__ import annotations

import threading
import time

QUIET_SECONDS = 0.5  # background compiles wait until no network has run for this long (tiles run back to back)


class _Activity:
    """Inferences in flight in this process, and when the last one ended."""

    def __init__(self) -> None:
        self.running, self.ended, self.lock = 0, 0.0, threading.Lock()

    def __enter__(self) -> None:
        with self.lock:
            self.running += 1

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.running -= 1
            self.ended = time.monotonic()

    def wait_quiet(self) -> None:
        while True:
            with self.lock:
                left = 0.0 if self.running else self.ended + QUIET_SECONDS - time.monotonic()
                if not self.running and left <= 0:
                    return
            time.sleep(QUIET_SECONDS if self.running else left)


ACTIVITY = _Activity()
