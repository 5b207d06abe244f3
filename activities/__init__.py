"""Thin activity classes: every side effect of a workflow goes through one of these."""
