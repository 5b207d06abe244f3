"""Plumbing shared by the worker, the API and the CLI: settings, logging, Temporal client."""
