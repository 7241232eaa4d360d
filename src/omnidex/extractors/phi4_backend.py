"""Which Phi-4-multimodal answers an extractor: in this process, or a served model.

Every extractor that uses Phi-4-multimodal takes the same params, :class:`Phi4Options`:
``backend: transformers`` loads the model here (:mod:`omnidex.models.phi4mm`, shared by every
extractor naming the same model, device and dtype); ``backend: openai`` sends requests to a server
that speaks the OpenAI chat-completions protocol, such as vLLM
(:mod:`omnidex.models.openai_compat`). :func:`generator_for` builds the backend; its ``check``
makes sure the adapters an extractor needs are there before any work.

A ``base_url`` comes from whoever wrote the collection spec — on a server, a tenant — so it is not
trusted: unless the operator lists it in ``OMNIDEX_MODEL_ENDPOINTS``
(:attr:`omnidex.config.Settings.model_endpoints`), it must pass the same address guard as URL ingest
(public addresses only) and is sent no key. The operator's key, ``OMNIDEX_OPENAI_API_KEY``, goes to
the listed endpoints alone; which variable holds it is not a param.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from omnidex.config import Settings
from omnidex.extractors.base import ExtractorParams
from omnidex.models.phi4mm import DEFAULT_MODEL_ID, Dtype, get_phi4mm
from omnidex.models.prompts import Generator
from omnidex.sources.http import FetchPolicy, check_url

API_KEY_ENV = "OMNIDEX_OPENAI_API_KEY"
"""Holds the key sent to the operator's model endpoints — deliberately not ``OPENAI_API_KEY``, so
that a key meant for api.openai.com is never sent to a self-hosted server."""

Backend = Literal["transformers", "openai"]


class Phi4Options(ExtractorParams):
    """Where Phi-4-multimodal runs. With ``openai``, ``base_url`` names the server."""

    backend: Backend = Field("transformers", description="transformers (in process) or openai")
    model_id: str = Field(
        DEFAULT_MODEL_ID,
        min_length=1,
        description="hub id or local folder (transformers); the served base model name (openai)",
    )
    revision: str | None = Field(
        None, description=f"hub revision; default refs/pr/70 for {DEFAULT_MODEL_ID}"
    )
    device: str | None = Field(None, description="torch device; None: cuda if present, else cpu")
    dtype: Dtype = Field("auto", description="auto: bfloat16 on CUDA, float32 on CPU")
    base_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s]+$",
        description="the server's OpenAI API root, e.g. http://gpu-box:8000/v1 (backend openai)",
    )
    vision_model: str = Field("vision", min_length=1, description="served name of vision-lora")
    speech_model: str = Field("speech", min_length=1, description="served name of speech-lora")
    max_concurrency: int = Field(8, ge=1, le=256, description="requests in flight (openai)")
    timeout_s: float = Field(300, gt=0, le=3600, description="per request (openai)")

    @model_validator(mode="before")
    @classmethod
    def _no_key_variable(cls, data: Any) -> Any:
        """``api_key_env`` was a param; specs that spelled out its one harmless value, the
        default, still load. Any other value is refused: it named a secret to send."""
        if isinstance(data, dict) and "api_key_env" in data:
            if data["api_key_env"] != API_KEY_ENV:
                raise ValueError(
                    "api_key_env is not a param: a model server's key is operator configuration "
                    f"({API_KEY_ENV}, sent to the endpoints in OMNIDEX_MODEL_ENDPOINTS)"
                )
            data = {k: v for k, v in data.items() if k != "api_key_env"}
        return data

    @model_validator(mode="after")
    def _server_named(self) -> Self:
        if self.backend == "openai" and self.base_url is None:
            raise ValueError("backend 'openai' needs base_url, e.g. http://localhost:8000/v1")
        if self.backend == "transformers" and self.base_url is not None:
            raise ValueError("base_url is for backend 'openai'; set backend: openai")
        return self


def generator_for(options: Phi4Options) -> Generator:
    """The backend ``options`` name; an in-process model is loaded (once per process) now."""
    if options.backend == "transformers":
        return get_phi4mm(
            options.model_id, revision=options.revision, device=options.device, dtype=options.dtype
        )
    assert options.base_url is not None
    return _served(
        options.base_url,
        options.model_id,
        options.vision_model,
        options.speech_model,
        options.max_concurrency,
        options.timeout_s,
    )


@functools.cache
def _served(
    base_url: str,
    model: str,
    vision_model: str,
    speech_model: str,
    max_concurrency: int,
    timeout_s: float,
) -> Generator:
    """One client per server and settings, shared like an in-process model."""
    from omnidex.models.openai_compat import OpenAICompatGenerator

    return OpenAICompatGenerator(
        base_url,
        api_key=_key_for(base_url),
        model=model,
        adapter_models={"vision": vision_model, "speech": speech_model},
        max_concurrency=max_concurrency,
        timeout_s=timeout_s,
    )


def _key_for(base_url: str) -> str | None:
    """The operator's key if ``base_url`` is one of the operator's endpoints; else None, once
    the URL has passed the ingest address guard (:class:`~omnidex.errors.UnsafeUrlError`)."""
    endpoints = {url.rstrip("/") for url in Settings.from_env().model_endpoints}
    if base_url.rstrip("/") in endpoints:
        return os.environ.get(API_KEY_ENV)
    check_url(base_url, FetchPolicy())
    return None
