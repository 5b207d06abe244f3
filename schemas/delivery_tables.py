"""Tables for delivery (see the migration)."""
