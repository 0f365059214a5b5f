"""Fit llama.cpp's decode efficiencies on its single-request rows, and print the fit.

    python benchmarks/fit_llamacpp.py

What is fitted (per-engine efficiencies, never rows): llama.cpp's ``decode_mbu`` (the share of the
memory bandwidth its matrix-vector kernels stream the weights at, CUDA), ``apple_decode_mbu`` (the
same on Metal), ``decode_overhead_s_per_layer`` (fixed seconds each layer adds to a decode step: the
launch and synchronisation of its small kernels, which do not overlap the weights' read) and
``decode_bandwidth_cap_gb_s`` (the most GB/s those kernels stream at, whatever the memory: a kernel
keeps a bounded number of bytes in flight, and at HBM's 2 TB/s and more the memory's latency, not its
bandwidth, bounds a lone sequence's read; NO_CAP = none). Fitted by every point of a grid (MBU_GRID,
APPLE_MBU_GRID, OVERHEAD_GRID, CAP_GRID) to the least mean absolute log error of the generation speed
(tokens/s) of the llama.cpp rows ``accuracy.py`` scores: every row counts, where the median alone
(issue 12's goal: at most 10%) would let the fit slide along a flat valley to whichever point puts
the middle row best. The median absolute errors of the generation and prompt speeds (the decode MBU
also prices a prompt's memory traffic) are printed beside it, and the same figures on the held-out
rows (``accuracy.HOLDOUT``), which the fit never sees.

The two rates of one device (16-bit and 4-bit weights of the same model) separate the two terms: a
step takes bytes / (bandwidth x MBU) + layers x overhead, and only the first moves with the bytes.
Devices of 0.4 to 8 TB/s separate the cap from the MBU.

It writes nothing: the values go into engines.toml by hand, with this script named as their source.
"""

from __future__ import annotations

import csv
import itertools
import math
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import accuracy  # noqa: E402
from fit_serving import overlay  # noqa: E402
from llmcalc_xl import estimate_many, load_catalog  # noqa: E402

ENGINE = "llama.cpp"
METRICS = ("decode_tokens_per_s", "prefill_tokens_per_s")
MBU_GRID = [round(0.85 + 0.025 * i, 3) for i in range(7)]  # 0.85-1.00
APPLE_MBU_GRID = [round(0.70 + 0.025 * i, 3) for i in range(9)]  # 0.70-0.90
OVERHEAD_GRID = [round(1e-5 * i, 6) for i in range(8, 21, 2)]  # 80-200 us a layer
#: "no cap" is the largest cap a catalog takes: 100,000 GB/s over any device's bandwidth is above 1, so the
#: share stays decode_mbu to the bit (a user file cannot leave out a field the shipped entry gives: it merges)
NO_CAP = 100_000.0
CAP_GRID = [NO_CAP] + [float(c) for c in range(1000, 2100, 100)]  # GB/s


def rows(paths=tuple(accuracy.DATA)) -> list[tuple[dict, dict]]:
    """llama.cpp's generation and prompt speed rows of ``paths`` (accuracy.py's scored ones by default),
    with their scenarios."""
    ids = set(load_catalog().ids("hardware"))
    out = []
    for path in paths:
        for row in csv.DictReader(open(path, newline="", encoding="utf-8")):
            if row["metric"] not in METRICS:
                continue
            args, _ = accuracy.scenario(row, ids)
            if args is not None and args["engine"] == ENGINE:
                out.append((row, args))
    return out


def errors(data, fields: dict) -> dict[str, list[float]]:
    """estimated / measured - 1 of each metric's rows, with ``fields`` changed in llama.cpp's entry."""
    keys = ("model", "hardware", "gpus", "batch", "precision", "engine", "input_tokens", "output_tokens",
            "context_tokens", "tflops")
    cols = {k: [a.get(k) for _, a in data] for k in keys}
    catalog = [overlay({("engines", ENGINE): fields})] if fields else None
    est = estimate_many(cols.pop("model"), cols.pop("hardware"), catalog=catalog, **cols)
    out: dict[str, list[float]] = {m: [] for m in METRICS}
    for i, (row, _) in enumerate(data):
        predicted, measured = est[row["metric"]][i], float(row["value"])
        if est["error"][i] is None and math.isfinite(predicted) and measured > 0:
            out[row["metric"]].append(predicted / measured - 1.0)
    return out


def score(errs: dict[str, list[float]]) -> tuple[float, float, float]:
    """(generation mean |log err|: the objective, generation median |err|, prompt median |err|)."""
    decode, prompt = errs["decode_tokens_per_s"], errs["prefill_tokens_per_s"]
    return (statistics.fmean(abs(math.log1p(e)) for e in decode), statistics.median(abs(e) for e in decode),
            statistics.median(abs(e) for e in prompt))


def main() -> None:
    data = rows()
    now = score(errors(data, {}))
    print(f"{len(data)} llama.cpp rows; catalog as it stands: generation {now[1]:.1%}, prompt {now[2]:.1%} "
          f"median |err| (generation mean |log err| {now[0]:.4f})")
    results = []
    for mbu, apple, overhead, cap in itertools.product(MBU_GRID, APPLE_MBU_GRID, OVERHEAD_GRID, CAP_GRID):
        fields = {"decode_mbu": mbu, "apple_decode_mbu": apple, "decode_overhead_s_per_layer": overhead,
                  "decode_bandwidth_cap_gb_s": cap}
        results.append((score(errors(data, fields)), fields))
    results.sort(key=lambda r: r[0])
    print("best points (generation mean |log err|, generation median |err|, prompt median |err|):")
    for (log_err, decode, prompt), fields in results[:8]:
        print(f"  {log_err:.4f} {decode:6.1%} {prompt:6.1%}  " + ", ".join(f"{k} {v}" for k, v in fields.items()))
    (_, decode, prompt), best = results[0]
    print(f"fit: {', '.join(f'{k} = {v}' for k, v in best.items())}: generation {decode:.1%}, prompt {prompt:.1%} "
          "median |err|")
    held = rows([accuracy.HOLDOUT])
    for name, fields in (("catalog as it stands", {}), ("fit", best)):
        log_err, decode, prompt = score(errors(held, fields))
        print(f"held out ({len(held)} rows), {name}: generation {decode:.1%} (mean |log err| {log_err:.4f}), "
              f"prompt {prompt:.1%} median |err|")


if __name__ == "__main__":
    main()
