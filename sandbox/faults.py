"""Injected failures, so tests can watch our retries and idempotency keys do their job.

A profile applies to one API ("sms", "payments", "accounting", "oidc", "smtp") or to all
("*"); an API-specific profile wins over "*". The SMTP server ("smtp") takes only a profile
of its own ("*" means the HTTP providers), and answers in SMTP's terms: an outage refuses every
recipient with 451 (a mail server that is down or greylisting), ``error_rate`` answers that
share of messages 451 at DATA, ``latency_ms`` keeps the message and holds the answer to
DATA (past the client's timeout: a timeout after delivery), and ``fail_after_commit`` keeps
the message, then answers 451 (accepted, but the "250" never arrived).
Randomness comes from a ``random.Random`` seeded per profile, so a test that sets
``error_rate=0.5, seed=7`` sees the same sequence every run.
Profiles live in memory only: a restarted sandbox is a healthy one.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

Api = Literal["sms", "payments", "accounting", "oidc", "smtp"]
ApiOrAll = Literal["sms", "payments", "accounting", "oidc", "smtp", "*"]


class FaultProfile(BaseModel):
    api: ApiOrAll
    # Every call answers 503 and does nothing.
    outage: bool = False
    # This share of calls answers 500 and does nothing.
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    # Sleep this long before answering anything.
    latency_ms: int = Field(default=0, ge=0)
    # The next N mutating calls perform their effect and store their idempotent response,
    # then answer 500: "the provider got it, the response got lost".
    fail_after_commit: int = Field(default=0, ge=0)
    # Payments only. The provider's webhooks never reach the receiver: each delivery is
    # given up at once, as after its last retry (a receiver away for longer than them).
    drop_webhooks: bool = False
    # A key seen before is treated as new, as once a provider's idempotency window has
    # passed (Stripe keeps a key 24 hours): only a look-up first prevents a duplicate.
    forget_idempotency_keys: bool = False
    seed: int = 0


class FaultState(BaseModel):
    """A profile plus what is left of its fail_after_commit budget (for GET /_sandbox/faults)."""

    profile: FaultProfile
    fail_after_commit_remaining: int


@dataclass
class _Active:
    profile: FaultProfile
    rng: random.Random
    fail_after_commit_remaining: int


@dataclass(frozen=True)
class Decision:
    latency_s: float = 0.0
    # "outage" (503) or "error_rate" (500) when the call must fail before doing anything.
    failure: str | None = None


@dataclass
class FaultBook:
    _active: dict[str, _Active] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, profile: FaultProfile) -> None:
        with self._lock:
            self._active[profile.api] = _Active(
                profile, random.Random(profile.seed), profile.fail_after_commit
            )

    def clear(self) -> None:
        with self._lock:
            self._active.clear()

    def states(self) -> list[FaultState]:
        with self._lock:
            return [
                FaultState(
                    profile=a.profile, fail_after_commit_remaining=a.fail_after_commit_remaining
                )
                for a in self._active.values()
            ]

    def decide(self, api: str) -> Decision:
        """What to do to this call before it reaches the provider logic."""
        with self._lock:
            active = self._for(api)
            if active is None:
                return Decision()
            latency = active.profile.latency_ms / 1000
            if active.profile.outage:
                return Decision(latency, "outage")
            if active.profile.error_rate and active.rng.random() < active.profile.error_rate:
                return Decision(latency, "error_rate")
            return Decision(latency)

    def take_fail_after_commit(self, api: str) -> bool:
        """Consume one unit of the fail_after_commit budget; True if this call must fail."""
        with self._lock:
            active = self._for(api)
            if active is None or active.fail_after_commit_remaining <= 0:
                return False
            active.fail_after_commit_remaining -= 1
            return True

    def drops_webhooks(self, api: str) -> bool:
        with self._lock:
            active = self._for(api)
            return active is not None and active.profile.drop_webhooks

    def forgets_keys(self, api: str) -> bool:
        with self._lock:
            active = self._for(api)
            return active is not None and active.profile.forget_idempotency_keys

    def _for(self, api: str) -> _Active | None:
        if api == "smtp":  # the HTTP providers' "*" leaves the mail server alone
            return self._active.get(api)
        return self._active.get(api) or self._active.get("*")
