"""Plain-text presentation of results for the terminal (no arithmetic here)."""

from __future__ import annotations

import math
from typing import Any, Sequence

from ..notes import Note


def money(value: Any, digits: int | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "never"
    if digits is None:
        digits = 2 if abs(value) >= 100 else (4 if abs(value) >= 0.01 else 6)
    return f"${value:,.{digits}f}"


def num(value: Any, digits: int = 2, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "never"
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}".rstrip()


def seconds(value: Any) -> str:
    if value is None:
        return "n/a"
    if value < 1:
        return f"{value * 1000:,.1f} ms"
    return f"{value:,.2f} s"


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def band(d: dict[str, Any], key: str, show: Any) -> str:
    """" (low-high)": the P10-P90 range of ``key`` written as ``show`` writes the value (the same
    unit), or "" where the estimate has no band (none stored, or none to have: an API model's
    price list, a latency given)."""
    low, high = d.get(f"{key}_p10"), d.get(f"{key}_p90")
    if not (_given(low) and _given(high) and _given(d.get(key))) or low == high:
        return ""
    return f" ({show(low)}-{show(high)})"


def _seconds_as(value: float):
    """seconds() in the unit it picks for ``value``, without the unit: a range reads as its value."""
    if value < 1:
        return lambda x: f"{x * 1000:,.1f}"
    return lambda x: f"{x:,.2f}"


def estimate_text(d: dict[str, Any], hardware_name: str | None, engine_name: str | None,
                  notes: Sequence[Note], batch_max: bool = False, layout: str | None = None,
                  calibrated: str | None = None) -> str:
    lines = []
    api = d["model_kind"] == "api"
    head = f"{d['model']}"
    if not api:
        head += f" ({d['precision']} weights, {d['kv_precision']} KV cache)"
    if d.get("hardware"):
        head += f" on {d['gpus']} x {hardware_name or d['hardware']}" + (f" ({layout})" if layout else "")
    if not api and engine_name:
        head += f" with {engine_name}"
    lines.append(head)
    work = (f"Workload: {d['input_tokens']:,} input + {d['output_tokens']:,} output tokens, "
            f"{d['batch']:,} sequence{'s' if d['batch'] != 1 else ''} at once")
    if batch_max and not api:
        work += " (batch max: the largest that fits, capped by the engine's own maximum)"
    if not api:
        work += f", {d['context_tokens']:,}-token context reserved"
    lines.append(work)
    if calibrated and not api:  # a catalog file's [[calibrations]] entry for this engine on this device
        lines.append(f"Engine efficiencies calibrated on this device ({calibrated})")
    lines.append("")
    if api:
        lines.append("Memory: not applicable (an API model runs on the provider's hardware)")
    else:
        lines.append("Memory (GiB, all GPUs together)")
        for key, label in (("weights_gib", "weights"), ("kv_cache_gib", "KV cache"),
                           ("activations_gib", "activations"), ("overhead_gib", "runtime overhead"),
                           ("total_memory_gib", "total")):
            lines.append(f"  {label:<22}{num(d[key], 2):>12}")
        if d["usable_memory_gib"] is not None:
            verdict = "fits" if d["fits"] else "DOES NOT FIT"
            lines.append(f"  {'usable':<22}{num(d['usable_memory_gib'], 2):>12}   -> {verdict}")
            needed = d["gpus_needed"]
            lines.append(f"  {'GPUs needed':<22}{(str(needed) if needed else 'more than 64'):>12}")
            lines.append(f"  {'largest batch':<22}{d['max_batch']:>12,}")
        else:
            lines.append("  (give --hardware to check the fit)")
    lines.append("")
    if d.get("fits") is False:  # a deployment that does not fit cannot run: the note instead of speed and cost
        lines.append("Speed and cost: none (it cannot run)")
        for note in notes:
            if note.kind == "does_not_fit":
                hint = f" Use --gpus {d['gpus_needed']} or --gpus auto." if d.get("gpus_needed") else ""
                lines.append(_note_line(note.text) + hint)
        for note in notes:
            if note.kind not in ("does_not_fit", "not_applicable"):
                lines.append(_note_line(note.text))
        return "\n".join(lines)
    if d["latency_s"] is not None:
        lines.append("Speed" + ("   (in brackets: P10-P90, the range of 8 in 10 measurements; README \"Error bands\")"
                                if band(d, "tpot_s", str) else ""))
        ttft, tpot = d["ttft_s"], d["tpot_s"]
        lines.append(f"  {'time to first token':<22}{seconds(ttft):>12}"
                     + (band(d, "ttft_s", _seconds_as(ttft)) if _given(ttft) else ""))
        lines.append(f"  {'time per output token':<22}{seconds(tpot):>12}"
                     + (band(d, "tpot_s", _seconds_as(tpot)) if _given(tpot) else "")
                     + f"   ({num(d['decode_tokens_per_s'], 1)} tokens/s per sequence)")
        lines.append(f"  {'total latency':<22}{seconds(d['latency_s']):>12}")
        lines.append(f"  {'throughput':<22}{num(d['throughput_tokens_per_s'], 1):>12}"
                     + band(d, "throughput_tokens_per_s", lambda x: num(x, 1)) + "   output tokens/s, all sequences")
        lines.append("")
    elif not api:
        lines.append("Speed: give --hardware (or --memory-gib, --bandwidth-gb-s and --tflops)")
        lines.append("")
    if d.get("utilization_at_rate") is not None:
        lines.extend(_rate_lines(d))
    lines.append("Cost per request (USD)")
    lines.append(f"  {'API tokens':<22}{money(d['token_cost_usd']):>12}")
    infra = money(d["infra_cost_usd"])
    price = d.get("price_per_hour")
    extra = f"   at {money(price, 2)}/GPU-hour" if price is not None else ""
    if extra and d.get("pricing") == "owned":
        extra += ", owned"
    lines.append(f"  {'GPU time':<22}{infra:>12}{extra}")
    lines.append(f"  {'total':<22}{money(d['cost_per_request_usd']):>12}")
    lines.append(f"  {'per 1M output tokens':<22}{money(d['cost_per_mtok_usd'], 2):>12}"
                 + band(d, "cost_per_mtok_usd", lambda x: money(x, 2)))
    if d.get("monthly_cost_usd") is not None:
        lines.append(f"  {'per month':<22}{money(d['monthly_cost_usd'], 2):>12}"
                     + band(d, "monthly_cost_usd", lambda x: money(x, 2))
                     + f"   for {num(d['requests_per_month'], 0)} requests"
                     + (f" ({d['replicas_needed']} deployment{'s' if d['replicas_needed'] != 1 else ''}"
                        + (f" at the peak, {num(d['average_replicas'], 2)} on average)"
                           if d.get("average_replicas") not in (None, d["replicas_needed"]) else ")")
                        if d.get("replicas_needed") else ""))
    for note in notes:
        if note.kind != "not_applicable":  # the Memory line above says so
            lines.append(_note_line(note.text))
    return "\n".join(lines)


def _rate_lines(d: dict[str, Any]) -> list[str]:
    """The request-rate view: arrivals at random at one deployment, queue included (M/M/c, c = batch)."""
    def three(key: str) -> str:
        return (f"{seconds(d[key + '_at_rate_s']):>12} mean, {seconds(d[key + '_at_rate_p90_s'])} p90, "
                f"{seconds(d[key + '_at_rate_p99_s'])} p99")
    return [
        f"At {num(d['requests_per_s'], 3)} requests/s arriving at random, one deployment (M/M/c queue, c = batch)",
        f"  {'utilisation':<22}{num(100 * d['utilization_at_rate'], 1):>11}%   of "
        f"{num(d['served_requests_per_s'], 3)} requests/s served with all {d['batch']:,} slots busy",
        f"  {'requests in flight':<22}{num(d['concurrency_at_rate'], 2):>12}   on average, queue included",
        f"  {'queue wait':<22}{seconds(d['queue_wait_s']):>12} mean",
        f"  {'time to first token':<22}{three('ttft')}",
        f"  {'time per output token':<22}{three('tpot')}",
        "",
    ]


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    """A left-aligned text table of the given (key, header) columns."""
    cells = [[h for _, h in columns]] + [[_cell(r.get(k)) for k, _ in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    out = []
    for n, row in enumerate(cells):
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        if math.isinf(v):
            return "never"
        if v != 0 and abs(v) < 0.01:
            return f"{v:.6f}"
        return f"{v:,.2f}" if abs(v) < 1e4 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def horizon_text(figures: dict[str, Any], months: list[dict[str, Any]], given: dict[str, Any],
                 show_months: bool) -> str:
    """The horizon forecast: totals and NPVs as quoted and on the API, the crossover month, and each
    month on request."""
    n = len(months)
    rate = float(given.get("discount_rate") or 0.0)
    api = figures["compare_api_model"]
    lines = [f"Over {n} month{'s' if n != 1 else ''}, the scenario as quoted and the same traffic on {api} (USD):",
             "",
             table([dict(what="total", quoted=figures["horizon_cost_usd"], api=figures["horizon_cost_api_usd"]),
                    dict(what=f"NPV at {rate:.1%} a year (end-of-month cash flows)", quoted=figures["npv_usd"],
                         api=figures["npv_api_usd"])],
                   [("what", ""), ("quoted", "as quoted"), ("api", f"on {api}")]),
             ""]
    cross = figures["crossover_month"]
    if math.isnan(cross):
        cheaper = "as quoted" if figures["horizon_cost_usd"] <= figures["horizon_cost_api_usd"] else f"on {api}"
        lines.append(f"Crossover month: none; the lead never changes within the horizon ({cheaper} is cheaper "
                     "over it).")
    else:
        lines.append(f"Crossover month: {cross:g}, the month in which the option dearer in month 1 becomes the "
                     "cheaper to date.")
    if show_months:
        lines += ["", table(months, [("month", "month"), ("requests_per_month", "requests"),
                                     ("replicas", "replicas"), ("monthly_usd", "as quoted"),
                                     ("monthly_api_usd", f"on {api}"), ("cumulative_usd", "cumulative"),
                                     ("cumulative_api_usd", f"cumulative on {api}")])]
    return "\n".join(lines)


def _note_line(text: str) -> str:
    """A note as the text output prints it: one sentence or more, ending in one full stop."""
    return f"Note: {text.rstrip('.')}."


def sensitivity_text(drivers: list[dict[str, Any]], share: float, what: str) -> str:
    """The tornado as a table: each driver down and up, the largest swing first."""
    from ..core.forecast import changes_usd, swing_ranks, swing_usd

    for d in drivers:
        d["change_down"], d["change_up"] = changes_usd(d["down_usd"], d["base_usd"], d["up_usd"])
    ranks = swing_ranks([swing_usd(d["change_down"], d["change_up"]) for d in drivers])
    rows = [d for _, d in sorted(zip((int(r) for r in ranks), drivers), key=lambda pair: pair[0])]
    head = (f"Monthly cost of {what} (USD) with each driver {share:.0%} down and up, the others as given; "
            "the largest swing first:")
    return head + "\n\n" + table(rows, [("label", "driver"), ("down_usd", "driver down"), ("base_usd", "as given"),
                                         ("up_usd", "driver up"), ("change_down", "change down"),
                                         ("change_up", "change up")])

