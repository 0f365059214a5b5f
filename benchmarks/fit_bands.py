"""P10/P90 error bands per engine and metric, from the residuals of the fit; written to engines.toml.

    python benchmarks/fit_bands.py [--dry-run]

For every row benchmarks/accuracy.py scores (the published measurements and the aggregated rows of
AIConfigurator's serving database), the ratio measured / estimated of TTFT, TPOT and throughput
(``accuracy.residuals``: single-request prompt and generation speeds count as TTFT and TPOT the
other way up, generation speed also as throughput). Per engine and metric, the 10th and 90th
percentiles of those ratios become ``<metric>_ratio_p10`` and ``<metric>_ratio_p90``: the core
multiplies an estimate by them (``physics.bands``). An engine with fewer than MIN_ROWS rows of a
metric takes the band of all engines' rows pooled, and its ``bands_source`` says so.

Rerun after any refit of the efficiencies (the residuals change with them): the script rewrites
the band fields of every engine in place and leaves the rest of engines.toml as it is.
``benchmarks/accuracy.py`` prints the share of rows inside each stored band (about 80% while the
bands are current).
"""

from __future__ import annotations

import argparse
import datetime
import math
import re
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import accuracy  # noqa: E402

ENGINES_TOML = HERE.parent / "llmcalc_xl" / "catalogs" / "engines.toml"
#: fewer rows than this for an engine and metric: the pooled band instead
MIN_ROWS = accuracy.BAND_MIN_ROWS
#: the fields this script owns in engines.toml
FIELDS = tuple(f"{m}_ratio_{p}" for m in accuracy.BAND_METRICS for p in ("p10", "p90")) + ("bands_source",
                                                                                          "bands_as_of")
DATA_NAMES = {"published": "calibration/extra_measurements.csv", "serving": "serving_measurements.csv agg"}


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between the closest ranks (numpy's
    default, Excel's PERCENTILE.INC): rank q/100 x (n - 1) counted from 0."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = q / 100.0 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def band(values: list[float]) -> tuple[float, float]:
    """(P10, P90) of measured / estimated, rounded to 2 decimals as stored."""
    return round(float(percentile(values, 10)), 2), round(float(percentile(values, 90)), 2)


def bands(found: list[tuple[str, str, float, str]], engines: list[str]) -> dict[str, dict]:
    """Per engine: its fields (FIELDS) and, per metric, (rows, pooled?) for the report."""
    by = defaultdict(list)
    origin = defaultdict(lambda: defaultdict(int))
    for engine, metric, ratio, data in found:
        if math.isfinite(ratio) and ratio > 0:
            by[(engine, metric)].append(ratio)
            origin[(engine, metric)][data] += 1
    pooled = {m: [r for (e, mm), rs in by.items() if mm == m for r in rs] for m in accuracy.BAND_METRICS}
    today = datetime.date.today().isoformat()
    out = {}
    for engine in engines:
        fields: dict = {}
        said, report = [], {}
        for metric in accuracy.BAND_METRICS:
            own = by.get((engine, metric), [])
            counts = ", ".join(f"{n} {DATA_NAMES[d]}" for d, n in sorted(origin[(engine, metric)].items()))
            if len(own) >= MIN_ROWS:
                low, high = band(own)
                said.append(f"{metric} {len(own)} rows ({counts})")
                report[metric] = (len(own), False, low, high)
            else:
                low, high = band(pooled[metric])
                said.append(f"{metric} POOLED over all engines' {len(pooled[metric])} rows (this engine has "
                            f"{len(own)}, fewer than {MIN_ROWS})")
                report[metric] = (len(own), True, low, high)
            fields[f"{metric}_ratio_p10"], fields[f"{metric}_ratio_p90"] = low, high
        fields["bands_source"] = ("10th and 90th percentiles of measured / estimated, benchmarks/fit_bands.py on "
                                  "the rows benchmarks/accuracy.py scores (benchmarks/data): " + "; ".join(said))
        fields["bands_as_of"] = today
        out[engine] = dict(fields=fields, report=report)
    return out


def _toml_value(v) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(v)


def rewrite(text: str, values: dict[str, dict]) -> str:
    """engines.toml with each engine's band fields replaced (or added before its ``source``)."""
    blocks = re.split(r"(?m)^(?=\[\[engines\]\]\s*$)", text)
    out = []
    for block in blocks:
        found = re.search(r'(?m)^id\s*=\s*"([^"]+)"', block)
        if not block.startswith("[[engines]]") or not found or found.group(1) not in values:
            out.append(block)
            continue
        lines = [ln for ln in block.split("\n") if not re.match(r"(%s)\s*=" % "|".join(FIELDS), ln)]
        at = next(i for i, ln in enumerate(lines) if re.match(r"source\s*=", ln))
        new = [f"{k} = {_toml_value(v)}" for k, v in values[found.group(1)]["fields"].items()]
        out.append("\n".join(lines[:at] + new + lines[at:]))
    return "".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="print the bands, do not write engines.toml")
    args = parser.parse_args()
    text = ENGINES_TOML.read_text(encoding="utf-8")
    engines = re.findall(r'(?m)^\[\[engines\]\]\s*\nid\s*=\s*"([^"]+)"', text)
    values = bands(accuracy.residuals(), engines)
    print(f"{'engine':<14}{'metric':<12}{'rows':>6}{'P10':>7}{'P90':>7}")
    for engine, v in values.items():
        for metric, (rows, pooled, low, high) in v["report"].items():
            print(f"{engine:<14}{metric:<12}{rows:>6}{low:>7.2f}{high:>7.2f}{'  (pooled)' if pooled else ''}")
    if not args.dry_run:
        ENGINES_TOML.write_text(rewrite(text, values), encoding="utf-8")
        print(f"\nwritten: {ENGINES_TOML.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
