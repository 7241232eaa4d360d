"""The ingest progress bar: files done of all, failures so far, and an ETA recomputed per file.

Rich's own ETA column divides by a speed measured over the last 30 s of updates and needs two
of them in that window, so an ingest whose files take longer than that (a video) shows
``-:--:--`` throughout. Here the estimate is the mean time per file since the start, times the
files left; it is set again as each file ends and counts down in between.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn
from rich.text import Text

from omnidex.types import IngestResult, IngestStatus

UNKNOWN = "ETA -:--:--"


def clock(seconds: float) -> str:
    whole = max(0, round(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class FileEta(ProgressColumn):
    """Time left: unknown until the first file ends, then counting down to the estimate."""

    def render(self, task: Task) -> Text:
        due = task.fields.get("due")
        if task.finished:
            return Text(f"ETA {clock(0)}", style="progress.remaining")
        if due is None:
            return Text(UNKNOWN, style="progress.remaining")
        return Text(f"ETA {clock(due - time.monotonic())}", style="progress.remaining")


class IngestBar:
    """A bar over ``total`` files; :meth:`advance` takes each file's result as it ends."""

    def __init__(self, total: int, console: Console, disable: bool) -> None:
        self.total = total
        self.done: list[IngestResult] = []
        self._started = time.monotonic()
        self._bar = Progress(
            TextColumn("[bold]ingesting[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            FileEta(),
            TextColumn("{task.fields[failed]}"),
            TextColumn("{task.description}"),
            console=console,
            transient=True,
            disable=disable,
        )
        self._task = self._bar.add_task("", total=total, failed="", due=None)

    def __enter__(self) -> IngestBar:
        self._bar.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._bar.stop()

    def stop(self) -> None:
        self._bar.stop()

    def advance(self, result: IngestResult) -> None:
        self.done.append(result)
        now = time.monotonic()
        per_file = (now - self._started) / len(self.done)
        failed = sum(r.status is IngestStatus.FAILED for r in self.done)
        self._bar.update(
            self._task,
            advance=1,
            description=result.source[-40:],
            failed=f"[red]{failed} failed[/]" if failed else "",
            due=now + per_file * (self.total - len(self.done)),
        )
        self._bar.refresh()  # one frame per file, however fast they go
