"""How fast the tool is: one vectorised call over a million scenarios, and the CLI's start.

    python benchmarks/speed.py [--rows 1000000]

Prints figures; asserts nothing (machines are shared and noisy: compare ratios within a run).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from llmcalc_xl import estimate, estimate_many, load_catalog  # noqa: E402


def scenarios(n: int, seed: int = 1) -> dict:
    """A mixed book of scenarios: open and API models, many devices, engines, precisions."""
    rng = np.random.default_rng(seed)
    cat = load_catalog()
    models = [m.id for m in cat.entries("models")] + ["gpt-4o", "gpt-4o-mini", "gpt-4.1"]
    hardware = [h.id for h in cat.entries("hardware") if h.kind == "gpu" and h.tflops_fp16]
    return {
        "model": rng.choice(np.array(models, dtype=object), n),
        "hardware": rng.choice(np.array(hardware, dtype=object), n),
        "gpus": rng.choice([1, 2, 4, 8], n),
        "precision": rng.choice(np.array(["fp16", "bf16", "fp8", "int4", "q4_k_m"], dtype=object), n),
        "input_tokens": rng.integers(0, 4000, n),
        "output_tokens": rng.integers(1, 2000, n),
        "batch": rng.integers(1, 64, n),
        "requests_per_month": rng.integers(0, 10_000_000, n),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    cols = scenarios(args.rows)
    estimate_many(**{k: v[:5000] for k, v in cols.items()})  # warm the catalog tables and imports
    times, cpu = [], []
    for _ in range(5):
        t, c = time.perf_counter(), time.process_time()
        out = estimate_many(**cols)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    ok = int(np.equal(out["error"], None).sum())
    best, median = min(times), statistics.median(times)
    print(f"vectorised: {args.rows:,} scenarios in {median:.2f} s median, {best:.2f} s best of 5 "
          f"(runs {', '.join(f'{x:.2f}' for x in times)}) = {args.rows / median:,.0f} scenarios/s; "
          f"{ok:,} computed, {args.rows - ok:,} refused with a message")
    # CPU time moves less than wall time on a shared machine
    print(f"CPU time of a call (all threads): {statistics.median(cpu):.2f} s median, {min(cpu):.2f} s best; "
          f"load average {os.getloadavg()[0]:.1f}")

    loop_n = 2000
    rows = [{k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in cols.items()} for i in range(loop_n)]
    t = time.perf_counter()
    for r in rows:
        try:
            estimate(**r)
        except Exception:  # noqa: BLE001 - bad random rows raise; the loop's cost is what is measured
            pass
    loop = (time.perf_counter() - t) / loop_n
    print(f"scalar loop: {1 / loop:,.0f} scenarios/s ({loop * 1e3:.2f} ms each); "
          f"vectorised is {args.rows / median * loop:,.0f}x faster")

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak:,.0f} MiB")

    exe = [sys.executable, "-m", "llmcalc_xl.cli.main"]
    cmd = exe + ["estimate", "--model", "llama-3-70b", "--hardware", "h100-sxm", "--gpus", "4"]
    # a start as a user's: bytecode cached (any value of PYTHONDONTWRITEBYTECODE, even "0", turns it off)
    start_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(cmd, check=True, capture_output=True, cwd=HERE.parent, env=start_env)  # writes the cache
    walls = []
    for _ in range(7):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=HERE.parent, env=start_env)
        walls.append(time.perf_counter() - t)
    print(f"`llmcalc-xl estimate`: median {statistics.median(walls):.3f} s wall over 7 runs "
          f"(min {min(walls):.3f}, max {max(walls):.3f})")


if __name__ == "__main__":
    main()
