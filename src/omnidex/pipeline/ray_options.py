"""How the Ray runner joins a cluster (:mod:`omnidex.pipeline.ray_runner`).

Apart from the runner so that choosing it (the CLI's options, the server's settings, the embedded
API's ``runner`` argument) does not import the runner's machinery.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None
    """A cluster to join: ``ray://host:10001`` (Ray Client), ``host:6379``, or ``auto`` (the one
    started with ``ray start`` on this machine); None: ``RAY_ADDRESS`` if set, else a new local
    cluster with every core."""
    max_failures: int | None = None
    """The error budget: how many objects may fail before the run stops; None: no limit."""
    scratch_dir: Path | None = None
    """Where workers decode video and audio; default ``<home>/scratch``."""
    segment_cpus: float = 1.0
    """CPUs each read-and-segment task holds."""
