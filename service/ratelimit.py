"""Per-key (or per-address) limits per minute and per month, with the spec's headers.

Counting uses the `limits` library's storage: in process memory (one server process), or Redis
(``STUDIO_REDIS_URL``: every API process counts on the same keys with atomic increments). The
count returned by the increment itself gives each response its exact remaining quota, even
under concurrency.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerMonth
from limits.storage import MemoryStorage, Storage, storage_from_string


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    headers: dict[str, str]
    retry_after: int = 0


class RateLimiter:
    def __init__(self, storage: Storage | None = None) -> None:
        self.storage = storage or MemoryStorage()

    @classmethod
    def at(cls, redis_url: str | None) -> RateLimiter:
        """Counters shared by every process through Redis, or this process's memory."""
        return cls(storage_from_string(redis_url) if redis_url else None)

    def _take(self, item: RateLimitItem, identity: str, window: str) -> tuple[bool, int, float]:
        key = item.key_for(identity, window)
        count = self.storage.incr(key, item.get_expiry())
        reset = self.storage.get_expiry(key)
        return count <= item.amount, max(0, item.amount - count), reset

    def hit(self, identity: str, per_minute: int, per_month: int | None) -> Verdict:
        minute = RateLimitItemPerMinute(per_minute)
        allowed, remaining, reset = self._take(minute, identity, "minute")
        headers = {"X-RateLimit-Limit": str(per_minute), "X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(math.ceil(reset))}
        retry_at = reset
        if per_month is None:
            headers |= {"X-RateLimit-Limit-Month": "unlimited", "X-RateLimit-Remaining-Month": "unlimited"}
        else:
            month = RateLimitItemPerMonth(per_month)
            if allowed:  # a request refused by the minute window does not spend monthly quota
                allowed, monthly, month_reset = self._take(month, identity, "month")
                if not allowed:
                    retry_at = month_reset
            else:
                monthly = max(0, per_month - self.storage.get(month.key_for(identity, "month")))
            headers |= {"X-RateLimit-Limit-Month": str(per_month), "X-RateLimit-Remaining-Month": str(monthly)}
        return Verdict(allowed, headers, 0 if allowed else max(1, math.ceil(retry_at - time.time())))

    def usage(self, identity: str, per_minute: int, per_month: int | None) -> dict[str, int | None]:
        """Requests counted so far in the current windows (nothing is spent by asking)."""
        minute = RateLimitItemPerMinute(per_minute)
        month = RateLimitItemPerMonth(per_month or 1)
        return {
            "minute": self.storage.get(minute.key_for(identity, "minute")),
            "month": self.storage.get(month.key_for(identity, "month")) if per_month else None,
        }
