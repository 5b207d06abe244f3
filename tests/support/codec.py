"""The suite's payload-encryption key: every test's settings carry it (tests/conftest.py
sets INVOICEFLOW_CODEC_KEYS), so every workflow the suite runs, in process or in a worker
process, has its payloads encrypted as in production. A fixed key of the tests only."""

from __future__ import annotations

import base64

TEST_KEY_ID = "test-2026"
TEST_KEY = base64.b64encode(bytes(range(32))).decode()
TEST_CODEC_KEYS = f"{TEST_KEY_ID}:{TEST_KEY}"
