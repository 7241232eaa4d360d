"""OpenAICompatGenerator against a real local server speaking vLLM's chat-completions protocol."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from PIL import Image

from omnidex.errors import ModelServerError
from omnidex.extractors.phi4_backend import API_KEY_ENV
from omnidex.models.openai_compat import DEFAULT_MODEL, OpenAICompatGenerator
from omnidex.models.prompts import SAMPLE_RATE, Prompt

from .openai_server import Failure, OpenAIServer, openai_server

FAST = {"backoff_s": 0.001, "max_delay_s": 0.01, "timeout_s": 10.0}


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with openai_server() as running:
        yield running


@pytest.fixture(autouse=True)
def no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)


def generator(server: OpenAIServer, **options: Any) -> OpenAICompatGenerator:
    return OpenAICompatGenerator(server.url, **{**FAST, **options})


def image(width: int, height: int, mode: str = "RGB") -> Image.Image:
    pixels = np.random.default_rng(width * height).integers(0, 255, (height, width, 3), np.uint8)
    return Image.fromarray(pixels).convert(mode)


def tone(seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def fields(answer: str) -> dict[str, str]:
    """``model=vision images=2 … text=…`` as a dict (the text is the rest of the line)."""
    head, _, text = answer.partition(" text=")
    return {**dict(word.split("=", 1) for word in head.split()), "text": text}


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


# --- what travels -------------------------------------------------------------------------------


def test_images_arrive_intact_at_the_vision_adapter(server: OpenAIServer) -> None:
    prompt = Prompt("Describe the scene.", images=(image(64, 48), image(32, 32, "RGBA")))
    with generator(server) as gen:
        [answer] = gen.generate([prompt])
    assert fields(answer) == {
        "model": "vision",
        "images": "2",
        "sizes": "64x48,32x32",
        "format": "JPEG",
        "text": "Describe the scene.",
    }
    body = server.requests[0].body
    assert body["max_tokens"] == 256
    assert body["temperature"] == 0
    assert [part["type"] for part in body["messages"][0]["content"]] == [
        "image_url",
        "image_url",
        "text",
    ]


def test_png_images_on_request(server: OpenAIServer) -> None:
    with generator(server, image_format="PNG") as gen:
        [answer] = gen.generate([Prompt("What is this?", images=(image(7, 5, "L"),))])
    assert fields(answer)["format"] == "PNG"
    assert fields(answer)["sizes"] == "7x5"


def test_audio_arrives_intact_at_the_speech_adapter(server: OpenAIServer) -> None:
    loud = np.concatenate([tone(1.5), np.array([3.0, -3.0, np.nan], np.float32)])
    with generator(server) as gen:
        [answer] = gen.generate([Prompt("Transcribe.", audio=loud, max_new_tokens=64)])
    got = fields(answer)
    assert got["model"] == "speech"
    assert (got["rate"], got["channels"], got["text"]) == ("16000", "1", "Transcribe.")
    assert abs(float(got["audio_s"]) - len(loud) / SAMPLE_RATE) < 1e-3
    assert server.requests[0].body["max_tokens"] == 64


def test_text_alone_goes_to_the_base_model(server: OpenAIServer) -> None:
    with generator(server) as gen:
        [answer] = gen.generate([Prompt("Say hello.")])
    assert fields(answer) == {"model": DEFAULT_MODEL, "text": "Say hello."}


def test_adapter_names_are_configurable() -> None:
    with openai_server(base_model="phi") as server:
        with generator(server, model="phi") as gen:
            assert fields(gen.generate([Prompt("Hi.")])[0])["model"] == "phi"
        wrong = generator(server, adapter_models={"vision": "speech"})
        with wrong, pytest.raises(ModelServerError, match=r"HTTP 400 Bad Request$"):
            wrong.generate([Prompt("Look.", images=(image(8, 8),))])


def test_api_key_is_sent_only_when_given(monkeypatch: pytest.MonkeyPatch) -> None:
    with openai_server(api_key="s3cret") as server:
        with generator(server, api_key="s3cret") as gen:
            assert gen.generate([Prompt("Hi.")])
        monkeypatch.setenv(API_KEY_ENV, "s3cret")  # the caller picks the key, not the generator
        with generator(server) as gen, pytest.raises(ModelServerError, match="HTTP 401"):
            gen.generate([Prompt("Hi.")])
    assert server.requests[0].headers["authorization"] == "Bearer s3cret"


# --- concurrency --------------------------------------------------------------------------------


def test_answers_keep_the_order_of_the_prompts(server: OpenAIServer) -> None:
    server.delay_s = lambda text: 0.05 if text in ("prompt #0", "prompt #1") else 0.0  # last
    prompts = [Prompt(f"prompt #{i}") for i in range(10)]
    with generator(server, max_concurrency=4) as gen:
        answers = gen.generate(prompts)
    assert [fields(answer)["text"] for answer in answers] == [p.instruction for p in prompts]


def test_requests_in_flight_never_exceed_max_concurrency(server: OpenAIServer) -> None:
    server.delay_s = 0.05
    with generator(server, max_concurrency=3) as gen:
        answers = gen.generate([Prompt(f"prompt {i}") for i in range(12)])
    assert len(answers) == 12
    assert 1 < server.max_in_flight <= 3


def test_no_prompts_no_requests(server: OpenAIServer) -> None:
    with generator(server) as gen:
        assert gen.generate([]) == []
    assert server.requests == []


# --- failures -----------------------------------------------------------------------------------


def test_survives_429_500_and_503(server: OpenAIServer) -> None:
    server.fail_next(Failure(429, retry_after="0"), Failure(500), Failure(503, retry_after="0"))
    with generator(server, max_retries=3) as gen:
        [answer] = gen.generate([Prompt("Hi.")])
    assert fields(answer)["text"] == "Hi."
    assert len(server.requests) == 4


def test_retry_after_is_honoured_up_to_the_cap(server: OpenAIServer) -> None:
    server.fail_next(Failure(429, retry_after="30"))
    with generator(server, max_delay_s=0.2) as gen:
        gen.generate([Prompt("Hi.")])
    first, second = server.requests
    assert second.at - first.at >= 0.2


def test_gives_up_after_max_retries(server: OpenAIServer) -> None:
    server.fail_next(*[Failure(503, message="engine overloaded")] * 5)
    with generator(server, max_retries=2) as gen, pytest.raises(ModelServerError) as caught:
        gen.generate([Prompt("Hi.")])
    message = str(caught.value)
    assert "after 3 attempt(s)" in message
    assert "HTTP 503 Service Unavailable" in message
    assert caught.value.context["status"] == 503
    assert caught.value.code == "model_server_error"
    assert len(server.requests) == 3


def test_a_400_fails_at_once_and_the_servers_message_is_logged_not_quoted(
    server: OpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.fail_next(Failure(400, message="This model's maximum context length is 4096 tokens"))
    with generator(server) as gen, pytest.raises(ModelServerError) as caught:
        gen.generate([Prompt("Look.", images=(image(8, 8),))])
    message = str(caught.value)
    assert "HTTP 400 Bad Request" in message
    assert "maximum context length" not in message
    assert "maximum context length is 4096 tokens" in caplog.text
    assert "'vision'" in message
    assert caught.value.context == {
        "url": f"{server.url}/chat/completions",
        "model": "vision",
        "status": 400,
    }
    assert len(server.requests) == 1


def test_an_unknown_model_fails_at_once(server: OpenAIServer) -> None:
    gen = generator(server, adapter_models={"speech": "asr"})
    with gen, pytest.raises(ModelServerError, match="HTTP 404 Not Found"):
        gen.generate([Prompt("Transcribe.", audio=tone(0.1))])
    assert len(server.requests) == 1


def test_a_plain_text_error_body_is_logged_truncated(
    server: OpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.fail_next(Failure(413, message="Too Large, says the body" + "!" * 1000, raw=True))
    with generator(server) as gen, pytest.raises(ModelServerError) as caught:
        gen.generate([Prompt("Hi.")])
    assert "HTTP 413" in str(caught.value)
    assert "says the body" not in str(caught.value)
    logged = [r.getMessage() for r in caplog.records if "says the body!!!" in r.getMessage()]
    assert logged and all(len(line) < 500 for line in logged)


def test_one_failure_fails_the_batch(server: OpenAIServer) -> None:
    server.fail_next(Failure(422, message="bad prompt"))
    with generator(server, max_concurrency=1) as gen, pytest.raises(ModelServerError):
        gen.generate([Prompt(f"prompt {i}") for i in range(5)])


def test_timeout_is_a_clear_error() -> None:
    with openai_server(delay_s=5.0) as server:
        gen = generator(server, timeout_s=0.2, max_retries=1)
        with gen, pytest.raises(ModelServerError, match=r"after 2 attempt\(s\); last: timed out"):
            gen.generate([Prompt("Hi.")])
        assert len(server.requests) == 2


def test_connection_refused_is_a_clear_error() -> None:
    url = _closed_port_url()
    gen = OpenAICompatGenerator(url, max_retries=1, backoff_s=0.001)
    with gen, pytest.raises(ModelServerError, match="ConnectError") as caught:
        gen.generate([Prompt("Hi.")])
    assert url in str(caught.value)
    assert caught.value.context == {"url": f"{url}/chat/completions", "model": DEFAULT_MODEL}


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="http"):
        OpenAICompatGenerator("localhost:8000/v1")
    with pytest.raises(ValueError, match="max_concurrency"):
        OpenAICompatGenerator("http://localhost:8000/v1", max_concurrency=0)


# --- check --------------------------------------------------------------------------------------


def test_check_passes_when_every_model_is_served(server: OpenAIServer) -> None:
    with generator(server) as gen:
        gen.check()


def test_check_names_the_missing_adapters(server: OpenAIServer) -> None:
    gen = generator(server, model="phi", adapter_models={"speech": "asr"})
    with gen, pytest.raises(ModelServerError, match="does not serve phi, asr") as caught:
        gen.check(["vision", "speech"])
    assert "--lora-modules" in str(caught.value)
    assert caught.value.context["missing"] == ["phi", "asr"]


def test_check_looks_only_for_the_adapters_asked(server: OpenAIServer) -> None:
    with generator(server, adapter_models={"speech": "asr"}) as gen:
        gen.check(["vision"])
        gen.check([])
        with pytest.raises(ModelServerError, match="does not serve asr"):
            gen.check(["speech"])


def test_check_fails_when_the_server_is_unreachable() -> None:
    gen = OpenAICompatGenerator(_closed_port_url())
    with gen, pytest.raises(ModelServerError, match="cannot reach the model server"):
        gen.check()


def test_check_fails_on_a_wrong_path(server: OpenAIServer) -> None:
    gen = OpenAICompatGenerator(server.url.removesuffix("/v1"))
    with gen, pytest.raises(ModelServerError, match="HTTP 404 Not Found"):
        gen.check()
