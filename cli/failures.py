"""What the CLI says when something outside it fails: a sentence and exit code 1, never a
traceback. Errors of our own making (a bug) still show theirs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import typer
from rich.console import Console
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from temporalio.service import RPCError

console = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    console.print(f"[red]{message}[/]")
    return typer.Exit(1)


def _where(url: str) -> str:
    return url.split("@")[-1]  # no credentials in a message


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    try:
        yield
    except (ArgumentError, NoSuchModuleError) as err:
        raise fail(
            f"INVOICEFLOW_DATABASE_URL is not a database URL InvoiceFlow can use ({err}); "
            "e.g. sqlite+aiosqlite:///.data/invoiceflow.db or postgresql://user@host/db"
        ) from err
    except DBAPIError as err:
        reason = str(err.orig).splitlines()[0] if err.orig else str(err)
        hint = (
            "run `invoiceflow db upgrade` first"
            if "no such table" in reason or "does not exist" in reason
            else "check INVOICEFLOW_DATABASE_URL and that the database is up"
        )
        raise fail(f"The database at {_where(url)} refused: {reason}; {hint}.") from err
    except OSError as err:  # a SQLite file in a folder we cannot write, a refused socket
        raise fail(f"Cannot open the database at {_where(url)}: {err}") from err


@contextmanager
def temporal_errors(address: str) -> Iterator[None]:
    try:
        yield
    except RPCError as err:
        raise fail(f"Temporal at {address} answered {err.status.name}: {err.message}") from err


@contextmanager
def api_errors(api_url: str) -> Iterator[None]:
    try:
        yield
    except httpx.HTTPStatusError as err:
        response = err.response
        try:
            problem = response.json()
            said = f"{problem.get('code')}: {problem.get('detail')}"
        except ValueError:
            said = response.text[:200]
        hint = " (is the API key right?)" if response.status_code == 401 else ""
        raise fail(
            f"{response.request.method} {response.request.url.path} was refused with "
            f"{response.status_code} {said}{hint}"
        ) from err
    except httpx.TransportError as err:
        try:
            where = str(err.request.url.copy_with(path="/", query=None))
        except RuntimeError:  # no request attached
            where = api_url
        raise fail(f"Cannot reach {where} ({type(err).__name__}): is `make run` up?") from err
    except TimeoutError as err:
        raise fail(str(err)) from err
