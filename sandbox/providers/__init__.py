"""Fake provider APIs (SMS, payments, accounting) that behave like the real ones where it matters.

Each module holds the request models, the effect functions (what a call changes, run by
:class:`sandbox.gate.Gate` inside a transaction) and the FastAPI router.
"""

from __future__ import annotations

import uuid


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"
