"""Approver time zones must resolve in slim images, which ship no OS time-zone database."""

from __future__ import annotations

import os
import subprocess
import sys


def test_zones_resolve_from_the_pinned_tzdata_package_without_the_os_database() -> None:
    # an empty PYTHONTZPATH hides /usr/share/zoneinfo: only the tzdata package can answer
    probe = (
        "from zoneinfo import ZoneInfo; from datetime import datetime; "
        "print(datetime(2026, 7, 1, 12, tzinfo=ZoneInfo('Europe/London')).utcoffset())"
    )
    env = {**os.environ, "PYTHONTZPATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1:00:00"  # BST
