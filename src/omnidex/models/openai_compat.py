"""Phi-4-multimodal served behind the OpenAI chat-completions protocol, as a :class:`Generator`.

Serve the model with vLLM, its two LoRA adapters registered under their own model names::

    vllm serve microsoft/Phi-4-multimodal-instruct --trust-remote-code \\
        --enable-lora --max-lora-rank 320 \\
        --lora-modules vision=<model dir>/vision-lora speech=<model dir>/speech-lora

and point :class:`OpenAICompatGenerator` at ``http://<host>:8000/v1``. Each prompt becomes one
``POST /chat/completions`` whose ``model`` picks the adapter: ``vision`` for images, ``speech`` for
audio, the base model for text alone. Images travel as base64 data URLs, audio as a base64 WAV
(16 kHz, mono, 16-bit); decoding is greedy (``temperature`` 0). Prompts run concurrently, at most
``max_concurrency`` at a time; 429, 5xx, timeouts and dropped connections are retried with
exponential backoff and jitter (``Retry-After`` is honoured on 429 and 503, capped), any other 4xx
fails at once. Every failure is a :class:`~omnidex.errors.ModelServerError`.

The API key, when the server wants one (``vllm serve --api-key``), is ``api_key``: the caller
decides which server may see which key (:mod:`omnidex.extractors.phi4_backend` sends the operator's
``OMNIDEX_OPENAI_API_KEY`` to the operator's endpoints only). A reply's body is logged here, never
put in an error: an error may travel to a tenant, and the body of a server it pointed at may hold
anything.
"""

from __future__ import annotations

import base64
import io
import logging
import random
import time
import wave
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import httpx
import numpy as np

from omnidex.errors import ModelServerError
from omnidex.models.prompts import SAMPLE_RATE, Adapter, Prompt

if TYPE_CHECKING:
    from PIL import Image

DEFAULT_MODEL = "microsoft/Phi-4-multimodal-instruct"
_JPEG_QUALITY = 95
_MESSAGE_CHARS = 300

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Retryable:
    """A failed attempt worth repeating: its HTTP status (None: no answer) and why."""

    status: int | None
    reason: str
    retry_after_s: float | None = None


class OpenAICompatGenerator:
    """A :class:`~omnidex.models.prompts.Generator` answered by an OpenAI-compatible server.

    Thread-safe: one connection pool and one worker pool keep at most ``max_concurrency``
    requests in flight across all callers. Close it, or use it as a context manager, when done.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str = DEFAULT_MODEL,
        adapter_models: Mapping[Adapter, str] | None = None,
        max_concurrency: int = 8,
        timeout_s: float = 120.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        max_delay_s: float = 30.0,
        image_format: Literal["JPEG", "PNG"] = "JPEG",
    ) -> None:
        if httpx.URL(base_url).scheme not in ("http", "https"):
            raise ValueError(
                f"base_url must be an http(s) URL like http://host:8000/v1: {base_url}"
            )
        if max_concurrency < 1 or max_retries < 0:
            raise ValueError("max_concurrency must be at least 1 and max_retries at least 0")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.adapter_models: dict[Adapter, str] = {
            "vision": "vision",
            "speech": "speech",
            **(adapter_models or {}),
        }
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_delay_s = max_delay_s
        self.image_format = image_format
        self._client = httpx.Client(
            headers={"Authorization": f"Bearer {api_key}"} if api_key else None,
            timeout=timeout_s,
            limits=httpx.Limits(
                max_connections=max_concurrency, max_keepalive_connections=max_concurrency
            ),
        )
        self._pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="omnidex-openai")

    def generate(self, prompts: Sequence[Prompt]) -> list[str]:
        """The answer to each prompt, in the order given; the first failure raises."""
        return list(self._pool.map(self._answer, prompts))

    def check(self, adapters: Iterable[Adapter] = ("vision", "speech")) -> None:
        """Raise :class:`ModelServerError` unless the server answers ``GET /models`` and lists
        the base model and the model names of ``adapters`` (vLLM lists each ``--lora-modules``
        name there, and its base model always)."""
        url = f"{self.base_url}/models"
        try:
            response = self._client.get(url)
        except httpx.TransportError as exc:
            raise ModelServerError(
                f"cannot reach the model server at {url}: {type(exc).__name__}: {exc}", url=url
            ) from exc
        if not response.is_success:
            raise ModelServerError(
                f"model server at {url} answered {_status(response)}",
                url=url,
                status=response.status_code,
            )
        served = _model_ids(response, url)
        wanted = [self.model, *(self.adapter_models[adapter] for adapter in adapters)]
        missing = [name for name in dict.fromkeys(wanted) if name not in served]
        if missing:
            raise ModelServerError(
                f"model server at {url} does not serve {', '.join(missing)} "
                f"(it serves: {', '.join(sorted(served)) or 'nothing'}); start vLLM with "
                "--enable-lora --lora-modules vision=<path> speech=<path>, "
                "or set model and adapter_models to the names it serves",
                url=url,
                missing=missing,
            )

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)
        self._client.close()

    def __enter__(self) -> OpenAICompatGenerator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _answer(self, prompt: Prompt) -> str:
        model = self.adapter_models[prompt.adapter] if prompt.adapter else self.model
        body = {
            "model": model,
            "messages": [{"role": "user", "content": self._content(prompt)}],
            "max_tokens": prompt.max_new_tokens,
            "temperature": 0,
        }
        return self._complete(body, model)

    def _content(self, prompt: Prompt) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = [
            {"type": "image_url", "image_url": {"url": _image_data_url(image, self.image_format)}}
            for image in prompt.images
        ]
        if prompt.audio is not None:
            wav = base64.b64encode(_wav_bytes(prompt.audio)).decode("ascii")
            parts.append({"type": "input_audio", "input_audio": {"data": wav, "format": "wav"}})
        parts.append({"type": "text", "text": prompt.instruction})
        return parts

    def _complete(self, body: dict[str, Any], model: str) -> str:
        url = f"{self.base_url}/chat/completions"
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            outcome = self._attempt(url, body, model)
            if isinstance(outcome, str):
                return outcome
            failure = outcome
            if attempt + 1 < attempts:
                delay = self._delay(attempt, failure.retry_after_s)
                log.warning(
                    "%s, model %r: %s; retry %d of %d in %.2f s",
                    url,
                    model,
                    failure.reason,
                    attempt + 1,
                    self.max_retries,
                    delay,
                )
                time.sleep(delay)
        raise ModelServerError(
            f"model server at {url} failed for model {model!r} after {attempts} attempt(s); "
            f"last: {failure.reason}",
            url=url,
            model=model,
            status=failure.status,
        )

    def _attempt(self, url: str, body: dict[str, Any], model: str) -> str | _Retryable:
        """One request: the answer, a failure worth retrying, or a :class:`ModelServerError`."""
        try:
            response = self._client.post(url, json=body)
        except httpx.TimeoutException as exc:
            return _Retryable(None, f"timed out after {self.timeout_s:g} s ({type(exc).__name__})")
        except httpx.TransportError as exc:
            return _Retryable(None, f"{type(exc).__name__}: {exc}")
        status = response.status_code
        if response.is_success:
            return _answer_text(response, url, model)
        reason = _status(response)
        if status == 429 or status >= 500:
            return _Retryable(status, reason, _retry_after_s(response))
        raise ModelServerError(
            f"model server at {url} rejected the request for model {model!r}: {reason}",
            url=url,
            model=model,
            status=status,
        )

    def _delay(self, attempt: int, retry_after_s: float | None) -> float:
        """Seconds before the next attempt: the server's ``Retry-After`` if it sent one, else
        exponential backoff with jitter; capped at ``max_delay_s``."""
        if retry_after_s is None:
            retry_after_s = self.backoff_s * 2**attempt * random.uniform(0.5, 1.5)
        return min(retry_after_s, self.max_delay_s)


def _image_data_url(image: Image.Image, image_format: Literal["JPEG", "PNG"]) -> str:
    buffer = io.BytesIO()
    if image_format == "JPEG":
        image.convert("RGB").save(buffer, format="JPEG", quality=_JPEG_QUALITY)
    else:
        image.save(buffer, format="PNG")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"data:image/{image_format.lower()};base64,{data}"


def _wav_bytes(audio: np.ndarray) -> bytes:
    """16 kHz mono float samples in -1..1 as a 16-bit PCM WAV file."""
    samples = np.asarray(audio, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError(f"audio must be mono, one dimension; got shape {samples.shape}")
    pcm = np.round(np.clip(np.nan_to_num(samples), -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def _answer_text(response: httpx.Response, url: str, model: str) -> str:
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, LookupError, TypeError):
        content = None
    if not isinstance(content, str):
        _log_body(response)
        raise ModelServerError(
            f"model server at {url} sent a malformed completion for model {model!r}",
            url=url,
            model=model,
            status=response.status_code,
        )
    return content


def _model_ids(response: httpx.Response, url: str) -> set[str]:
    try:
        return {str(item["id"]) for item in response.json()["data"]}
    except (ValueError, LookupError, TypeError) as exc:
        _log_body(response)
        raise ModelServerError(
            f"model server at {url} sent a malformed model list",
            url=url,
        ) from exc


def _status(response: httpx.Response) -> str:
    """``HTTP 400 Bad Request``: what an error may say of a failed answer. Its body (a vLLM
    message, or whatever a server answers) is logged for the operator, never quoted."""
    _log_body(response)
    return f"HTTP {response.status_code} {response.reason_phrase}".rstrip()


def _log_body(response: httpx.Response) -> None:
    log.warning(
        "model server %s answered HTTP %d: %s",
        response.request.url,
        response.status_code,
        _server_message(response),
    )


def _server_message(response: httpx.Response) -> str:
    """The error message in a failed answer: ``{"error": {"message": …}}`` (OpenAI, vLLM),
    ``{"error": "…"}``, ``{"message": …}``, else the raw text, truncated."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error")
        for message in (
            error.get("message") if isinstance(error, dict) else error,
            payload.get("message"),
        ):
            if isinstance(message, str) and message:
                return _truncate(message)
    return _truncate(response.text.strip()) or response.reason_phrase


def _retry_after_s(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds on a 429 or 503; an HTTP date or garbage counts as absent."""
    if response.status_code not in (429, 503):
        return None
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _truncate(text: str) -> str:
    return text if len(text) <= _MESSAGE_CHARS else text[:_MESSAGE_CHARS] + "…"
