"""A real local HTTP server that speaks the OpenAI chat-completions protocol as vLLM serves
Phi-4-multimodal with its ``vision`` and ``speech`` LoRA adapters.

``GET /v1/models`` lists the base model and the adapters; ``POST /v1/chat/completions`` checks
the body the way vLLM does (unknown model: 404; missing messages, a bad data URL, bad base64, an
image that does not decode, a WAV that does not parse: 400 with vLLM's error JSON), decodes every
image with PIL and every clip with ``wave``, and answers a deterministic ``chat.completion`` whose
content says what arrived, e.g. ``model=vision images=2 sizes=64x48,32x32 text=Describe``. It is
stricter than vLLM in one way, to catch routing mistakes: images are only accepted by the
``vision`` adapter and audio only by ``speech``.

It can be scripted to fail first (:meth:`OpenAIServer.fail_next`), to take its time
(``delay_s``), and it records what it received, including the most requests it saw in flight.
Use it through :func:`openai_server`, a context manager.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import threading
import time
import wave
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image, UnidentifiedImageError

BASE_MODEL = "microsoft/Phi-4-multimodal-instruct"
ADAPTERS = {"vision": "image_url", "speech": "input_audio"}
"""Each adapter's model name and the one media part type it accepts."""


class BadRequest(Exception):
    """Answered as HTTP ``status`` with vLLM's error JSON."""

    def __init__(self, message: str, status: int = 400, kind: str = "BadRequestError") -> None:
        super().__init__(message)
        self.message, self.status, self.kind = message, status, kind


@dataclass(frozen=True)
class Failure:
    """A scripted answer: ``status``, an optional ``Retry-After`` header, and either vLLM's error
    JSON around ``message`` or, with ``raw``, ``message`` as plain text."""

    status: int
    retry_after: str | None = None
    message: str = "scripted failure"
    raw: bool = False


@dataclass(frozen=True)
class Received:
    """One chat-completions request as it arrived."""

    body: dict[str, Any]
    headers: dict[str, str]
    at: float
    """``time.monotonic()`` on arrival."""


@dataclass
class OpenAIServer:
    """The server's state and script; :attr:`url` is the ``base_url`` a client takes."""

    base_model: str = BASE_MODEL
    api_key: str | None = None
    delay_s: float | Callable[[str], float] = 0.0
    """Seconds each chat request takes; a callable gets the request's text."""
    reply: Callable[[str], str] | None = None
    """The answer's content from the request described in words; None: that description."""
    requests: list[Received] = field(default_factory=list)
    max_in_flight: int = 0
    url: str = ""
    _failures: deque[Failure] = field(default_factory=deque)
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)

    def fail_next(self, *failures: Failure) -> None:
        """Answer the next chat requests with these failures, in order, then normally."""
        with self._lock:
            self._failures.extend(failures)

    @property
    def models(self) -> list[str]:
        return [self.base_model, *ADAPTERS]

    def chat(self, body: Any, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
        """Status, extra headers and JSON text of the answer to one chat request."""
        with self._lock:
            self.requests.append(Received(body, headers, time.monotonic()))
            failure = self._failures.popleft() if self._failures else None
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if failure is not None:
                return _failure_answer(failure)
            self._authorize(headers)
            content = describe(body, self.models)
            if self.reply is not None:
                content = self.reply(content)
            self._stopping.wait(self._delay(body))
            return 200, {}, json.dumps(completion(body["model"], content))
        except BadRequest as exc:
            return exc.status, {}, json.dumps(_error(exc.message, exc.kind, exc.status))
        finally:
            with self._lock:
                self._in_flight -= 1

    def _authorize(self, headers: dict[str, str]) -> None:
        if self.api_key and headers.get("authorization") != f"Bearer {self.api_key}":
            raise BadRequest("Unauthorized", 401, "AuthenticationError")

    def _delay(self, body: dict[str, Any]) -> float:
        if callable(self.delay_s):
            return self.delay_s(_text(body["messages"]))
        return self.delay_s


def describe(body: Any, served: list[str]) -> str:
    """What a valid request holds, in words; :class:`BadRequest` where vLLM would refuse it."""
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    model = body.get("model")
    if model not in served:
        raise BadRequest(f"The model `{model}` does not exist.", 404, "NotFoundError")
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise BadRequest("max_tokens must be at least 1")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: Field required")
    parts = [part for message in messages for part in _parts(message)]
    for part in parts:
        accepted_by = [name for name, kind in ADAPTERS.items() if kind == part.get("type")]
        if accepted_by and model not in accepted_by:
            raise BadRequest(f"model `{model}` does not accept {part['type']} parts")
    images = [_image(part) for part in parts if part.get("type") == "image_url"]
    clips = [_clip(part) for part in parts if part.get("type") == "input_audio"]
    words = [f"model={model}"]
    if images:
        sizes = ",".join(f"{image.width}x{image.height}" for image in images)
        words += [f"images={len(images)}", f"sizes={sizes}", f"format={images[0].format}"]
    if clips:
        words += [f"audio={len(clips)}", *clips]
    words.append(f"text={_text(messages)}")
    return " ".join(words)


def completion(model: str, content: str) -> dict[str, Any]:
    prompt_tokens, completion_tokens = 10, len(content.split())
    return {
        "id": "chatcmpl-omnidex-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _parts(message: Any) -> list[dict[str, Any]]:
    if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant"):
        raise BadRequest("each message needs a role: system, user or assistant")
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not all(isinstance(p, dict) for p in content):
        raise BadRequest("message content must be a string or a list of parts")
    unknown = {p.get("type") for p in content} - {"text", "image_url", "input_audio"}
    if unknown:
        raise BadRequest(f"unknown content part type(s): {sorted(map(str, unknown))}")
    return content


def _text(messages: list[Any]) -> str:
    return " ".join(
        part["text"] for message in messages for part in _parts(message) if part["type"] == "text"
    )


def _image(part: dict[str, Any]) -> Image.Image:
    url = str(part.get("image_url", {}).get("url", ""))
    header, _, data = url.partition(",")
    if not header.startswith("data:image/") or not header.endswith(";base64"):
        raise BadRequest(f"image_url must be a base64 data URL, got {url[:40]!r}")
    try:
        image = Image.open(io.BytesIO(_b64decode(data)))
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise BadRequest(f"cannot decode image: {exc}") from exc
    return image


def _clip(part: dict[str, Any]) -> str:
    audio = part.get("input_audio", {})
    if audio.get("format") != "wav":
        raise BadRequest(f"unsupported audio format {audio.get('format')!r}")
    try:
        with wave.open(io.BytesIO(_b64decode(str(audio.get("data", ""))))) as clip:
            rate, frames = clip.getframerate(), clip.getnframes()
            return f"rate={rate} channels={clip.getnchannels()} audio_s={frames / rate:.4f}"
    except (wave.Error, EOFError) as exc:
        raise BadRequest(f"cannot decode audio: {exc}") from exc


def _b64decode(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except binascii.Error as exc:
        raise BadRequest(f"invalid base64 data: {exc}") from exc


def _failure_answer(failure: Failure) -> tuple[int, dict[str, str], str]:
    headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
    if failure.raw:
        return failure.status, {**headers, "Content-Type": "text/plain"}, failure.message
    return (
        failure.status,
        headers,
        json.dumps(_error(failure.message, "ServerError", failure.status)),
    )


def _error(message: str, kind: str, status: int) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": status}}


def _handler(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes

        def do_GET(self) -> None:
            if self.path != "/v1/models":
                self._send(404, {}, json.dumps(_error("Not Found", "NotFoundError", 404)))
                return
            data = [{"id": name, "object": "model", "owned_by": "vllm"} for name in server.models]
            self._send(200, {}, json.dumps({"object": "list", "data": data}))

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path != "/v1/chat/completions":
                self._send(404, {}, json.dumps(_error("Not Found", "NotFoundError", 404)))
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._send(400, {}, json.dumps(_error("invalid JSON", "BadRequestError", 400)))
                return
            headers = {key.lower(): value for key, value in self.headers.items()}
            self._send(*server.chat(body, headers))

        def _send(self, status: int, headers: dict[str, str], text: str) -> None:
            payload = text.encode()
            headers = {"Content-Type": "application/json", **headers}
            headers["Content-Length"] = str(len(payload))
            try:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test); nobody is left to answer

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read :attr:`OpenAIServer.requests` instead."""

    return Handler


@contextmanager
def openai_server(**options: Any) -> Iterator[OpenAIServer]:
    """A running server on 127.0.0.1 (a free port) for the ``with`` block; ``options`` are
    :class:`OpenAIServer` fields (``api_key``, ``delay_s``, ``base_model``, ``reply``)."""
    state = OpenAIServer(**options)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()
