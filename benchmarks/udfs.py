"""How fast the Excel functions answer: one call over a 10,000-row column, as Excel passes it.

    python benchmarks/udfs.py [--rows 10000]

Prints figures; asserts nothing. Excel's own COM round trip is not included (it needs Windows);
this is the Python side of one call.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llmcalc_xl.excel import functions as udfs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    models = ["llama-3-8b", "llama-3.1-70b", "mixtral-8x7b", "gpt-4o", "gpt-4o-mini", "qwen2.5-72b"]
    hardware = ["l4", "h100-sxm", "a100-80gb", "h200", "l40s"]
    # what xlwings hands a function for ndim=2 ranges: lists of lists of Python floats and strings
    model = [[m] for m in rng.choice(models, args.rows).tolist()]
    hw = [[None if m[0].startswith("gpt") else h] for m, h in zip(model, rng.choice(hardware, args.rows).tolist())]
    inp = [[float(x)] for x in rng.integers(100, 4000, args.rows)]
    out = [[float(x)] for x in rng.integers(50, 1000, args.rows)]
    gpus = [[float(x)] for x in rng.choice([1, 2, 4, 8], args.rows)]

    udfs.LLM_COST(model[:10], inp[:10], out[:10], hw[:10], gpus[:10])  # warm the catalog
    times = []
    for _ in range(5):
        t = time.perf_counter()
        result = udfs.LLM_COST(model, inp, out, hw, gpus)
        times.append(time.perf_counter() - t)
    errors = sum(isinstance(r[0], str) for r in result)
    print(f"LLM_COST over {args.rows:,} rows in one call: {statistics.median(times) * 1000:.0f} ms median of 5 "
          f"(min {min(times) * 1000:.0f} ms); {errors} cells with a #LLM! message")

    n = 500
    t = time.perf_counter()
    for i in range(n):
        udfs.LLM_COST([model[i]], [inp[i]], [out[i]], [hw[i]], [gpus[i]])
    per_cell = (time.perf_counter() - t) / n
    print(f"one call per cell: {per_cell * 1000:.2f} ms a cell, {per_cell * args.rows:.1f} s for {args.rows:,} cells "
          f"({per_cell * args.rows / statistics.median(times):,.0f}x slower than one call)")


if __name__ == "__main__":
    main()
