"""``import omnidex`` stays light: no torch, no LanceDB, no pydantic until they are used."""

import subprocess
import sys

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
