"""Score the estimates against published measurements of real inference.

    python benchmarks/accuracy.py [--rows] [--data CSV ...]

Data: benchmarks/data/calibration_measurements.csv (llama.cpp on NVIDIA and Apple,
llama.cpp memory reports and GGUF file sizes, TensorRT-LLM online serving) and
benchmarks/data/extra_measurements.csv (vLLM, SGLang, TensorRT-LLM, HF transformers,
newer llama.cpp). Each row names its source; see benchmarks/data/README.md.

Every row is turned into a scenario (model, hardware, GPUs, precision, engine, batch,
tokens), all scenarios are estimated in one vectorised call, and the median absolute
error is printed per metric and per engine. Rows that cannot be mapped (hardware not in
the catalog, unknown lengths, "all requests at once" serving) are counted, not scored.
Online serving at a finite request rate gets its concurrency from Little's law
(sequences = requests/s x latency, iterated to a fixed point).
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from llmcalc_xl import estimate_many, load_catalog  # noqa: E402

DATA = [HERE / "data" / "calibration_measurements.csv", HERE / "data" / "extra_measurements.csv"]

# Published hardware names -> catalog ids (first match wins; order matters)
HARDWARE = [
    (r"A100 80GB PCIe", "a100-80gb-pcie"), (r"A100-SXM4-80GB|A100 80G|A100 80GB", "a100-80gb"),
    (r"A100 \(variant|A100 \(TP4; memory", "a100-80gb"),
    (r"H100 PCIe", "h100-pcie"), (r"H100", "h100-sxm"), (r"H200", "h200"), (r"L40S", "l40s"),
    (r"A10G", "a10g"), (r"RTX 4090", "rtx-4090"), (r"RTX 3090 Ti", "rtx-3090-ti"), (r"RTX 3090", "rtx-3090"),
    (r"RTX 4080", "rtx-4080"), (r"RTX 4070 Ti", "rtx-4070-ti"), (r"RTX 3080", "rtx-3080"),
    (r"RTX 3070", "rtx-3070"), (r"RTX A6000", "rtx-a6000"), (r"RTX 6000 Ada", "rtx-6000-ada"),
    (r"RTX 5000 Ada", "rtx-5000-ada"), (r"RTX 4000 Ada", "rtx-4000-ada"),
    (r"M2 Ultra", "apple-m2-ultra"), (r"M2 Max", "apple-m2-max"), (r"M3 Max", "apple-m3-max"),
    (r"M1 Max", "apple-m1-max"), (r"Apple M3 \(", "apple-m3"), (r"Apple M1 \(", "apple-m1"),
]
MODELS = [
    (r"Mixtral-8x7B", "mixtral-8x7b"), (r"Llama-3\.3-70B", "llama-3.3-70b"), (r"Llama-3\.1-70B", "llama-3.1-70b"),
    (r"Llama-3\.1-8B", "llama-3.1-8b"), (r"Llama-3-70B", "llama-3-70b"), (r"Llama-3-8B", "llama-3-8b"),
    (r"Llama-2-70b", "llama-2-70b"), (r"Llama-2-13", "llama-2-13b"), (r"Llama-2-7", "llama-2-7b"),
    (r"LLaMA-7B|CodeLlama-7B", "llama-2-7b"),  # LLaMA-1 7B and CodeLlama-7B share Llama-2-7B's shape
]
PRECISIONS = [
    (r"Q4_K_M", "q4_k_m"), (r"Q5_K_M", "q5_k_m"), (r"Q3_K", "q3_k_m"), (r"Q2_K", "q2_k"), (r"Q6_K", "q6_k"),
    (r"Q8_0", "q8_0"), (r"Q4_0", "q4_0"), (r"^F16|^FP16", "fp16"), (r"^BF16", "bf16"), (r"^FP8", "fp8"),
    (r"^FP4", "fp4"), (r"GPTQ int4", "int4"),
]
ENGINES = [(r"llama", "llama.cpp"), (r"TensorRT|NIM", "tensorrt-llm"), (r"vLLM|SGLang", "vllm"),
           (r"transformers", "transformers")]
METRICS = {  # published metric -> (estimate key, factor to the published unit)
    "decode_tokens_per_s": ("decode_tokens_per_s", 1.0),
    "prefill_tokens_per_s": ("prefill_tokens_per_s", 1.0),
    "model_file_gb": ("weights_gib", 1.0),
    "weights_vram_mib": ("weights_gib", 1024.0),
    "kv_cache_mib": ("kv_cache_gib", 1024.0),
    "ttft_ms": ("ttft_s", 1000.0),
    "tpot_ms": ("tpot_s", 1000.0),
    "throughput_tokens_per_s": ("throughput_tokens_per_s", 1.0),
    "request_latency_s": ("latency_s", 1.0),
}
HEADLINE = {"decode_tokens_per_s": 0.15, "prefill_tokens_per_s": 0.25, "model_file_gb": 0.03}


def _match(table, text):
    for pattern, value in table:
        if re.search(pattern, text):
            return value
    return None


def _int(text):
    try:
        return int(float(text))
    except (TypeError, ValueError):
        return None


def scenario(row: dict, hardware_ids: set) -> tuple[dict | None, str]:
    """Estimate arguments for one published row, or (None, why not)."""
    metric = row["metric"]
    if metric not in METRICS:
        return None, f"metric {metric}"
    model = _match(MODELS, row["model"])
    precision = _match(PRECISIONS, row["precision_or_quant"].strip())
    engine = _match(ENGINES, row["framework"])
    if not model or not precision or not engine:
        return None, "model/precision/engine not mapped"
    args = dict(model=model, precision=precision, engine=engine, hardware=None, gpus=1, batch=1, qps=None)
    if metric == "model_file_gb":
        args.update(input_tokens=1, output_tokens=1)
        return args, ""
    hw = _match(HARDWARE, row["hardware"])
    if hw is None or hw not in hardware_ids:
        return None, "hardware not in catalog"
    args["hardware"] = hw
    m = re.match(r"\s*(\d+)x ", row["hardware"])
    if m:
        args["gpus"] = int(m.group(1))
    p, n = _int(row["input_tokens"]), _int(row["output_tokens"])
    if p is None or n is None:
        return None, "lengths not stated"
    notes = row["notes"]
    batch = row["batch_size"].strip()
    if batch.isdigit():
        args["batch"] = int(batch)
    elif "QPS" in batch:
        rate = re.search(r"QPS\s*([\d.]+)", batch)
        if not rate:
            return None, "all requests at once (concurrency unknown)"
        args["qps"] = float(rate.group(1))
    else:
        return None, f"batch '{batch}'"
    if "n_ctx=512" in notes and n > 0:
        # context shift keeps the cache at <= 512 tokens: decode at a mean context of ~512
        n = max(2 * (512 - p), 2)
    if metric in ("kv_cache_mib",):
        ctx = re.search(r"n_ctx=(\d+)", notes)
        if not ctx:
            return None, "n_ctx not stated"
        args["context_tokens"] = int(ctx.group(1))
        p, n = min(p, int(ctx.group(1)) // 2), 1
    args.update(input_tokens=p, output_tokens=n)
    if metric == "decode_tokens_per_s" and p == 0 and n == 0:
        return None, "no tokens"
    return args, ""


def run(paths, show_rows: bool) -> int:
    cat = load_catalog()
    hardware_ids = set(cat.ids("hardware"))
    rows, skipped = [], defaultdict(int)
    for path in paths:
        for row in csv.DictReader(open(path, newline="", encoding="utf-8")):
            args, why = scenario(row, hardware_ids)
            if args is None:
                skipped[why] += 1
                continue
            rows.append((row, args))
    cols = defaultdict(list)
    for _, a in rows:
        for k in ("model", "hardware", "gpus", "batch", "precision", "engine", "input_tokens", "output_tokens"):
            cols[k].append(a.get(k))
        cols["context_tokens"].append(a.get("context_tokens"))
    qps = [a["qps"] for _, a in rows]
    batch = [float(b) for b in cols["batch"]]
    for _ in range(8):  # Little's law: concurrency = arrival rate x time in system
        est = estimate_many(cols["model"], cols["hardware"], gpus=cols["gpus"], batch=[max(1, round(b)) for b in batch],
                            precision=cols["precision"], engine=cols["engine"], input_tokens=cols["input_tokens"],
                            output_tokens=cols["output_tokens"], context_tokens=cols["context_tokens"])
        new = [(q * est["latency_s"][i] if q else batch[i]) for i, q in enumerate(qps)]
        new = [b if not (isinstance(b, float) and math.isnan(b)) else 1.0 for b in new]
        if all(abs(x - y) < 0.5 for x, y in zip(new, batch)):
            break
        batch = new
    errors = defaultdict(list)
    detail = []
    for i, (row, args) in enumerate(rows):
        key, factor = METRICS[row["metric"]]
        predicted = est[key][i] * factor
        if key == "latency_s" and args["qps"] is None and "benchmark_latency" in row["framework"] + row["notes"]:
            # a static batch: every request waits for all B prompts, then the decode steps
            predicted = args["batch"] * args["output_tokens"] / est["throughput_tokens_per_s"][i]
        measured = float(row["value"])
        if est["error"][i] is not None or not math.isfinite(predicted) or measured <= 0:
            skipped["estimate failed: " + str(est["error"][i])[:60]] += 1
            continue
        err = predicted / measured - 1.0
        errors[(row["metric"], args["engine"])].append(err)
        if args["hardware"]:
            kind = cat.hardware(args["hardware"]).kind
            errors[(row["metric"], f"{args['engine']}/{kind}")].append(err)
        errors[(row["metric"], "all")].append(err)
        detail.append((row["metric"], args["engine"], args["model"], args["hardware"] or "-", args["precision"],
                       round(batch[i], 1), measured, predicted, err))
    if show_rows:
        print(f"{'metric':<24}{'engine':<14}{'model':<15}{'hardware':<16}{'prec':<8}{'batch':>7}"
              f"{'measured':>11}{'estimate':>11}{'error':>8}")
        for d in sorted(detail):
            print(f"{d[0]:<24}{d[1]:<14}{d[2]:<15}{d[3]:<16}{d[4]:<8}{d[5]:>7}{d[6]:>11.2f}{d[7]:>11.2f}{d[8]:>+8.0%}")
        print()
    print(f"{'metric':<26}{'engine':<14}{'rows':>5}{'median |err|':>14}{'median err':>12}{'goal':>8}")
    status = 0
    for (metric, engine), errs in sorted(errors.items(), key=lambda kv: (kv[0][0], kv[0][1] != "all", kv[0][1])):
        med_abs = statistics.median(abs(e) for e in errs)
        med = statistics.median(errs)
        goal = HEADLINE.get(metric) if engine == "all" else None
        mark = "" if goal is None else (f"{goal:>7.0%}" + (" ok" if med_abs <= goal else " MISSED"))
        if goal is not None and med_abs > goal:
            status = 1
        print(f"{metric:<26}{engine:<14}{len(errs):>5}{med_abs:>13.1%}{med:>+12.1%}{mark}")
    print(f"\nscored {sum(len(v) for k, v in errors.items() if k[1] == 'all')} rows; skipped "
          + ", ".join(f"{n} ({why})" for why, n in sorted(skipped.items(), key=lambda kv: -kv[1])))
    return status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", action="store_true", help="print every scored row")
    parser.add_argument("--data", nargs="*", type=Path, default=DATA, help="measurement CSV files")
    args = parser.parse_args()
    sys.exit(run(args.data, args.rows))


if __name__ == "__main__":
    main()
