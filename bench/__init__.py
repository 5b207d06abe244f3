"""Benchmarks that print figures (not pass/fail tests). ``make bench`` runs ``bench.lifecycle``."""
