"""Wall time of a cold ``omnidex search`` on the demo collection: torch path vs ONNX path.

Builds the demo collection (``omnidex demo``) in a temporary OMNIDEX_HOME — loading the text
embedder on torch, which writes its ONNX export beside the model — then runs fresh
``omnidex search`` processes alternately on today's path (the ONNX export ignored, so the query is
embedded by sentence-transformers on torch) and on the new one, N times each. Checks that both
return the same hits and scores (within 1e-4), and prints one JSON line with both medians and
the ratio, with the CPU seconds (user + system) each path's processes used — on a shared
machine wall time follows the load, CPU time much less — and the load average during the run.
Goal: the new path < 2 s wall.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = int(os.environ.get("CLI_LATENCY_RUNS", "5"))
QUERY = "ferry"
GOAL_S = 2.0

# today's path: the same CLI, with the ONNX export treated as absent
_TORCH = """
import sys
import omnidex.models.embedders as embedders
embedders.load_onnx_embedder = lambda path: None
from omnidex.cli.main import app
app(sys.argv[1:])
"""
_ONNX = "import sys\nfrom omnidex.cli.main import app\napp(sys.argv[1:])\n"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(code: str, env: dict[str, str]) -> tuple[float, float, list[dict[str, object]]]:
    """Wall and CPU seconds of one fresh search process, and its hits."""
    args = ["search", QUERY, "-c", "demo", "--json", "-k", "5"]
    cpu, start = _children_cpu(), time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - start
    return wall, _children_cpu() - cpu, json.loads(result.stdout)


def same(a: list[dict[str, object]], b: list[dict[str, object]]) -> bool:
    return [h["source"] for h in a] == [h["source"] for h in b] and all(
        abs(float(str(x["score"])) - float(str(y["score"]))) < 1e-4
        for x, y in zip(a, b, strict=True)
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="cli-latency-") as home:
        env = {**os.environ, "OMNIDEX_HOME": str(Path(home))}
        script = Path(sys.executable).with_name("omnidex")
        subprocess.run([str(script), "demo"], env=env, check=True, capture_output=True)
        timed(_ONNX, env)  # warm the file system cache
        torch_s, onnx_s, torch_cpu, onnx_cpu, agree = [], [], [], [], True
        load_before = os.getloadavg()[0]
        for _ in range(RUNS):
            seconds, cpu, torch_hits = timed(_TORCH, env)
            torch_s.append(seconds)
            torch_cpu.append(cpu)
            seconds, cpu, onnx_hits = timed(_ONNX, env)
            onnx_s.append(seconds)
            onnx_cpu.append(cpu)
            agree = agree and same(torch_hits, onnx_hits)
        load_after = os.getloadavg()[0]
    torch_median, onnx_median = statistics.median(torch_s), statistics.median(onnx_s)
    print(
        json.dumps(
            {
                "benchmark": "cli_latency",
                "runs": RUNS,
                "torch_path_s": round(torch_median, 3),
                "onnx_path_s": round(onnx_median, 3),
                "ratio": round(torch_median / onnx_median, 2),
                "torch_path_cpu_s": round(statistics.median(torch_cpu), 3),
                "onnx_path_cpu_s": round(statistics.median(onnx_cpu), 3),
                "onnx_path_min_s": round(min(onnx_s), 3),
                "load_average_1min": [round(load_before, 2), round(load_after, 2)],
                "same_hits": agree,
                "goal_s": GOAL_S,
                "meets_goal": onnx_median < GOAL_S,
            }
        )
    )


if __name__ == "__main__":
    main()
