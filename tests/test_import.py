"""``import omnidex`` stays light: no torch, no LanceDB, no pydantic until they are used."""

import subprocess
import sys
import zipfile
from pathlib import Path

HEAVY = (
    "torch",
    "lancedb",
    "lance",
    "pyarrow",
    "transformers",
    "sentence_transformers",
    "pydantic",
)


def test_import_pulls_in_nothing_heavy() -> None:
    code = f"import sys, omnidex; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""


def test_connect_is_reachable_from_the_package() -> None:
    import omnidex

    assert callable(omnidex.connect)
    assert omnidex.__version__


def test_the_wheel_ships_py_typed(tmp_path: Path) -> None:
    """Type checkers read omnidex's annotations only when the wheel carries the PEP 561 marker."""
    from hatchling.builders.wheel import WheelBuilder  # the build backend, a dev dependency

    root = Path(__file__).resolve().parents[1]
    (wheel,) = WheelBuilder(str(root)).build(directory=str(tmp_path))
    with zipfile.ZipFile(wheel) as archive:
        assert "omnidex/py.typed" in archive.namelist()
