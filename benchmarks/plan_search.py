"""How long ``plan`` takes to search every whole batch, and how much it saves over the old grid.

    python benchmarks/plan_search.py [--repeat 3]

For a few loads it prints the seconds a plan takes (the best of ``--repeat`` runs, catalog
loaded once), the rows estimated, and the cheapest monthly cost found by the search next to the
cheapest of the power-of-two grid plan used before (batches 1, 2, 4, ..., 256; GPUs 1, 2, 4, 8;
replicas for the average load; inf where nothing fits one node). Asserts nothing: machines are shared
and noisy.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from llmcalc_xl import estimate_many, load_catalog  # noqa: E402
from llmcalc_xl.core.inputs import NONE  # noqa: E402
from llmcalc_xl.core.plan import plan  # noqa: E402

#: the ten rented devices a plan over "10 devices" uses
TEN = ("l4", "a10g", "l40s", "a100-80gb", "h100-sxm", "h100-pcie", "h200", "b200", "mi300x", "rtx-4090")
OLD_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)

CASES = [
    # (label, models, hardware, load keywords, other keywords)
    ("70B, 100k requests/day, H100 (the issue's case)", ["llama-3.1-70b"], ("h100-sxm",),
     dict(requests_per_day=100_000), {}),
    ("70B, 200k requests/day, 10 devices", ["llama-3.1-70b"], TEN, dict(requests_per_day=200_000), {}),
    ("8B, 1M requests/day, 10 devices, latency <= 10 s", ["llama-3.1-8b"], TEN,
     dict(requests_per_day=1_000_000), dict(max_latency_s=10.0)),
    ("8B, 50 requests/s, 10 devices, peak 3x, N+1", ["llama-3.1-8b"], TEN, dict(requests_per_s=50),
     dict(peak_to_average=3.0, redundancy=1)),
    ("8B + 70B, 200k requests/day, every priced device", ["llama-3.1-8b", "llama-3.1-70b"], (),
     dict(requests_per_day=200_000), {}),
    # a mixture of experts: every GPU count is also tried with dp attention ranks and ep = gpus
    ("DeepSeek-V3, 8k in / 1k out, 100k/day, 10 devices", ["deepseek-v3"], TEN, dict(requests_per_day=100_000),
     dict(input_tokens=8000, output_tokens=1000)),
    ("Qwen3-30B-A3B + gpt-oss-120b, 1M/day, 10 devices", ["qwen3-30b-a3b", "gpt-oss-120b"], TEN,
     dict(requests_per_day=1_000_000), {}),
    # more GPUs than one node: fp8 DeepSeek-V3 and Kimi K2 fit no 8 x H100 node (16, 32, 64 GPUs are tried)
    ("DeepSeek-V3 + Kimi K2 fp8, 100k/day, H100 (2+ nodes)", ["deepseek-v3", "kimi-k2"], ("h100-sxm",),
     dict(requests_per_day=100_000), dict(precision="fp8")),
    ("DeepSeek-V3 8k/1k, 2M/day, H100 H200 B200 GB200", ["deepseek-v3"], ("h100-sxm", "h200", "b200", "gb200"),
     dict(requests_per_day=2_000_000), dict(input_tokens=8000, output_tokens=1000)),
    # the widest: three large mixtures of experts on every priced device, 16-64 GPUs where they could win
    ("DeepSeek-V3, Kimi K2, Qwen3-235B, 200/s, all priced", ["deepseek-v3", "kimi-k2", "qwen3-235b-a22b"], (),
     dict(requests_per_s=200), {}),
]


def old_grid_usd(models, hardware, monthly, cat, max_latency_s=None, **shape):
    """The cheapest monthly cost the power-of-two grid finds (the plan before this search: tp = gpus
    alone)."""
    shape = {k: v for k, v in shape.items() if k in ("input_tokens", "output_tokens", "precision")}
    hardware = hardware or [h.id for h in cat.entries("hardware") if (h.price_usd_per_hour or 0) > 0]
    grid = [(m, h, g, b) for m in models for h in hardware for g in (1, 2, 4, 8) for b in OLD_BATCHES]
    m, h, g, b = (list(c) for c in zip(*grid))
    e = estimate_many(m, h, gpus=g, batch=b, catalog=cat, **shape)
    ok = np.equal(e["error"], NONE) & (e["fits"] == 1) & (e["price_per_hour"] > 0)
    if max_latency_s is not None:
        ok &= e["latency_s"] <= max_latency_s
    replicas = np.ceil(monthly / np.where(ok, e["capacity_requests_per_month"], 1.0))
    return float(np.min(np.where(ok, replicas * e["deployment_usd_per_month"], np.inf)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cat = load_catalog()
    plan(["llama-3.1-8b"], requests_per_day=1000, hardware=["l4"], catalog=cat)  # imports, caches
    print(f"{'case':<52}{'seconds':>9}{'rows':>9}{'search USD/mo':>15}{'grid USD/mo':>13}  best")
    for label, models, hardware, load, more in CASES:
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            p = plan(models, hardware=hardware, catalog=cat, api_models=["gpt-4o-mini"], **load, **more)
            times.append(time.perf_counter() - t)
        if not p.self_hosted:
            print(f"{label:<52}{min(times):>9.2f}{p.configurations_tried:>9,}{'none':>15}  {p.rejected}")
            continue
        best = p.self_hosted[0]
        grid = old_grid_usd(models, hardware, p.requests_per_month, cat, **more) \
            if not more.get("peak_to_average") else float("nan")
        print(f"{label:<52}{min(times):>9.2f}{p.configurations_tried:>9,}{best['monthly_usd']:>15,.2f}"
              f"{grid:>13,.2f}  {best['model']} on {best['hardware']} x {best['gpus']} ({best['layout']}), batch {best['batch']}, "
              f"{best['replicas']} replica(s)")


if __name__ == "__main__":
    main()
