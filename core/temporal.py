"""Connecting to Temporal: one data converter and one set of interceptors for every client
and worker, so the API, the workers, the CLI and the tests read each other's payloads."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime
from temporalio.service import RetryConfig

from core.codec import EncryptionCodec
from core.settings import Settings


def data_converter(settings: Settings) -> DataConverter:
    """The pydantic converter every process uses, encrypting every payload when codec keys
    are configured (core/codec.py)."""
    key_id = settings.effective_codec_key_id
    if key_id is None:
        return pydantic_data_converter
    codec = EncryptionCodec(settings.codec_key_table, key_id)
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec)


def client_interceptors(settings: Settings) -> Sequence[Interceptor]:
    """Interceptors every client carries, and with it every worker built on that client
    (tracing plugs in here: the SDK's TracingInterceptor when tracing is on)."""
    if settings.tracing_enabled:
        from core.tracing import temporal_interceptors

        return temporal_interceptors()
    return ()


async def connect(
    settings: Settings, *, retry_for_s: float | None = None, runtime: Runtime | None = None
) -> Client:
    """`retry_for_s` bounds how long a call keeps retrying while Temporal is unreachable
    (the SDK's default is about 10 s): the API answers 503 after it instead of hanging.
    Workers and the CLI keep the default. `runtime`: the worker's, carrying its telemetry."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        interceptors=client_interceptors(settings),
        runtime=runtime,
        retry_config=(
            RetryConfig(max_elapsed_time_millis=int(retry_for_s * 1000))
            if retry_for_s is not None
            else None
        ),
    )
