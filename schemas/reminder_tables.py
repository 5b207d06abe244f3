"""Tables for reminder (see the migration)."""
