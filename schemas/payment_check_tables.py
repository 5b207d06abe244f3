"""Tables for payment check (see the migration)."""
