"""A fresh ``omnidex search`` process embeds its query on ONNX Runtime and reads Lance directly,
never importing torch, LanceDB or the ingest machinery."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from omnidex.cli.main import app
from omnidex.models.onnx_text import EXPORT_DIR

# What a search never needs: torch and its kin (the query runs on ONNX Runtime), LanceDB (seconds
# to import; Lance reads a local table), huggingface_hub, and the ingest runners.
_HEAVY = (
    "torch",
    "sentence_transformers",
    "transformers",
    "lancedb",
    "huggingface_hub",
    "omnidex.pipeline.local_runner",
    "omnidex.pipeline.ray_runner",
)
# Runs the CLI as the console script does, then says which heavy modules it imported.
_PROBE = f"""
import json, sys
from omnidex.cli.main import app
try:
    app(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
heavy = sorted(m for m in {_HEAVY!r} if m in sys.modules)
print(json.dumps({{"code": code, "heavy": heavy}}))
"""


def _search(data: Path, query: str) -> tuple[list[dict[str, object]], dict[str, object]]:
    env = {**os.environ, "OMNIDEX_HOME": str(data)}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, "search", query, "-c", "docs", "--json", "-k", "2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    *hits, probe = result.stdout.strip().splitlines()
    return json.loads("\n".join(hits)), json.loads(probe)


def test_search_in_a_fresh_process_skips_torch_and_ranks_as_torch_does(
    tiny_embedder_path: Path, tmp_path: Path
) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_embedder_path, model, ignore=shutil.ignore_patterns(EXPORT_DIR))
    files = tmp_path / "files"
    files.mkdir()
    (files / "ferry.txt").write_text("The harbor ferry leaves at seven every morning.")
    (files / "bread.txt").write_text("Fresh bread and cakes from the corner bakery.")
    data = tmp_path / "data"
    spec = json.dumps({"name": "text_embedding@v1", "params": {"model_id": str(model)}})
    runner = CliRunner()
    for args in (
        ["collection", "create", "docs", "-e", "page_text@v1", "-e", spec],
        ["ingest", str(files), "-c", "docs"],
    ):
        result = runner.invoke(app, ["--data", str(data), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    result = runner.invoke(
        app, ["--data", str(data), "search", "harbor ferry", "-c", "docs", "--json", "-k", "2"]
    )
    torch_hits = json.loads(result.output)  # this process has the torch model loaded

    onnx_hits, probe = _search(data, "harbor ferry")
    assert probe == {"code": 0, "heavy": []}
    assert [h["source"] for h in onnx_hits] == [h["source"] for h in torch_hits]
    for onnx_hit, torch_hit in zip(onnx_hits, torch_hits, strict=True):
        assert abs(float(onnx_hit["score"]) - float(torch_hit["score"])) < 1e-4

    shutil.rmtree(model / EXPORT_DIR)  # no export: today's torch path, same answer
    torch_again, probe = _search(data, "harbor ferry")
    assert "torch" in probe["heavy"]
    assert [h["source"] for h in torch_again] == [h["source"] for h in torch_hits]
