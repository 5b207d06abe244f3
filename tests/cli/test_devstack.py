"""`make run`'s stack: one command starts every part, they work together, Ctrl-C stops
them all, and a second start keeps the data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.servers import bound_socket

ROOT = Path(__file__).resolve().parents[2]


def free_ports(count: int) -> list[int]:
    sockets = [bound_socket() for _ in range(count)]
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start(workdir: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "dev"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_ready(proc: subprocess.Popen[str], timeout: float = 90) -> str:
    assert proc.stdout is not None
    output = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise AssertionError(f"dev stack exited early:\n{output}")
        output += line
        if "Ctrl-C stops everything" in line:
            return output
    raise AssertionError(f"dev stack not ready in {timeout}s:\n{output}")


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    return rest


def test_one_command_runs_the_stack_and_ctrl_c_stops_every_part(tmp_path: Path) -> None:
    temporal, ui, api, sandbox, smtp = free_ports(5)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "INVOICEFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal}",
        "INVOICEFLOW_TEMPORAL_UI_PORT": str(ui),
        "INVOICEFLOW_API_PORT": str(api),
        "INVOICEFLOW_PUBLIC_BASE_URL": f"http://127.0.0.1:{api}",
        "INVOICEFLOW_PAYMENTS_URL": f"http://127.0.0.1:{sandbox}",
        "INVOICEFLOW_SMS_URL": f"http://127.0.0.1:{sandbox}",
        "INVOICEFLOW_ACCOUNTING_URL": f"http://127.0.0.1:{sandbox}",
        "INVOICEFLOW_SMTP_PORT": str(smtp),
    }
    proc = start(tmp_path, env)
    try:
        output = wait_ready(proc)
        key = (tmp_path / ".data" / "dev-api-key").read_text().strip()
        assert key in output and f"127.0.0.1:{ui}" in output
        headers = {"Authorization": f"Bearer {key}"}
        health = httpx.get(f"http://127.0.0.1:{api}/healthz").json()
        assert health == {"status": "ok", "temporal": True}
        created = httpx.post(
            f"http://127.0.0.1:{api}/customers",
            headers=headers,
            json={"name": "Kept Ltd", "email": "kept@example.test"},
        )
        assert created.status_code == 201
        assert httpx.get(f"http://127.0.0.1:{sandbox}/mailbox").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{ui}/").status_code == 200
    finally:
        rest = stop(proc)
    assert proc.returncode == 0, rest
    assert "all parts stopped" in rest
    for port in (temporal, api, sandbox, smtp):
        with bound_socket() as probe:  # nothing listens any more
            assert probe.connect_ex(("127.0.0.1", port)) != 0

    again = start(tmp_path, env)
    try:
        wait_ready(again)
        customer = httpx.get(
            f"http://127.0.0.1:{api}/customers/{created.json()['id']}", headers=headers
        )
        assert customer.status_code == 200 and customer.json()["name"] == "Kept Ltd"
    finally:
        stop(again)
    assert again.returncode == 0
