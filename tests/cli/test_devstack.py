"""`make run`'s stack: one command starts every part, they work together, Ctrl-C stops
them all, and a second start keeps the data; whatever signals reach make's group, and
however many, every part stops and frees its port."""

from __future__ import annotations

import contextlib
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


def wait_line(proc: subprocess.Popen[str], text: str, timeout: float = 90) -> str:
    assert proc.stdout is not None
    output = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise AssertionError(f"dev stack exited early:\n{output}")
        output += line
        if text in line:
            return output
    raise AssertionError(f"no {text!r} in {timeout}s:\n{output}")


def wait_ready(proc: subprocess.Popen[str], timeout: float = 90) -> str:
    return wait_line(proc, "Ctrl-C stops everything", timeout)


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    return rest


def stack_env(temporal: int, ui: int, api: int, sandbox: int, smtp: int) -> dict[str, str]:
    return {
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
        # not the default 9464: stacks of tests running side by side
        "INVOICEFLOW_WORKER_METRICS_ADDRESS": f"127.0.0.1:{free_ports(1)[0]}",
    }


def signs_in_to_the_dashboards(workdir: Path, output: str, api: int) -> None:
    """The dev operator's login is printed, and opens the ops pages."""
    email, password = (workdir / ".data" / "dev-operator").read_text().split()
    assert email in output and password in output
    assert f"127.0.0.1:{api}/ops/sign-in" in output
    with httpx.Client(base_url=f"http://127.0.0.1:{api}") as browser:
        form = browser.get("/ops/sign-in").text
        token = form.split('name="csrf_token" value="')[1].split('"')[0]
        signed = browser.post(
            "/ops/sign-in", data={"email": email, "password": password, "csrf_token": token}
        )
        assert signed.status_code == 303
        assert browser.get("/ops/aging").status_code == 200


def shows_where_the_metrics_are(output: str, api: int, worker_address: str) -> None:
    """Both Prometheus endpoints are printed, and answer: the worker's with the SDK's
    series and ours."""
    for url in (f"http://127.0.0.1:{api}/metrics", f"http://{worker_address}/metrics"):
        assert url in output.replace("\n", ""), url
    assert "invoiceflow_http_requests" in httpx.get(f"http://127.0.0.1:{api}/metrics").text
    deadline = time.monotonic() + 30
    while True:  # the gauges are read once the worker is up
        worker = httpx.get(f"http://{worker_address}/metrics").text
        if "invoiceflow_invoices" in worker or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert "temporal_" in worker and "invoiceflow_invoices" in worker


def test_one_command_runs_the_stack_and_ctrl_c_stops_every_part(tmp_path: Path) -> None:
    temporal, ui, api, sandbox, smtp = free_ports(5)
    env = stack_env(temporal, ui, api, sandbox, smtp)
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
        signs_in_to_the_dashboards(tmp_path, output, api)
        shows_where_the_metrics_are(output, api, env["INVOICEFLOW_WORKER_METRICS_ADDRESS"])
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


def processes_in(workdir: Path) -> dict[int, str]:
    """Live processes working in workdir: make, the CLI and every part it started."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "cwd") != str(workdir):
                continue
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue  # exited, only waiting to be reaped
            found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # gone meanwhile
    return found


# when, then (signal, the pause before it): a SIGTERM to make's group reaches the CLI
# twice, since make forwards it; the later ones land inside the stop. Each round that waits
# for "ready" starts the whole stack (about 10 s here), hence only two of them.
ROUNDS = [
    ("ready", [(signal.SIGTERM, 0.0), (signal.SIGTERM, 0.3)]),
    ("temporal started", [(signal.SIGTERM, 0.0), (signal.SIGTERM, 0.05)]),
    # no stop at all: the kernel's SIGTERM to each part when the CLI dies is what is left
    ("worker started", [(signal.SIGKILL, 0.0)]),
    ("ready", [(signal.SIGHUP, 0.0), (signal.SIGINT, 0.2)]),
]


def test_signals_to_make_runs_group_stop_every_part_every_time(tmp_path: Path) -> None:
    workdir = tmp_path.resolve()
    ports = free_ports(5)
    env = stack_env(*ports)
    (workdir / "Makefile").write_text(f"run:\n\t{sys.executable} -m cli.main dev\n")
    try:
        for when, signals in ROUNDS:
            make = subprocess.Popen(
                ["make", "--no-print-directory", "run"],
                cwd=workdir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                process_group=0,  # as a shell runs a job: make leads the group
            )
            if when == "ready":
                output = wait_ready(make)
                assert len(processes_in(workdir)) >= 6, processes_in(workdir)  # make, CLI, 4
            else:
                output = wait_line(make, when)
            for signum, pause in signals:
                time.sleep(pause)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(make.pid, signum)
            rest, _ = make.communicate(timeout=60)
            output += rest
            if signals[0][0] == signal.SIGKILL:
                deadline = time.monotonic() + 20
                while processes_in(workdir) and time.monotonic() < deadline:
                    time.sleep(0.2)
            else:
                assert "all parts stopped" in output, (when, signals, output)
            assert processes_in(workdir) == {}, (when, signals, output)
            for port in ports:
                with bound_socket() as probe:
                    assert probe.connect_ex(("127.0.0.1", port)) != 0, (port, when, signals)
    finally:
        for pid in processes_in(workdir):  # a failed round must not hold the ports
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
