"""A third-party extractor plugin written to a folder: ``crashing@v1``, which kills its worker
process on a segment whose text says "crash", as a decoder's segfault or an OOM kill would.

The folder holds the module and a ``dist-info`` with its entry point, so that the registry finds it
exactly as it finds an installed plugin once the folder is on ``sys.path`` (or ``PYTHONPATH``).
"""

from __future__ import annotations

from pathlib import Path

MODULE = """
import os

from omnidex.extractors.base import Extractor
from omnidex.types import FeatureSpec, FeatureType


class Crashing(Extractor):
    name = "crashing"
    version = 1
    accepts = frozenset({"text"})

    def features(self):
        return [FeatureSpec(name="text", type=FeatureType.TEXT)]

    def extract(self, segments):
        if any("crash" in (segment.text or "") for segment in segments):
            os._exit(1)
        return [{"text": segment.text} for segment in segments]
"""


def write_plugin(folder: Path) -> Path:
    """The plugin in ``folder``: ``crashing.py`` and ``crashing-0.dist-info``."""
    (folder / "crashing.py").write_text(MODULE)
    info = folder / "crashing-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crashing\nVersion: 0\n")
    entry_point = "crashing@v1 = crashing:Crashing"
    (info / "entry_points.txt").write_text(f"[omnidex.extractors]\n{entry_point}\n")
    return folder
