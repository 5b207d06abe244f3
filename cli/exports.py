"""``invoiceflow export invoices``: the file `GET /exports/invoices` answers, written
straight from the configured database (``INVOICEFLOW_DATABASE_URL``) to a local file.

The file is written next to its destination under a temporary name and renamed when it
is complete, so a failed export never leaves a half-written file behind under the name
asked for (nor replaces an earlier good one).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Annotated

import typer

from cli.failures import database_errors
from core.exports import ExportRequest, InvalidExport, parse_request, write_export
from core.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Exports for accounting: invoices as a file.")

_OPTION_OF_FIELD = {"from": "--from", "to": "--to", "format": "--format"}


@app.command("invoices")
def invoices(
    start: Annotated[str, typer.Option("--from", help="first day (UTC), YYYY-MM-DD, inclusive")],
    end: Annotated[str, typer.Option("--to", help="last day (UTC), YYYY-MM-DD, inclusive")],
    file_format: Annotated[str, typer.Option("--format", help="csv, xlsx or json")] = "csv",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="the file to write (default: invoices-FROM-TO.FORMAT here)"),
    ] = None,
) -> None:
    """The period's invoices, credit notes and payments, as GET /exports/invoices has them."""
    try:
        request = parse_request(start, end, file_format)
    except InvalidExport as bad:
        raise typer.BadParameter(bad.detail, param_hint=_OPTION_OF_FIELD[bad.field]) from bad
    target = out or Path(request.filename)
    if target.is_dir():
        raise typer.BadParameter(f"{target} is a folder; name a file", param_hint="--out")
    if not target.parent.is_dir():
        raise typer.BadParameter(f"folder {target.parent} does not exist", param_hint="--out")
    url = get_settings().database_url
    with database_errors(url):
        asyncio.run(_export(url, request, target))
    typer.echo(f"wrote {target} ({target.stat().st_size:,} bytes)")


async def _export(url: str, request: ExportRequest, target: Path) -> None:
    from store.db import create_engine, session_factory

    partial = target.with_name(f".{target.name}.partial")
    engine = create_engine(url)
    try:
        await write_export(session_factory(engine), request, partial)
        os.replace(partial, target)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        await engine.dispose()
