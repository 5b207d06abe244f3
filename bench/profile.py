"""Where the worker's time goes: py-spy on the worker during the real phase (BENCH_PROFILE=1).

py-spy samples the thread holding the GIL (``--gil``), so the shares are of the worker's
Python time, the part one process cannot spread over more cores. The summary groups frames
by what they belong to: our activities and store, the libraries they call, and the SDK.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

PY_SPY = Path(sys.executable).parent / "py-spy"

# (label, a substring of the frame "function (file)") in the order they are tried
GROUPS = (
    ("activity: deliver (link, render, e-mail)", "deliver_invoice (activities/"),
    ("activity: accounting posts", "AccountingActivities."),
    ("activity: create invoice", "InvoiceStoreActivities.create_invoice"),
    ("activity: record payment, set status", "InvoiceStoreActivities."),
    ("activity: approval context", "ApprovalActivities.load_context"),
    ("workflow code and the SDK's workflow side", "_WorkflowWorker._handle_activation"),
    ("SDK: polling and completing activities", "_ActivityWorker"),
)
WITHIN = (
    ("SQLAlchemy", ("sqlalchemy/",)),
    ("httpx", ("httpx/", "httpcore/")),
    ("e-mail (MIME + SMTP)", ("(email/", "aiosmtplib/")),
    ("rendering (Jinja2 + Babel)", ("rendering/",)),
    ("workflow sandbox", ("workflow_sandbox/",)),
    ("payload visiting", ("_visitor",)),
)


class WorkerProfile:
    def __init__(self, pid: int, out: Path) -> None:
        self._out = out
        self._proc = subprocess.Popen(
            [str(PY_SPY), "record", "--gil", "-r", "200", "-f", "raw", "-o", str(out)]
            + ["-p", str(pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> str:
        """Stop sampling and summarise; py-spy writes its file when interrupted."""
        self._proc.send_signal(signal.SIGINT)
        self._proc.wait(timeout=30)
        if not self._out.exists():
            return "\nprofile: py-spy wrote nothing (is ptrace allowed here?)"
        return summarise(self._out.read_text().splitlines())


def summarise(lines: list[str]) -> str:
    groups: Counter[str] = Counter()
    within: Counter[str] = Counter()
    total = 0
    for line in lines:
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        group = next((label for label, key in GROUPS if key in stack), "other (event loop, I/O)")
        groups[group] += samples
        for label, keys in WITHIN:
            if any(key in stack for key in keys):
                within[label] += samples
    if not total:
        return "\nprofile: no samples"
    out = [f"\nwhere the worker's Python time goes in the real phase ({total} samples, --gil):"]
    out += [f"  {label:46}{n / total:6.0%}" for label, n in groups.most_common()]
    out.append("  of which, across the above:")
    out += [f"    {label:44}{n / total:6.0%}" for label, n in within.most_common()]
    return "\n".join(out)
