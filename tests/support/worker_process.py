"""The worker as a process of its own (``python -m worker``), configured from a test's
Settings through the environment, so a test can kill it with SIGKILL and start another."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from pydantic import BaseModel, SecretStr

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def environment(settings: Settings) -> dict[str, str]:
    """The INVOICEFLOW_* variables that make `get_settings()` in a child equal `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOICEFLOW_")}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            text = value.get_secret_value()
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, BaseModel):
            text = value.model_dump_json()
        else:
            text = str(value)
        env[f"INVOICEFLOW_{name.upper()}"] = text
    return env


async def start_worker(settings: Settings, log_path: Path) -> asyncio.subprocess.Process:
    """Start a worker process; its log goes to `log_path` (appended)."""
    with log_path.open("ab") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "worker",
            cwd=ROOT,
            env=environment(settings),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )


async def kill(process: asyncio.subprocess.Process) -> None:
    """kill -9: no shutdown, no draining, whatever was in flight is left where it was."""
    if process.returncode is None:
        process.kill()
    await process.wait()
