"""``invoiceflow approvals``: the approval configuration (rules, approvers, groups,
delegations) through the running API, so the CLI's changes are checked, versioned and
audited exactly as an upstream app's are.

Each kind has ``list``, ``show``, ``create``, ``update`` (a new version; only the fields
given change) and ``deactivate`` (nothing is deleted). Bodies are the API's JSON, given with
``--json '{...}'``, ``--file body.json`` and/or ``--set field=value`` (a value that parses
as JSON is taken as JSON: ``--set min_amount_minor=800000 --set currencies='["GBP"]'``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import typer

from cli.failures import api_errors, fail

app = typer.Typer(
    no_args_is_help=True,
    help="Approval configuration: rules, approvers, groups and delegations (via the API).",
)

ApiUrl = typer.Option(
    "http://127.0.0.1:8000", "--api-url", envvar="INVOICEFLOW_API_URL", help="the running API"
)
ApiKey = typer.Option(
    None, "--api-key", envvar="INVOICEFLOW_API_KEY", help="default: the dev stack's key"
)
JsonBody = typer.Option(None, "--json", help="the body, a JSON object")
FileBody = typer.Option(None, "--file", help="a file holding the body (JSON)")
Sets = typer.Option(None, "--set", help="field=value (repeatable); the value may be JSON")
All = typer.Option(False, "--all", help="include deactivated ones")


def _key(api_key: str | None) -> str:
    if api_key:
        return api_key
    from cli.devstack import DEV_KEY_FILE

    if DEV_KEY_FILE.exists():
        return DEV_KEY_FILE.read_text().strip()
    raise fail("No API key: pass --api-key or set INVOICEFLOW_API_KEY (or start `make run`).")


def body_of(json_body: str | None, file: Path | None, sets: list[str] | None) -> dict[str, Any]:
    """The request body from --json, --file and --set (later ones win)."""
    body: dict[str, Any] = {}
    for source, text in (("--file", file.read_text() if file else None), ("--json", json_body)):
        if text is None:
            continue
        try:
            value = json.loads(text)
        except ValueError as err:
            raise typer.BadParameter(f"not JSON: {err}", param_hint=source) from err
        if not isinstance(value, dict):
            raise typer.BadParameter("the body must be a JSON object", param_hint=source)
        body.update(value)
    for item in sets or []:
        field, sep, raw = item.partition("=")
        if not sep or not field:
            raise typer.BadParameter(f"{item!r} is not field=value", param_hint="--set")
        try:
            body[field] = json.loads(raw)
        except ValueError:
            body[field] = raw
    return body


def call(api_url: str, api_key: str | None, method: str, path: str, **kwargs: Any) -> None:
    """One API call; prints the JSON answer (or what was done), exits 1 with the problem."""
    with api_errors(api_url):
        with httpx.Client(
            base_url=api_url, headers={"Authorization": f"Bearer {_key(api_key)}"}, timeout=15
        ) as client:
            response = client.request(method, path, **kwargs)
            response.raise_for_status()
    if response.status_code == 204:
        typer.echo(f"{method} {path}: done")
    else:
        typer.echo(json.dumps(response.json(), indent=2, ensure_ascii=False))


def _kind(name: str, path: str, what: str) -> typer.Typer:
    """The five commands of one kind of configuration, at ``path``."""
    kind = typer.Typer(no_args_is_help=True, help=f"Approval {what}.")

    @kind.command("list")
    def list_(api_url: str = ApiUrl, api_key: str | None = ApiKey, all_: bool = All) -> None:
        """List them (active ones unless --all)."""
        call(api_url, api_key, "GET", path, params={"include_inactive": all_})

    @kind.command("show")
    def show(item_id: str, api_url: str = ApiUrl, api_key: str | None = ApiKey) -> None:
        """Show one, with its version."""
        call(api_url, api_key, "GET", f"{path}/{item_id}")

    @kind.command("create")
    def create(
        api_url: str = ApiUrl,
        api_key: str | None = ApiKey,
        json_body: str | None = JsonBody,
        file: Path | None = FileBody,
        sets: list[str] | None = Sets,
    ) -> None:
        """Create one from a JSON body."""
        call(api_url, api_key, "POST", path, json=body_of(json_body, file, sets))

    @kind.command("update")
    def update(
        item_id: str,
        api_url: str = ApiUrl,
        api_key: str | None = ApiKey,
        json_body: str | None = JsonBody,
        file: Path | None = FileBody,
        sets: list[str] | None = Sets,
    ) -> None:
        """Change the fields given (a new version; running approval rounds keep theirs)."""
        body = body_of(json_body, file, sets)
        if not body:
            raise typer.BadParameter("nothing to change: give --set, --json or --file")
        call(api_url, api_key, "PATCH", f"{path}/{item_id}", json=body)

    @kind.command("deactivate")
    def deactivate(item_id: str, api_url: str = ApiUrl, api_key: str | None = ApiKey) -> None:
        """Deactivate one (it stays, with active: false, for the audit)."""
        call(api_url, api_key, "DELETE", f"{path}/{item_id}")

    app.add_typer(kind, name=name)
    return kind


_kind("rules", "/approval-rules", "rules: when an invoice needs approval, and by whom")
_kind("approvers", "/approvers", "approvers: the people who approve by link")
_kind("groups", "/approver-groups", "groups: approvers who share a level")

delegations = typer.Typer(
    no_args_is_help=True, help="Delegations: who stands in for an approver who is away."
)
app.add_typer(delegations, name="delegations")


def _delegations(approver_id: str) -> str:
    return f"/approvers/{approver_id}/delegations"


@delegations.command("list")
def delegations_list(approver_id: str, api_url: str = ApiUrl, api_key: str | None = ApiKey) -> None:
    """An approver's delegations, revoked ones included."""
    call(api_url, api_key, "GET", _delegations(approver_id))


@delegations.command("show")
def delegations_show(
    approver_id: str, delegation_id: str, api_url: str = ApiUrl, api_key: str | None = ApiKey
) -> None:
    call(api_url, api_key, "GET", f"{_delegations(approver_id)}/{delegation_id}")


@delegations.command("create")
def delegations_create(
    approver_id: str,
    api_url: str = ApiUrl,
    api_key: str | None = ApiKey,
    json_body: str | None = JsonBody,
    file: Path | None = FileBody,
    sets: list[str] | None = Sets,
) -> None:
    """E.g. --set delegate_id=bob --set starts=2026-12-20 --set ends=2026-12-31."""
    body = body_of(json_body, file, sets)
    call(api_url, api_key, "POST", _delegations(approver_id), json=body)


@delegations.command("update")
def delegations_update(
    approver_id: str,
    delegation_id: str,
    api_url: str = ApiUrl,
    api_key: str | None = ApiKey,
    json_body: str | None = JsonBody,
    file: Path | None = FileBody,
    sets: list[str] | None = Sets,
) -> None:
    body = body_of(json_body, file, sets)
    if not body:
        raise typer.BadParameter("nothing to change: give --set, --json or --file")
    call(api_url, api_key, "PATCH", f"{_delegations(approver_id)}/{delegation_id}", json=body)


@delegations.command("deactivate")
def delegations_deactivate(
    approver_id: str, delegation_id: str, api_url: str = ApiUrl, api_key: str | None = ApiKey
) -> None:
    """Revoke the delegation: links go to the approver again."""
    call(api_url, api_key, "DELETE", f"{_delegations(approver_id)}/{delegation_id}")
