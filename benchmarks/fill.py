"""How fast `llmcalc-xl fill` is: a million-row CSV end to end, and rows into a workbook.

    python benchmarks/fill.py [--rows 1000000] [--workbook-rows 10000]

Runs the real command in a subprocess (reading, pricing, writing) and prints its wall time
and peak memory, the rate of a plain Python loop calling the scalar estimate per row for
comparison, and the time to put rows into a quote workbook. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from llmcalc_xl import estimate  # noqa: E402


def make_csv(path: Path, n: int, seed: int = 3, chunk: int = 100_000) -> list[list[str]]:
    """A random book of scenarios, written in chunks so this process stays small (a child's
    peak memory on Linux includes its parent's at the fork). Returns the header and a sample."""
    rng = np.random.default_rng(seed)
    models = ["llama-3-8b", "llama-3.1-70b", "mixtral-8x7b", "gpt-4o", "gpt-4o-mini", "qwen2.5-72b", "mistral-7b"]
    hardware = ["l4", "h100-sxm", "a100-80gb", "h200", "l40s", "rtx-4090"]
    header = ["scenario", "model", "hardware", "gpus", "input_tokens", "output_tokens", "batch", "requests_per_month"]
    sample: list[list[str]] = [header]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for start in range(0, n, chunk):
            k = min(chunk, n - start)
            m = rng.choice(models, k)
            columns = [
                np.char.add("deal ", np.arange(start, start + k).astype(str)), m,
                np.where(np.char.startswith(m.astype(str), "gpt"), "", rng.choice(hardware, k)),
                rng.choice(["1", "2", "4", "8"], k), rng.integers(0, 4000, k).astype(str),
                rng.integers(1, 1500, k).astype(str), rng.integers(1, 64, k).astype(str),
                rng.integers(1000, 10_000_000, k).astype(str),
            ]
            rows = np.column_stack(columns).tolist()
            writer.writerows(rows)
            if len(sample) < 2001:
                sample += rows[:2001 - len(sample)]
    return sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workbook-rows", type=int, default=10_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    src = tmp / "scenarios.csv"
    rows = make_csv(src, args.rows)
    print(f"input: {args.rows:,} rows, {src.stat().st_size / 1e6:.1f} MB")
    # the child reports its own peak memory (a forked child would count the parent's pages too)
    code = ("import resource, runpy, sys\n"
            f"sys.argv = ['llmcalc-xl', 'fill', {str(src)!r}, '--out', {str(tmp / 'results.csv')!r}]\n"
            "try:\n    runpy.run_module('llmcalc_xl.cli.main', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=HERE.parent)
    wall = time.perf_counter() - t
    peak = int(done.stderr.split("PEAK")[-1]) / 1024
    print(f"fill end to end (subprocess: start, read, price, write): {wall:.2f} s = {args.rows / wall:,.0f} rows/s; "
          f"peak memory {peak:,.0f} MiB; output {(tmp / 'results.csv').stat().st_size / 1e6:.1f} MB")

    loop_n = 2000
    header = rows[0]
    t = time.perf_counter()
    for row in rows[1:loop_n + 1]:
        record = dict(zip(header, row))
        try:
            estimate(record["model"], record["hardware"] or None, gpus=record["gpus"],
                     input_tokens=record["input_tokens"], output_tokens=record["output_tokens"],
                     batch=record["batch"], requests_per_month=record["requests_per_month"])
        except Exception:  # noqa: BLE001 - bad random rows raise; the loop's cost is what is measured
            pass
    per_row = (time.perf_counter() - t) / loop_n
    print(f"plain Python loop over the scalar estimate: {1 / per_row:,.0f} rows/s "
          f"(the vectorised fill is {args.rows / wall * per_row:,.0f}x faster, start-up and I/O included)")

    wsrc = tmp / "workbook.csv"
    make_csv(wsrc, args.workbook_rows, seed=4)
    quote = tmp / "quote.xlsx"
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "llmcalc_xl.cli.main", "fill", str(wsrc), "--workbook", str(quote)],
                   check=True, capture_output=True, cwd=HERE.parent, env=dict(os.environ))
    print(f"fill --workbook with {args.workbook_rows:,} rows (new quote): {time.perf_counter() - t:.1f} s, "
          f"{quote.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
