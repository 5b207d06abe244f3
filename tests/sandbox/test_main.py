"""``python -m sandbox`` starts both servers, says where, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.sandbox.support import unused_port

ROOT = Path(__file__).resolve().parents[2]


def test_python_m_sandbox_serves_http_and_smtp_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    http_port, smtp_port = unused_port(), unused_port()
    env = {
        **os.environ,
        "SANDBOX_HTTP_PORT": str(http_port),
        "SANDBOX_SMTP_PORT": str(smtp_port),
        "SANDBOX_DATA_DIR": str(tmp_path / "data"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proc.stdout is not None:
            line = proc.stdout.readline()
            lines.append(line)
            if "Press Ctrl-C" in line or not line:
                break
        banner = "".join(lines)
        assert f"http://127.0.0.1:{http_port}" in banner, banner
        assert f"127.0.0.1:{smtp_port}" in banner, banner
        assert httpx.get(f"http://127.0.0.1:{http_port}/").status_code == 200
        with socket.create_connection(("127.0.0.1", smtp_port), timeout=5) as smtp:
            assert smtp.recv(100).startswith(b"220")

        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert proc.returncode == 0, output
    assert "sandbox stopped" in output
    assert (tmp_path / "data" / "sandbox.sqlite3").exists()
