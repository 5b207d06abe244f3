"""Connecting to Temporal: the same pydantic data converter on every client and worker."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RetryConfig

from core.settings import Settings


async def connect(settings: Settings, *, retry_for_s: float | None = None) -> Client:
    """`retry_for_s` bounds how long a call keeps retrying while Temporal is unreachable
    (the SDK's default is about 10 s): the API answers 503 after it instead of hanging.
    Workers and the CLI keep the default."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        retry_config=(
            RetryConfig(max_elapsed_time_millis=int(retry_for_s * 1000))
            if retry_for_s is not None
            else None
        ),
    )
