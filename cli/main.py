"""``invoiceflow``: one entry point for the operator's commands."""

from __future__ import annotations

import asyncio

import typer

from cli import approvals, billing, codec, exports, operators
from cli.failures import database_errors
from core.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="InvoiceFlow: invoice processes on Temporal.")
db_app = typer.Typer(no_args_is_help=True, help="Database migrations.")
key_app = typer.Typer(no_args_is_help=True, help="API keys for upstream apps.")
app.add_typer(db_app, name="db")
app.add_typer(key_app, name="apikey")
app.add_typer(billing.app, name="billing")
app.add_typer(approvals.app, name="approvals")
app.add_typer(exports.app, name="export")
app.add_typer(operators.app, name="operators")
app.add_typer(codec.app, name="codec")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to the configured database (INVOICEFLOW_DATABASE_URL)."""
    from store.migrations import upgrade

    settings = get_settings()
    with database_errors(settings.database_url):
        upgrade(settings.database_url)
    typer.echo(f"database is up to date: {settings.database_url.split('@')[-1]}")


@key_app.command("create")
def apikey_create(
    name: str = typer.Argument(..., help="who the key is for, e.g. 'billing-app'"),
) -> None:
    """Create an API key; it is shown once and stored only as a hash."""
    from store import api_keys
    from store.db import create_engine, session_factory, transaction

    if not name.strip():
        raise typer.BadParameter("the key needs a name")

    async def create() -> str:
        engine = create_engine(get_settings().database_url)
        try:
            async with transaction(session_factory(engine)) as session:
                _, plain = await api_keys.create(session, name.strip())
            return plain
        finally:
            await engine.dispose()

    with database_errors(get_settings().database_url):
        plain = asyncio.run(create())
    typer.echo(f"API key for {name}: {plain}")
    typer.echo("Store it now: only its hash is kept.")


@app.command("dev")
def dev() -> None:
    """Run the whole stack on embedded defaults (Temporal + UI, worker, API, mail, sandbox)."""
    from cli.devstack import run

    raise typer.Exit(run())


@app.command("demo")
def demo(
    api_url: str = typer.Option("http://127.0.0.1:8000", help="the running API"),
    sandbox_url: str = typer.Option("http://127.0.0.1:8025", help="the running provider sandbox"),
    api_key: str | None = typer.Option(
        None, envvar="INVOICEFLOW_API_KEY", help="default: the dev key"
    ),
) -> None:
    """Drive a few sample invoices through the lifecycle against the running stack."""
    from cli.demo import run_demo

    raise typer.Exit(asyncio.run(run_demo(api_url, sandbox_url, api_key)))


if __name__ == "__main__":
    app()
