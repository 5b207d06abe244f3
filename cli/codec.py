"""``invoiceflow codec``: keys for the payload codec (core/codec.py).

A key is made here, printed once, and kept by whoever runs the deployment (a secret
store, the compose ``--env-file``); InvoiceFlow never writes it anywhere itself.
"""

from __future__ import annotations

import re

import typer

from cli.failures import fail
from core.codec import new_key_text

app = typer.Typer(no_args_is_help=True, help="Payload encryption keys for Temporal.")

KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@app.command("new-key")
def new_key(
    key_id: str = typer.Argument(..., help="the key's id, e.g. '2026-12' (kept in each payload)"),
) -> None:
    """Print a fresh AES-256 key as 'id:base64key' for INVOICEFLOW_CODEC_KEYS.

    To rotate, put the new key first (or name it in INVOICEFLOW_CODEC_KEY_ID) and keep
    the old ones listed: new payloads are sealed with the new key, old ones still open.
    """
    if not KEY_ID.fullmatch(key_id):
        raise fail(
            "A key id is 1 to 64 letters, digits, '.', '_' or '-' (it is stored in payloads)."
        )
    typer.echo(new_key_text(key_id))
