"""The sandbox: every way a child can fail becomes a typed error, and the parent goes on."""

from __future__ import annotations

import ctypes
import os
import time
from pathlib import Path
from typing import Any

import pytest

from omnidex.config import Limits
from omnidex.errors import CorruptMediaError, EmptyFileError, LimitExceededError
from omnidex.media.av_probe import MediaInfo, probe
from omnidex.media.sandbox import run_isolated


def test_returns_the_result() -> None:
    assert run_isolated(divmod, 7, 2, timeout_s=30, source="x") == (3, 1)


def test_a_child_past_its_time_is_killed() -> None:
    started = time.monotonic()
    with pytest.raises(LimitExceededError) as info:
        run_isolated(time.sleep, 60, timeout_s=1, source="slow.mp4")
    assert time.monotonic() - started < 30
    assert info.value.context == {"source": "slow.mp4", "limit": "decode_timeout_s"}


def test_an_abort_is_a_corrupt_media_error() -> None:
    with pytest.raises(CorruptMediaError, match="SIGABRT") as info:
        run_isolated(os.abort, timeout_s=30, source="bad.mp4")
    assert info.value.context["source"] == "bad.mp4"


def test_a_segfault_is_a_corrupt_media_error() -> None:
    with pytest.raises(CorruptMediaError, match="SIGSEGV"):
        run_isolated(ctypes.string_at, 0, timeout_s=30, source="bad.mp4")


def test_a_non_zero_exit_is_a_corrupt_media_error() -> None:
    with pytest.raises(CorruptMediaError, match="exit code 3"):
        run_isolated(os._exit, 3, timeout_s=30, source="bad.mp4")


def test_other_exceptions_become_corrupt_media_errors() -> None:
    with pytest.raises(CorruptMediaError, match="ValueError: invalid literal"):
        run_isolated(int, "not a number", timeout_s=30, source="bad.mp4")


def test_omnidex_errors_keep_their_class_message_and_context(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(EmptyFileError) as info:
        run_isolated(probe, empty, Limits(), timeout_s=30, source=str(empty))
    assert info.value.message == f"{empty}: the file is empty"
    assert info.value.context == {"source": str(empty)}


def test_the_parent_goes_on_after_a_crash(av_media: Any) -> None:
    with pytest.raises(CorruptMediaError):
        run_isolated(os.abort, timeout_s=30, source="bad.mp4")
    clip = av_media.video()
    info = run_isolated(probe, clip, Limits(), timeout_s=30, source=str(clip))
    assert isinstance(info, MediaInfo) and info.has_video
