"""Test plumbing: real databases, real servers on loopback ports."""
