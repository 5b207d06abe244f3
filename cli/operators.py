"""``invoiceflow operators``: the people who sign in to the ops dashboards (/ops).

Straight on the database (like ``apikey create``), not through the API: the API's keys
are for upstream apps, and an operator account is what opens the ops pages. A password is
read from a prompt (typed twice, not echoed) or from stdin with ``--password-stdin``
(for scripts: ``printf '%s' "$PW" | invoiceflow operators create ... --password-stdin``),
never from an argument, which would land in shell history and the process list.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from cli.failures import database_errors, fail
from core.settings import get_settings
from store import operators

app = typer.Typer(no_args_is_help=True, help="Operators: who signs in to the ops dashboards.")
T = TypeVar("T")

PasswordStdin = typer.Option(
    False, "--password-stdin", help="read the password from stdin (one line) instead of a prompt"
)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < operators.MIN_PASSWORD_LENGTH:
        raise fail(f"A password needs at least {operators.MIN_PASSWORD_LENGTH} characters.")
    return password


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    from store.db import create_engine, session_factory, transaction

    async def run() -> T:
        engine = create_engine(get_settings().database_url)
        try:
            async with transaction(session_factory(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    with database_errors(get_settings().database_url):
        try:
            return asyncio.run(run())
        except operators.OperatorError as err:
            raise fail(f"{err}.") from err


@app.command("create")
def create(
    email: str = typer.Option(..., "--email", help="what the operator signs in with"),
    name: str = typer.Option(..., "--name", help="shown on the pages, e.g. 'Olivia Park'"),
    password_stdin: bool = PasswordStdin,
    sso_only: bool = typer.Option(
        False,
        "--sso-only",
        help="no password: they sign in only through the OpenID Connect provider",
    ),
) -> None:
    """Create an operator with a password (stored as an argon2 hash), or one who signs in
    only through single sign-on (``--sso-only``; ``set-password`` can add one later)."""
    if sso_only and password_stdin:
        raise fail("--sso-only takes no password; leave out --password-stdin.")
    if sso_only and not get_settings().ops_oidc_enabled:
        raise fail(
            "--sso-only needs single sign-on: set INVOICEFLOW_OPS_OIDC_ISSUER, _CLIENT_ID and"
            " _CLIENT_SECRET, or give the operator a password."
        )
    password = None if sso_only else _password(password_stdin)

    async def work(session: AsyncSession) -> str:
        row = await operators.create(session, operators.NewOperator(email, name, password))
        return row.email

    created = _run(work)
    how = " with single sign-on" if sso_only else ""
    typer.echo(
        f"operator {created} created; they sign in{how} at"
        f" {get_settings().public_base_url}/ops/sign-in"
    )


@app.command("list")
def list_operators() -> None:
    """Every operator, active or not."""

    async def work(session: AsyncSession) -> list[tuple[str, str, bool]]:
        return [(r.email, r.name, r.active) for r in await operators.list_all(session)]

    rows = _run(work)
    if not rows:
        typer.echo("no operators yet: invoiceflow operators create --email ... --name ...")
    for email, name, active in rows:
        typer.echo(f"{email}\t{name}\t{'active' if active else 'deactivated'}")


@app.command("deactivate")
def deactivate(email: str = typer.Option(..., "--email")) -> None:
    """Stop an operator signing in; their open sessions end at their next click."""

    async def work(session: AsyncSession) -> str:
        return (await operators.deactivate(session, email)).email

    typer.echo(f"operator {_run(work)} deactivated")


@app.command("set-password")
def set_password(
    email: str = typer.Option(..., "--email"), password_stdin: bool = PasswordStdin
) -> None:
    """A new password; the operator's other sessions end."""
    password = _password(password_stdin)

    async def work(session: AsyncSession) -> str:
        return (await operators.set_password(session, email, password)).email

    typer.echo(f"password of {_run(work)} changed; their other sessions are signed out")
