"""The tool's speed figures for this checkout and for another commit, measured alternately in one run.

    python benchmarks/against.py [--baseline 03a0fa8] [--rounds 3] [--rows 1000000]

A shared machine's speed moves by tens of percent within an hour and more from day to day, so a
figure measured today is compared with one measured on another day only through a ratio: the
other commit's code is taken out of git (``git archive``) and both are timed turn about, each
measurement in a fresh process of the same Python, on the same inputs:

- one vectorised call over 1,000,000 scenarios (each commit's own ``benchmarks/speed.py`` book,
  median of 3 calls after a warm-up), wall time and the CPU time of all its threads;
- ``llmcalc-xl fill`` of a 1,000,000-row CSV to CSV, end to end (one CSV, made by
  ``benchmarks/fill.py``, for both);
- ``llmcalc-xl estimate`` for one scenario, start to finish (bytecode cached, median of 7).

The default baseline, 03a0fa8, is the code whose figures the speed goals of the single-source
change were written against (README "Speed of the tool"). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from fill import make_csv  # noqa: E402

VECTORISED = r"""
import json, sys, time
sys.path[:0] = ["benchmarks", "."]
import speed
from llmcalc_xl import estimate_many
cols = speed.scenarios(int(sys.argv[1]))
estimate_many(**{k: v[:5000] for k, v in cols.items()})  # imports and catalog tables warm
walls, cpu = [], []
for _ in range(3):
    t, c = time.perf_counter(), time.process_time()
    estimate_many(**cols)
    walls.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
print(json.dumps([walls, cpu]))
"""


def checkout(commit: str, into: Path) -> Path:
    """The files of ``commit`` under ``into`` (no git metadata; nothing in this checkout changes)."""
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=ROOT, capture_output=True, check=True)
    into.mkdir(parents=True)
    tar = into.with_suffix(".tar")
    tar.write_bytes(archive.stdout)
    with tarfile.open(tar) as fh:
        fh.extractall(into, filter="data")
    tar.unlink()
    return into


def command_module(tree: Path) -> str:
    """The module that runs the command line in that tree (it moved when the package was split)."""
    return "llmcalc_xl.cli.main" if (tree / "llmcalc_xl" / "cli" / "main.py").exists() else "llmcalc_xl.cli"


def run_env(tree: Path) -> dict[str, str]:
    """The tree's package first on the path; bytecode cached as a user's install has it."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    env["PYTHONPATH"] = str(tree)
    return env


def vectorised_s(tree: Path, rows: int) -> tuple[float, float]:
    """Wall and CPU time (all threads) of one call, medians of 3."""
    done = subprocess.run([sys.executable, "-c", VECTORISED, str(rows)], cwd=tree, env=run_env(tree),
                          capture_output=True, text=True, check=True)
    walls, cpu = json.loads(done.stdout.strip().splitlines()[-1])
    return statistics.median(walls), statistics.median(cpu)


def fill_s(tree: Path, src: Path, out: Path) -> float:
    out.unlink(missing_ok=True)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", command_module(tree), "fill", str(src), "--out", str(out)],
                   cwd=tree, env=run_env(tree), capture_output=True, check=True)
    return time.perf_counter() - t


def estimate_s(tree: Path) -> float:
    cmd = [sys.executable, "-m", command_module(tree), "estimate", "--model", "llama-3-70b",
           "--hardware", "h100-sxm", "--gpus", "4"]
    subprocess.run(cmd, cwd=tree, env=run_env(tree), capture_output=True, check=True)  # writes the bytecode
    walls = []
    for _ in range(7):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=tree, env=run_env(tree), capture_output=True, check=True)
        walls.append(time.perf_counter() - t)
    return statistics.median(walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default="03a0fa8", help="commit to compare with (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        trees = {"this checkout": ROOT, args.baseline: checkout(args.baseline, tmp / "baseline")}
        src = tmp / "scenarios.csv"
        make_csv(src, args.rows)
        figures: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
        for round_ in range(args.rounds):
            for name, tree in trees.items():  # turn about: a slow spell falls on both
                got = figures[name]
                wall, cpu = vectorised_s(tree, args.rows)
                got.setdefault("vectorised", []).append(wall)
                got.setdefault("vectorised_cpu", []).append(cpu)
                got.setdefault("fill", []).append(fill_s(tree, src, tmp / "out.csv"))
                got.setdefault("estimate", []).append(estimate_s(tree))
                print(f"round {round_ + 1}, {name}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in got.items()),
                      flush=True)
        labels = {"vectorised": f"one call over {args.rows:,} scenarios",
                  "vectorised_cpu": "  its CPU time, all threads",
                  "fill": f"fill, {args.rows:,} rows CSV to CSV", "estimate": "llmcalc-xl estimate, one scenario"}
        base, ours = figures[args.baseline], figures["this checkout"]
        print(f"\n{'figure':40} {args.baseline:>10} {'this':>10} {'ratio':>8}   (medians of {args.rounds} rounds, seconds)")
        for key, label in labels.items():
            b, o = statistics.median(base[key]), statistics.median(ours[key])
            print(f"{label:40} {b:10.3f} {o:10.3f} {o / b:8.2f}x")
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
