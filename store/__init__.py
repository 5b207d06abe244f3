"""Database access: engine and sessions, migrations, and the idempotent writes activities use."""
