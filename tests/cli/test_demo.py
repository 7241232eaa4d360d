"""``omnidex demo`` as a user runs it: the real default embedder, offline, and real OCR."""

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
@pytest.mark.usefixtures("needs_tesseract")
def test_demo_ingests_the_samples_and_answers_each_query(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("omnidex")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "160"}
    result = subprocess.run(
        [str(script), "--data", str(tmp_path / "demo"), "demo", "-k", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "0 failed" in out
    from omnidex.cli.demo import QUERIES

    # each query's best hit comes from the file that can answer it
    blocks = out.split("🔎")[1:]
    assert len(blocks) == len(QUERIES)
    for block, (query, _, expected) in zip(blocks, QUERIES, strict=True):
        assert query in block
        assert expected in block, block
