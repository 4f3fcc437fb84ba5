"""The one service layer every door goes through: who calls, what it costs, which limits apply.

REST routes, the Gradio handlers and the accounts CLI all ask this layer; none of them runs SQL,
counts requests or moves credits itself. A refusal is a :class:`~service.terms.Refusal` whose
``kind`` each door turns into its own form (a v1 error, a spec-002 code, a ``gr.Error``).
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from limits import RateLimitItem, parse_many
from pydantic import BaseModel
from sqlalchemy import select

from ops.chain import PlannedStep
from ops.engines.base import ProgressFn, Resolver
from ops.errors import StudioError
from ops.imageio import Picture, encode, probe
from ops.pipeline import OutputOptions, Processed, process
from ops.settings import Settings

from . import accounts, diskfull, job_endings, job_waiter
from .accounts import TIERS, AccountError
from .db import ApiKey, Database, Job, User, iso
from .jobs import JobService
from .logins import ATTEMPT, Attempt, Counter, LoginGuard, TooManyFailures, count, wait_for
from .ratelimit import RateLimiter, Verdict
from .terms import Caller, Finished, Price, Refusal, UiRunner

GUEST_EMAIL = "web-guest@studio.invalid"  # scale-out mode: the account anonymous web-app runs are recorded under


class AccountResponse(BaseModel):
    """The v1 API's account body (server.schemas serves it)."""

    id: str
    email: str
    tier: str
    credits: int
    coins: int
    limits: dict[str, Any]


class AccountView(AccountResponse):
    """An account as the doors show it: the API's body plus the UI's usage counts."""

    used: dict[str, int | None] = {}  # requests counted in the current minute and month


class KeyView(BaseModel):
    id: str
    prefix: str
    name: str
    created_at: str | None
    last_used_at: str | None
    revoked_at: str | None


@dataclass
class Service:
    settings: Settings
    db: Database
    limiter: RateLimiter
    jobs: JobService
    ui_login: bool = False
    secret: bytes = b""  # signs the web app's device tokens
    _allowance: list[RateLimitItem] = field(init=False)
    _failures: list[RateLimitItem] = field(init=False)
    logins: LoginGuard = field(init=False)

    def __post_init__(self) -> None:
        self._allowance = parse_many(self.settings.ui_allowance)
        self._failures = parse_many(self.settings.failed_logins)
        self.logins = LoginGuard(self.limiter.storage, self.secret or secrets.token_bytes(32), self.settings.failed_logins,
                                 self.settings.failed_logins_spread)  # fmt: skip

    # --- who is calling ---------------------------------------------------------------------
    def caller_for_key(self, key: str, address: str) -> Caller | None:
        try:
            with self.db.session() as session:
                user = accounts.authenticate(session, key)
                return _caller(user, address) if user else None
        except Exception as exc:
            if not diskfull.is_disk_full(exc):
                raise
        # a full database must not turn every request into an error: the key's last-use stamp waits
        with self.db.session() as session, session.no_autoflush:
            user = accounts.authenticate(session, key)
            caller = _caller(user, address) if user else None
            session.expunge_all()  # nothing left to write
            return caller

    def ui_caller(self, username: str | None, address: str) -> Caller:
        """The web UI's caller: the signed-in account when login is on, else the client address."""
        if not self.ui_login:
            return Caller(address=address)
        if not username:
            raise Refusal("unauthorized", "Sign in first: this app requires an account.")
        with self.db.session() as session:
            user = session.scalar(select(User).where(User.email == username))
            if user is None:
                raise Refusal("unauthorized", f"The account {username} no longer exists; sign in again.")
            return _caller(user, address)

    def check_login(self, email: str, password: str, attempt: Attempt | None = None) -> bool:
        """A web-app password check, throttled so that guessing is slow and a stranger's guesses
        cannot lock the owner's own browser out (see service.logins). A refused attempt is marked
        on the attempt (the door answers it with 429)."""
        attempt = attempt or ATTEMPT.get() or Attempt(address="unknown")

        def right() -> bool:
            with self.db.session() as session:
                return accounts.check_password(session, email, password)

        try:
            good = self.logins.check(email, attempt, right)
        except TooManyFailures as exc:
            attempt.retry_after = exc.wait
            return False
        if good:
            attempt.signed_in = email
        return good

    def guard_attempts(self, address: str) -> None:
        """Refuse an admin-token check from an address that guessed wrong too often."""
        if wait := wait_for(self.limiter.storage, self._admin_counters(address)):
            raise Refusal("rate_limited", f"too many failed attempts; try again in {wait} s", {"Retry-After": str(wait)}, wait)

    def failed_attempt(self, address: str) -> None:
        count(self.limiter.storage, self._admin_counters(address))

    def _admin_counters(self, address: str) -> list[Counter]:
        return [(item, item.key_for("failures", f"ip:{address}")) for item in self._failures]

    def is_operator(self, caller: Caller) -> bool:
        return bool(caller.email) and caller.email.lower() in self.settings.operator_emails

    # --- limits -----------------------------------------------------------------------------
    def meter_api(self, caller: Caller | None, address: str) -> Verdict:
        """Count one API request: the tier's limits for an account with API access, else per address."""
        if caller is not None and TIERS[caller.tier or "free"].api:
            tier = TIERS[caller.tier or "free"]
            return self.limiter.hit(caller.identity, tier.per_minute, tier.per_month)
        return self.limiter.hit(f"ip:{address}", self.settings.anonymous_per_minute, None)

    def meter_ui(self, caller: Caller) -> None:
        """Count one web-UI run on the same counters as the API (a tier's key and its UI share them)."""
        tier = TIERS[caller.tier] if caller.tier else None
        if tier is not None and tier.api:
            verdict = self.limiter.hit(caller.identity, tier.per_minute, tier.per_month)
            if not verdict.allowed:
                raise Refusal("rate_limited", f"Your {tier.name} plan allows {tier.per_minute} requests a minute (API and web app together); "
                              f"try again in {verdict.retry_after} s.", retry_after=verdict.retry_after)  # fmt: skip
            return
        for item in self._allowance:  # anonymous local use, or the free tier: the configured allowance
            if not self.limiter.storage.incr(item.key_for("ui", caller.identity), item.get_expiry()) <= item.amount:
                wait = max(1, math.ceil(self.limiter.storage.get_expiry(item.key_for("ui", caller.identity)) - time.time()))
                who = "this account" if caller.user_id else "this address"
                raise Refusal("rate_limited", f"The web app allows {item.amount} model runs per {_window(item)} for {who}; "
                              f"try again in {wait} s.", retry_after=wait)  # fmt: skip

    # --- money and jobs ---------------------------------------------------------------------
    def create_job(self, caller: Caller, price: Price, **fields: Any) -> str:
        """Charge and record a job in one transaction: either both happen or neither."""
        with self.db.session() as session:
            if not accounts.charge(session, caller.user_id, credits=price.credits, coins=price.coins):
                user = session.get(User, caller.user_id)
                raise Refusal("insufficient", _short(price, user))
            job = Job(user_id=caller.user_id, credits=price.credits, coins=price.coins, **fields)
            session.add(job)
            session.flush()
            return job.id

    @contextmanager
    def ui_run(self, caller: Caller, price: Price, operations: list[dict[str, Any]], model_name: str | None = None,
               model_work: bool = True) -> Iterator[UiRunner]:  # fmt: skip
        """A web-UI run: metered, charged when the caller has an account, recorded as a job whose
        terminal state is always written (a crash leaves a lease that runs out: refund). Anonymous
        local use meters model work only; a signed-in account's every run counts, as its API calls do.
        Yields what runs the work: this process (embedded), or the job queue's workers (scale-out),
        so the web app and the API share the same workers and the same fairness."""
        if model_work or caller.user_id:
            self.meter_ui(caller)
        if self.jobs.broker is not None:
            yield lambda source, steps, options, progress, hints, resolve: self._queued_ui_run(caller, price, operations, model_name, source, options,
                                                                                              progress, hints, resolve)  # fmt: skip
            return
        if caller.user_id is None:
            yield _run_here
            return
        job_id = self.create_job(caller, price, api="ui", status="processing", input_key="", operations=operations, model_name=model_name,
                                 attempts=1, **self.jobs.leases.columns())  # fmt: skip
        try:
            with self.jobs.leases.holding(job_id):
                yield _run_here
        except BaseException as exc:
            reason = diskfull.JOB_MESSAGE if diskfull.is_disk_full(exc) else str(getattr(exc, "message", exc)) or type(exc).__name__
            self.finish_ui_run(job_id, failed=reason)
            raise
        self.finish_ui_run(job_id)

    def _queued_ui_run(self, caller: Caller, price: Price, operations: list[dict[str, Any]], model_name: str | None, source: str,
                       options: OutputOptions, progress: ProgressFn | None, hints: dict[str, Any] | None, resolve: Resolver) -> Finished:  # fmt: skip
        """Store the input (a clicked subject's mask, the files its steps refer to), queue a job, wait
        for a worker to end it. Anonymous runs are recorded under one guest account, free as they are inline."""
        payer = caller if caller.user_id else replace(caller, user_id=self._guest_id())
        data = Path(source).read_bytes()
        storage, owner = self.jobs.storage, payer.user_id or ""
        input_key = storage.upload(owner, data, probe(data).format)
        stored = {}
        for name, mask in (hints or {}).items():
            if isinstance(mask, np.ndarray):
                stored[name] = storage.upload(owner, encode(Picture(np.where(mask, 255, 0).astype(np.uint8)[..., None]), "png").data, "PNG")
        operations = _stored_references(operations, resolve, lambda data: storage.upload(owner, data, probe(data).format))
        job_id = self.create_job(payer, price if caller.user_id else Price(), api="ui", input_key=input_key, operations=operations,
                                 output_options=asdict(options), model_name=model_name, hints=stored or None)  # fmt: skip
        self.jobs.dispatch(job_id)
        return job_waiter.wait_for(self.db, storage, job_id, self.settings.max_job_seconds, progress)

    def _guest_id(self) -> str:
        with self.db.session() as session:
            return accounts.get_or_create(session, GUEST_EMAIL).id

    def finish_ui_run(self, job_id: str, failed: str | None = None) -> None:
        if failed is None:
            job_endings.complete_held(self.db, job_id)
        else:
            job_endings.fail(self.db, job_id, failed, "ui_failed")  # and refunded

    # --- accounts ---------------------------------------------------------------------------
    def account(self, caller: Caller) -> AccountView:
        with self.db.session() as session:
            user = self._user(session, caller)
            tier = TIERS[user.tier]
            used = self.limiter.usage(f"user:{user.id}", max(tier.per_minute, 1), tier.per_month)
            limits = {"per_minute": tier.per_minute, "per_month": tier.per_month, "max_keys": tier.max_keys}
            return AccountView(id=user.id, email=user.email, tier=user.tier, credits=user.credits, coins=user.coins, limits=limits, used=used)

    def keys(self, caller: Caller) -> list[KeyView]:
        with self.db.session() as session:
            user = self._user(session, caller)
            return [key_view(k) for k in session.scalars(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.created_at))]

    def create_key(self, caller: Caller, name: str = "") -> tuple[KeyView, str]:
        """(the stored record, the key itself — shown this once)."""
        with self.db.session() as session:
            try:
                record, key = accounts.create_key(session, self._user(session, caller), name)
            except AccountError as exc:
                raise Refusal("forbidden" if exc.status == 403 else "conflict", exc.message) from None
            return key_view(record), key

    def revoke_key(self, caller: Caller, key_id: str) -> None:
        with self.db.session() as session:
            if not accounts.revoke_key(session, self._user(session, caller).id, key_id):
                raise Refusal("not_found", "no such active key for this account")

    def _user(self, session: Any, caller: Caller) -> User:
        user = session.get(User, caller.user_id) if caller.user_id else None
        if user is None:
            raise Refusal("unauthorized", "no account is signed in")
        return user


def _run_here(source: str, steps: Sequence[PlannedStep], options: OutputOptions, progress: ProgressFn | None, hints: dict[str, Any] | None,
              resolve: Resolver) -> Processed:  # fmt: skip
    return process(source, steps, options, progress, resolve, hints)


def _stored_references(value: Any, resolve: Resolver, store: Callable[[bytes], str]) -> Any:
    """A web run's steps with each file they refer to (a backdrop the run was given, which the
    resolver knows) stored, and referred to by its storage key, for a worker that cannot see it."""
    if isinstance(value, dict):
        return {name: _stored_references(item, resolve, store) for name, item in value.items()}
    if isinstance(value, list):
        return [_stored_references(item, resolve, store) for item in value]
    if isinstance(value, str) and value.startswith("/"):
        try:
            return store(resolve(value))
        except StudioError:
            return value  # not a file of this run: the worker refuses it like any unknown key
    return value


def key_view(key: ApiKey) -> KeyView:
    return KeyView(id=key.id, prefix=key.prefix, name=key.name, created_at=iso(key.created_at), last_used_at=iso(key.last_used_at),
                   revoked_at=iso(key.revoked_at))  # fmt: skip


def _caller(user: User, address: str) -> Caller:
    return Caller(address=address, user_id=user.id, email=user.email, tier=user.tier)


def _short(price: Price, user: User | None) -> str:
    have = "unknown" if user is None else f"{user.credits} credits" if price.credits else f"{user.coins} coins"
    return f"This costs {price}; your balance is {have}. Add credits, or choose a free operation."


def _window(item: RateLimitItem) -> str:
    return f"{item.multiples} {item.GRANULARITY.name}s" if item.multiples > 1 else item.GRANULARITY.name

