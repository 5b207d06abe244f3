"""`invoiceflow operators`: create (password from a prompt or stdin, never an argument,
stored as an argon2 hash), list, deactivate and set-password, with clear refusals."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.settings import get_settings
from store import operators
from store.db import create_engine, session_factory
from store.migrations import upgrade

PASSWORD = "correct horse battery"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/ops.db"
    monkeypatch.setenv("INVOICEFLOW_DATABASE_URL", url)
    get_settings.cache_clear()
    upgrade(url)
    yield url
    get_settings.cache_clear()


def _authenticates(url: str, email: str, password: str) -> bool:
    async def check() -> bool:
        engine = create_engine(url)
        async with session_factory(engine)() as session:
            found = await operators.authenticate(session, email, password)
        await engine.dispose()
        return found is not None

    return asyncio.run(check())


def test_create_from_stdin_list_and_deactivate(database: str) -> None:
    runner = CliRunner()
    created = runner.invoke(
        app,
        ["operators", "create", "--email", "Olivia@Finance.test", "--name", "Olivia Park",
         "--password-stdin"],
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "olivia@finance.test created" in created.output
    assert PASSWORD.encode() not in Path(database.removeprefix("sqlite:///")).read_bytes()
    assert _authenticates(database, "olivia@finance.test", PASSWORD)

    listed = runner.invoke(app, ["operators", "list"])
    assert listed.output.strip() == "olivia@finance.test\tOlivia Park\tactive"

    again = runner.invoke(
        app, ["operators", "create", "--email", "olivia@finance.test", "--name", "O",
              "--password-stdin"], input=PASSWORD + "\n",
    )  # fmt: skip
    assert again.exit_code == 1 and "exists already" in again.output

    gone = runner.invoke(app, ["operators", "deactivate", "--email", "olivia@finance.test"])
    assert gone.exit_code == 0
    assert "deactivated" in runner.invoke(app, ["operators", "list"]).output
    assert not _authenticates(database, "olivia@finance.test", PASSWORD)


def test_the_prompt_asks_twice_and_refuses_a_short_password(database: str) -> None:
    runner = CliRunner()
    args = ["operators", "create", "--email", "oscar@finance.test", "--name", "Oscar Nwosu"]
    short = runner.invoke(app, args, input="short\nshort\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    made = runner.invoke(app, args, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert made.exit_code == 0, made.output
    assert PASSWORD not in made.output  # not echoed

    changed = runner.invoke(
        app, ["operators", "set-password", "--email", "oscar@finance.test", "--password-stdin"],
        input="an entirely new one\n",
    )  # fmt: skip
    assert changed.exit_code == 0
    assert _authenticates(database, "oscar@finance.test", "an entirely new one")
    assert not _authenticates(database, "oscar@finance.test", PASSWORD)


def test_there_is_no_password_argument(database: str) -> None:
    result = CliRunner().invoke(
        app, ["operators", "create", "--email", "a@b.test", "--name", "A", "--password", PASSWORD]
    )
    assert result.exit_code == 2
    assert "No such option" in result.output


def test_deactivating_someone_unknown_says_so(database: str) -> None:
    result = CliRunner().invoke(app, ["operators", "deactivate", "--email", "nobody@x.test"])
    assert result.exit_code == 1 and "no operator with e-mail nobody@x.test" in result.output


def test_an_sso_only_operator_has_no_password_to_sign_in_with(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    args = ["operators", "create", "--email", "sam@finance.test", "--name", "Sam", "--sso-only"]
    refused = runner.invoke(app, args)  # single sign-on is not configured
    assert refused.exit_code == 1 and "INVOICEFLOW_OPS_OIDC_ISSUER" in refused.output
    assert runner.invoke(app, ["operators", "list"]).output.startswith("no operators yet")

    monkeypatch.setenv("INVOICEFLOW_OPS_OIDC_ISSUER", "https://login.finance.test")
    monkeypatch.setenv("INVOICEFLOW_OPS_OIDC_CLIENT_ID", "invoiceflow-ops")
    monkeypatch.setenv("INVOICEFLOW_OPS_OIDC_CLIENT_SECRET", "s3cret")
    get_settings.cache_clear()
    both = runner.invoke(app, [*args, "--password-stdin"], input=PASSWORD + "\n")
    assert both.exit_code == 1 and "takes no password" in both.output

    created = runner.invoke(app, args)
    assert created.exit_code == 0, created.output
    assert "sign in with single sign-on" in created.output
    assert runner.invoke(app, ["operators", "list"]).output.strip() == (
        "sam@finance.test\tSam\tactive"
    )
    for guess in (PASSWORD, ""):
        assert not _authenticates(database, "sam@finance.test", guess)
