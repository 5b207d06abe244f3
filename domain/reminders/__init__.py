"""Reminders (dunning): when each step of a schedule is due, and what a late-payment charge
adds. Pure and deterministic: the workflow plans with ``schedule``, the reminder activity
prices charges with ``charges`` from dated ``reference_rates``."""
