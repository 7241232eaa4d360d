"""A Ctrl-C that lands inside a finalizer is swallowed by Python ("Exception ignored"); inside
``interrupts.guarded()`` the next checkpoint raises it again, so an ingest still stops."""

from __future__ import annotations

import gc
import signal

import pytest

from omnidex.pipeline import interrupts


class SwallowsCtrlC:
    """Presses Ctrl-C from its finalizer, where Python cannot let the KeyboardInterrupt out."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)


def press_ctrl_c_in_a_finalizer() -> None:
    SwallowsCtrlC()
    gc.collect()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_swallowed_ctrl_c_is_raised_at_the_next_checkpoint() -> None:
    with interrupts.guarded():
        press_ctrl_c_in_a_finalizer()  # returns normally: the interrupt was swallowed
        with pytest.raises(KeyboardInterrupt):
            interrupts.checkpoint()
    interrupts.checkpoint()  # leaving the block forgets it


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_without_the_guard_python_loses_it() -> None:
    """The defect the guard exists for, shown with Python's own handler."""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    press_ctrl_c_in_a_finalizer()
    interrupts.checkpoint()  # nothing was remembered


def test_the_guard_restores_the_handler_it_replaced() -> None:
    before = signal.getsignal(signal.SIGINT)
    with interrupts.guarded():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before
