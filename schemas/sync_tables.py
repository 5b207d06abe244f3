"""Tables for sync (see the migration)."""
