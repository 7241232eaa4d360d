"""A local Ray cluster for the Ray runner's tests: 2 CPUs, a small object store, one per session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """Ray started in this process; the runner joins it. Yields its GCS address, which other
    processes (a driver that is killed, a second node) use to join the same cluster."""
    ray = pytest.importorskip("ray", reason="the Ray runner needs Ray: pip install 'omnidex[ray]'")
    ray.init(
        num_cpus=2,
        object_store_memory=200 * 1024**2,
        include_dashboard=False,
        log_to_driver=False,
    )
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
