"""Workflow definitions only: orchestration, no I/O, no clock, no randomness."""
