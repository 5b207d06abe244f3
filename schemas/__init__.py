"""Pydantic models for workflow, activity and API inputs and results, and the SQLModel tables."""
