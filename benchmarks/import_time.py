"""How much ``import omnidex`` costs over a bare interpreter start.

Runs ``python -c "import omnidex"`` and ``python -c "pass"`` alternately, N times each, and
prints one JSON line with both medians, the extra seconds and the ratio. Goal: < 0.3 s extra.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

RUNS = 15
GOAL_EXTRA_S = 0.3


def timed(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main() -> None:
    timed("import omnidex")  # warm the file system cache
    bare, package = [], []
    for _ in range(RUNS):
        bare.append(timed("pass"))
        package.append(timed("import omnidex"))
    bare_s, package_s = statistics.median(bare), statistics.median(package)
    extra = package_s - bare_s
    print(
        json.dumps(
            {
                "benchmark": "import_time",
                "runs": RUNS,
                "python_pass_s": round(bare_s, 4),
                "import_omnidex_s": round(package_s, 4),
                "extra_s": round(extra, 4),
                "ratio": round(package_s / bare_s, 3),
                "goal_extra_s": GOAL_EXTRA_S,
                "meets_goal": extra < GOAL_EXTRA_S,
            }
        )
    )


if __name__ == "__main__":
    main()
