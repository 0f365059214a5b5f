"""Excel functions (xlwings user-defined functions): =LLM_COST(), =LLM_FITS() and the rest.

Set xlwings' "UDF Modules" to ``llmcalc_xl.excel.functions`` and click "Import Functions" (README,
"In Excel"). Every argument may be a single cell or a range; ranges broadcast against
single cells and the answer has the range's shape. A cell with a problem you can fix
shows ``#LLM! <message>``. Parameter names are the snake_case CLI option names; optional
parameters come last, always in the same order, with the core's defaults. This module is
a thin adapter: conversion lives in ``cells``, arithmetic in the core.
"""

from __future__ import annotations

from typing import Any

try:
    import xlwings as xw
except ImportError:  # the functions stay plain Python functions; Excel needs `pip install "llmcalc-xl[excel]"`
    xw = None  # type: ignore[assignment]

from .. import cells
from ..errors import InvalidValueError, LlmcalcError
from ..core.estimate import BOOL_KEYS, INPUT_KEYS, INT_KEYS, OUTPUT_KEYS, estimate_many
from ..core.options import OPTIONS
from ..core.physics import RATE_KEYS

#: Optional parameters, in the one order every function keeps.
#: LLM_ESTIMATE's arguments after price_per_hour: every other option of the core, in this order.
ESTIMATE_MORE = ("kv_precision", "cached_input_tokens", "requests_per_month", "utilization", "memory_gib",
                 "bandwidth_gb_s", "tflops", "memory_fraction", "overhead_gib", "prefill_mfu", "decode_mfu",
                 "decode_mbu", "prefill_overhead_s", "decode_step_overhead_s", "pricing", "capex_usd_per_gpu",
                 "depreciation_years", "residual_share", "cost_of_capital", "power_w_per_gpu", "pue",
                 "electricity_usd_per_kwh", "hosting_usd_per_kw_month", "maintenance_share_per_year",
                 "peak_to_average", "redundancy", "provider",
                 "horizon_months", "growth_per_month", "api_price_change_per_year",
                 "gpu_price_change_per_year", "discount_rate", "capex_upfront", "autoscale", "peak_hours_per_day",
                 "requests_per_s", "tp", "dp", "ep")
#: The parallel layout: last in every function that takes gpus, after band and figure (so that the
#: positions those had before the layout arguments came keep their meaning).
LAYOUT = ("tp", "dp", "ep")
OPTIONAL_ORDER = ("hardware", "gpus", "context_tokens", "batch", "precision", "engine", "latency_s",
                  "price_per_hour", *(n for n in ESTIMATE_MORE if n not in LAYOUT), "part", "figure", "band", *LAYOUT)

#: The function wizard's description of each argument: the options' help from the core's option
#: table (an empty cell takes the default), then the arguments that are not scenario options.
ARG_DOCS = {
    **{o.name: o.help_text("empty") for o in OPTIONS},
    "api_model": "API model id, e.g. gpt-4o.",
    "part": "total (empty), weights, kv_cache, activations or overhead.",
    "id": "Any catalog id: model, API model, hardware, engine or precision.",
    "field": "A catalog field, e.g. price_usd_per_hour, bandwidth_gb_s, source, as_of.",
    "kind": "open, api or empty for all.",
    "figure": "LLM_HORIZON: npv_usd (empty), npv_api_usd, horizon_cost_usd, horizon_cost_api_usd or "
              "crossover_month. LLM_AT_RATE: ttft_at_rate_p90_s (empty), ttft_at_rate_p99_s, tpot_at_rate_p90_s, tpot_at_rate_p99_s or another "
              "rate key (README).",
    "band": "p10 or p90: the low or high end of the range 8 in 10 measurements fall in; empty: the estimate.",
}


def _excel_function(f):
    """An Excel function through xlwings (a plain function where xlwings is not installed)."""
    return xw.func(f) if xw is not None else f


def _args(*names: str):
    """xlwings argument options: 2-D ranges and the function-wizard description of each."""
    def decorate(f):
        if xw is None:
            return f
        for name in reversed(names):
            f = xw.arg(name, ndim=2, doc=ARG_DOCS[name][:255])(f)
        return f
    return decorate


MEMORY_KEYS = ("fits", "gpus_needed", "max_batch", "total_memory_gib", "weights_gib", "kv_cache_gib",
               "activations_gib", "overhead_gib")


def _estimate(key: str, kind: str, no_answer: str, **named: Any) -> Any:
    def run(flat):
        return estimate_many(**flat)

    def pick(result, i):
        return cells.cell_value(result[key][i], kind)

    return cells.compute(run, named, pick, no_answer, about_memory=key in MEMORY_KEYS)


#: the ends of an error band a function can answer with (``band`` argument)
BANDS = ("p10", "p90")
#: what each banded output's band fields are called in the engines catalog
_BAND_FIELD = {"ttft_s": "ttft", "tpot_s": "tpot", "throughput_tokens_per_s": "throughput",
               "cost_per_mtok_usd": "throughput", "monthly_cost_usd": "throughput"}


def _banded(key: str, no_answer: str, band: Any, **named: Any) -> Any:
    """The estimate of ``key``, or with ``band`` p10 / p90 that end of its error band (physics.bands)."""
    def run(flat):
        out = estimate_many(**{k: v for k, v in flat.items() if k != "band"})
        out["band"] = cells.column(flat.get("band"))
        return out

    def pick(result, i):
        b = result["band"][i]
        if b is None or (isinstance(b, str) and not b.strip()):
            return cells.cell_value(result[key][i], "float")
        end = b.strip().lower() if isinstance(b, str) else None
        if end not in BANDS:
            return cells.message(f"band '{b}' must be p10, p90 or empty (the estimate)")
        value = cells.cell_value(result[f"{key}_{end}"][i], "float")
        if value is None and cells.cell_value(result[key][i], "float") is not None:
            return cells.message(f"No {end} band for this engine: its catalog entry has no "
                                 f"{_BAND_FIELD[key]}_ratio_{end} (benchmarks/fit_bands.py writes them)")
        return value

    return cells.compute(run, dict(named, band=band), pick, no_answer)


def _memory_workload(named: dict[str, Any]) -> dict[str, Any]:
    """The workload of a memory question. Token counts, where given, are the scenario's (as in
    `estimate`); a context alone is taken as all prompt, the most memory that context can need
    (the prefill pass grows with the prompt), so the answer holds for any split of it."""
    try:
        given = {k: any(v is not None for v in cells.grid(named.get(k)).ravel())
                 for k in ("context_tokens", "input_tokens", "output_tokens")}
    except LlmcalcError:
        return named  # a malformed range: compute() shows the message in the cell
    if given["context_tokens"] and not (given["input_tokens"] or given["output_tokens"]):
        named = dict(named, input_tokens=named["context_tokens"], output_tokens=0)
    return named


@_excel_function
@_args("model", "input_tokens", "output_tokens", "hardware", "gpus", "batch", "precision", "engine",
       "latency_s", "price_per_hour", *LAYOUT)
def LLM_COST(model, input_tokens, output_tokens, hardware=None, gpus=None, batch=None, precision=None,
             engine=None, latency_s=None, price_per_hour=None, tp=None, dp=None, ep=None):
    """USD per request: API tokens plus self-hosted GPU time."""
    return _estimate("cost_per_request_usd", "float", "No answer: give hardware (or latency_s and price_per_hour)",
                     model=model, input_tokens=input_tokens, output_tokens=output_tokens, hardware=hardware,
                     gpus=gpus, batch=batch, precision=precision, engine=engine, latency_s=latency_s,
                     price_per_hour=price_per_hour, tp=tp, dp=dp, ep=ep)


@_excel_function
@_args("model", "hardware", "gpus", "context_tokens", "batch", "precision", "engine", "input_tokens", "output_tokens",
       *LAYOUT)
def LLM_FITS(model, hardware, gpus=None, context_tokens=None, batch=None, precision=None, engine=None,
             input_tokens=None, output_tokens=None, tp=None, dp=None, ep=None):
    """TRUE if the model and its KV cache fit the GPUs' usable memory."""
    return _estimate("fits", "bool", "No answer: give a hardware id",
                     **_memory_workload(dict(model=model, hardware=hardware, gpus=gpus, context_tokens=context_tokens,
                                             batch=batch, precision=precision, engine=engine,
                                             input_tokens=input_tokens, output_tokens=output_tokens,
                                             tp=tp, dp=dp, ep=ep)))


MEMORY_PARTS = {"total": "total_memory_gib", "weights": "weights_gib", "kv_cache": "kv_cache_gib",
                "activations": "activations_gib", "overhead": "overhead_gib"}


@_excel_function
@_args("model", "context_tokens", "batch", "precision", "part", "input_tokens", "output_tokens")
def LLM_MEMORY(model, context_tokens=None, batch=None, precision=None, part=None, input_tokens=None,
               output_tokens=None):
    """GiB of GPU memory the model needs: total or one part."""
    named = _memory_workload(dict(model=model, context_tokens=context_tokens, batch=batch, precision=precision,
                                  input_tokens=input_tokens, output_tokens=output_tokens))

    def run(flat):
        out = estimate_many(**{k: v for k, v in flat.items() if k != "part"})
        out["part"] = cells.column(flat.get("part"))
        return out

    def pick(result, i):
        p = result["part"][i]
        p = "total" if p is None or (isinstance(p, str) and not p.strip()) else p
        if not isinstance(p, str) or p.strip().lower() not in MEMORY_PARTS:
            return cells.message(f"part '{p}' must be one of {', '.join(MEMORY_PARTS)}")
        return cells.cell_value(result[MEMORY_PARTS[p.strip().lower()]][i], "float")

    return cells.compute(run, dict(named, part=part), pick, "Memory is not applicable to this model",
                         about_memory=True)


@_excel_function
@_args("model", "hardware", "context_tokens", "batch", "precision", "engine", "input_tokens", "output_tokens")
def LLM_GPUS_NEEDED(model, hardware, context_tokens=None, batch=None, precision=None, engine=None, input_tokens=None,
                    output_tokens=None):
    """Fewest GPUs of this hardware whose memory holds the model and its KV cache."""
    return _estimate("gpus_needed", "int", "Does not fit on 64 GPUs of this hardware",
                     **_memory_workload(dict(model=model, hardware=hardware, context_tokens=context_tokens,
                                             batch=batch, precision=precision, engine=engine,
                                             input_tokens=input_tokens, output_tokens=output_tokens)))


@_excel_function
@_args("model", "hardware", "gpus", "context_tokens", "precision", "engine", "input_tokens", "output_tokens", *LAYOUT)
def LLM_MAX_BATCH(model, hardware, gpus=None, context_tokens=None, precision=None, engine=None, input_tokens=None,
                  output_tokens=None, tp=None, dp=None, ep=None):
    """Largest number of sequences that fit at once."""
    return _estimate("max_batch", "int", "No answer: give a hardware id",
                     **_memory_workload(dict(model=model, hardware=hardware, gpus=gpus, context_tokens=context_tokens,
                                             precision=precision, engine=engine, input_tokens=input_tokens,
                                             output_tokens=output_tokens, tp=tp, dp=dp, ep=ep)))


def _speed(key, model, hardware, input_tokens, output_tokens, gpus, batch, precision, engine, band=None, tp=None,
           dp=None, ep=None):
    named = dict(model=model, hardware=hardware, input_tokens=input_tokens, output_tokens=output_tokens, gpus=gpus,
                 batch=batch, precision=precision, engine=engine, tp=tp, dp=dp, ep=ep)
    if key in _BAND_FIELD:
        return _banded(key, "No answer: give a hardware id", band, **named)
    return _estimate(key, "float", "No answer: give a hardware id", **named)


@_excel_function
@_args("model", "hardware", "input_tokens", "gpus", "batch", "precision", "engine", "band", *LAYOUT)
def LLM_TTFT(model, hardware, input_tokens, gpus=None, batch=None, precision=None, engine=None, band=None, tp=None,
             dp=None, ep=None):
    """Seconds to the first token (prefill of the prompt).

    band p10 / p90: the ends of its error band (README, Error bands)."""
    # the first token comes out of the prefill: no further output needs room in the context
    return _speed("ttft_s", model, hardware, input_tokens, 0.0, gpus, batch, precision, engine, band, tp, dp, ep)


@_excel_function
@_args("model", "hardware", "input_tokens", "output_tokens", "gpus", "batch", "precision", "engine", "band", *LAYOUT)
def LLM_TPOT(model, hardware, input_tokens, output_tokens, gpus=None, batch=None, precision=None, engine=None,
             band=None, tp=None, dp=None, ep=None):
    """Seconds per output token, averaged over the answer.

    band p10 / p90: the ends of its error band (README, Error bands)."""
    return _speed("tpot_s", model, hardware, input_tokens, output_tokens, gpus, batch, precision, engine, band, tp,
                  dp, ep)


@_excel_function
@_args("model", "hardware", "input_tokens", "output_tokens", "gpus", "batch", "precision", "engine", *LAYOUT)
def LLM_LATENCY(model, hardware, input_tokens, output_tokens, gpus=None, batch=None, precision=None, engine=None,
                tp=None, dp=None, ep=None):
    """Seconds for a whole request: first token plus every further token."""
    return _speed("latency_s", model, hardware, input_tokens, output_tokens, gpus, batch, precision, engine, None,
                  tp, dp, ep)


@_excel_function
@_args("model", "hardware", "input_tokens", "output_tokens", "gpus", "batch", "precision", "engine", "band", *LAYOUT)
def LLM_THROUGHPUT(model, hardware, input_tokens, output_tokens, gpus=None, batch=None, precision=None,
                   engine=None, band=None, tp=None, dp=None, ep=None):
    """Output tokens per second of all sequences together.

    band p10 / p90: the ends of its error band (README, Error bands)."""
    return _speed("throughput_tokens_per_s", model, hardware, input_tokens, output_tokens, gpus, batch,
                  precision, engine, band, tp, dp, ep)


@_excel_function
@_args("model", "input_tokens", "output_tokens", "hardware", "gpus", "batch", "precision", "engine",
       "latency_s", "price_per_hour", "band", *LAYOUT)
def LLM_COST_PER_MTOK(model, input_tokens, output_tokens, hardware=None, gpus=None, batch=None, precision=None,
                      engine=None, latency_s=None, price_per_hour=None, band=None, tp=None, dp=None, ep=None):
    """USD per million output tokens (all costs of a request over its output).

    band p10 / p90: the ends of its error band (p10, the low cost, is the fast side)."""
    return _banded("cost_per_mtok_usd", "No answer: give hardware (or latency_s and price_per_hour)", band,
                   model=model, input_tokens=input_tokens, output_tokens=output_tokens, hardware=hardware,
                   gpus=gpus, batch=batch, precision=precision, engine=engine, latency_s=latency_s,
                   price_per_hour=price_per_hour, tp=tp, dp=dp, ep=ep)


@_excel_function
@_args("model", "requests_per_month", "input_tokens", "output_tokens", "hardware", "gpus", "batch", "precision",
       "engine", "latency_s", "price_per_hour", "band", *LAYOUT)
def LLM_MONTHLY_COST(model, requests_per_month, input_tokens, output_tokens, hardware=None, gpus=None, batch=None,
                     precision=None, engine=None, latency_s=None, price_per_hour=None, band=None, tp=None, dp=None,
                     ep=None):
    """USD per month: API tokens, or always-on GPU deployments sized for the traffic.

    band p10 / p90: the ends of its error band (p10, the low cost, is the fast side: fewer replicas)."""
    return _banded("monthly_cost_usd", "No answer: give requests_per_month and hardware", band,
                   model=model, requests_per_month=requests_per_month, input_tokens=input_tokens,
                   output_tokens=output_tokens, hardware=hardware, gpus=gpus, batch=batch, precision=precision,
                   engine=engine, latency_s=latency_s, price_per_hour=price_per_hour, tp=tp, dp=dp, ep=ep)


@_excel_function
@_args("model", "requests_per_month", "input_tokens", "output_tokens", "hardware", "gpus", "batch", "precision",
       "engine", "latency_s", "price_per_hour", *LAYOUT)
def LLM_EFFECTIVE_COST(model, requests_per_month, input_tokens, output_tokens, hardware=None, gpus=None, batch=None,
                       precision=None, engine=None, latency_s=None, price_per_hour=None, tp=None, dp=None, ep=None):
    """USD per request over a month: the monthly cost (idle replicas too) over the requests."""
    return _estimate("effective_cost_per_request_usd", "float", "No answer: give requests_per_month (above 0) and "
                     "hardware", model=model, requests_per_month=requests_per_month, input_tokens=input_tokens,
                     output_tokens=output_tokens, hardware=hardware, gpus=gpus, batch=batch, precision=precision,
                     engine=engine, latency_s=latency_s, price_per_hour=price_per_hour, tp=tp, dp=dp, ep=ep)


@_excel_function
@_args("api_model", "model", "hardware", "input_tokens", "output_tokens", "gpus", "batch", "precision", "engine",
       "price_per_hour", "peak_to_average", "redundancy", "autoscale", "peak_hours_per_day", *LAYOUT)
def LLM_BREAKEVEN(api_model, model, hardware, input_tokens, output_tokens, gpus=None, batch=None, precision=None,
                  engine=None, price_per_hour=None, peak_to_average=None, redundancy=None, autoscale=None,
                  peak_hours_per_day=None, tp=None, dp=None, ep=None):
    """Requests per month above which a self-hosted fleet (replicas for the peak, plus the spares; with
    autoscale, rented replicas following the day) is cheaper than the API ("never" if it is not)."""
    from ..core.plan import breakeven_many

    def run(flat):
        return breakeven_many(**flat)

    def pick(result, i):
        return cells.cell_value(result["breakeven_requests_per_month"][i], "float")

    return cells.compute(run, dict(api_model=api_model, model=model, hardware=hardware, input_tokens=input_tokens,
                                   output_tokens=output_tokens, gpus=gpus, batch=batch, precision=precision,
                                   engine=engine, price_per_hour=price_per_hour, peak_to_average=peak_to_average,
                                   redundancy=redundancy, autoscale=autoscale,
                                   peak_hours_per_day=peak_hours_per_day, tp=tp, dp=dp, ep=ep), pick,
                         "No answer: give a priced hardware id (or price_per_hour)")


@_excel_function
@_args("id", "field")
def LLM_INFO(id, field):  # noqa: A002 - the Excel argument is called id
    """Any catalog value: a price, a bandwidth, a source, a date..."""
    from ..catalogs.info import info_many
    return cells.compute(lambda flat: info_many(flat["id"], flat["field"]), dict(id=id, field=field),
                         lambda result, i: result["value"][i], "No value")


@_excel_function
@_args("kind")
def LLM_MODELS(kind=None):
    """The model catalog as a table with a header row (for a spill range or a dropdown)."""
    from ..catalogs.info import models_table
    try:
        kinds = cells.grid(kind)
        if kinds.shape != (1, 1):
            return cells.message("kind takes one cell: open, api or empty")
        return models_table(kinds[0, 0])
    except LlmcalcError as exc:
        return cells.message(str(exc))


@_excel_function
def LLM_HARDWARE():
    """The hardware catalog as a table with a header row (for a spill range or a dropdown)."""
    from ..catalogs.info import hardware_table
    return hardware_table()


@_excel_function
@_args("model", "hardware", "input_tokens", "output_tokens", "gpus", "context_tokens", "batch", "precision",
       "engine", "latency_s", "price_per_hour", *ESTIMATE_MORE)
def LLM_ESTIMATE(model, hardware=None, input_tokens=None, output_tokens=None, gpus=None, context_tokens=None,
                 batch=None, precision=None, engine=None, latency_s=None, price_per_hour=None, kv_precision=None,
                 cached_input_tokens=None, requests_per_month=None, utilization=None, memory_gib=None,
                 bandwidth_gb_s=None, tflops=None, memory_fraction=None, overhead_gib=None, prefill_mfu=None,
                 decode_mfu=None, decode_mbu=None, prefill_overhead_s=None, decode_step_overhead_s=None, pricing=None,
                 capex_usd_per_gpu=None, depreciation_years=None, residual_share=None, cost_of_capital=None,
                 power_w_per_gpu=None, pue=None, electricity_usd_per_kwh=None, hosting_usd_per_kw_month=None,
                 maintenance_share_per_year=None, peak_to_average=None, redundancy=None, provider=None,
                 horizon_months=None,
                 growth_per_month=None, api_price_change_per_year=None, gpu_price_change_per_year=None,
                 discount_rate=None, capex_upfront=None, autoscale=None, peak_hours_per_day=None,
                 requests_per_s=None, tp=None, dp=None, ep=None):
    """Every estimate for one scenario (every option of the core may be given): a row of names
    above a row of values."""
    named = dict(model=model, hardware=hardware, input_tokens=input_tokens, output_tokens=output_tokens, gpus=gpus,
                 context_tokens=context_tokens, batch=batch, precision=precision, engine=engine, latency_s=latency_s,
                 price_per_hour=price_per_hour, kv_precision=kv_precision, cached_input_tokens=cached_input_tokens,
                 requests_per_month=requests_per_month, utilization=utilization, memory_gib=memory_gib,
                 bandwidth_gb_s=bandwidth_gb_s, tflops=tflops, memory_fraction=memory_fraction,
                 overhead_gib=overhead_gib, prefill_mfu=prefill_mfu, decode_mfu=decode_mfu, decode_mbu=decode_mbu,
                 prefill_overhead_s=prefill_overhead_s, decode_step_overhead_s=decode_step_overhead_s,
                 pricing=pricing, capex_usd_per_gpu=capex_usd_per_gpu, depreciation_years=depreciation_years,
                 residual_share=residual_share, cost_of_capital=cost_of_capital, power_w_per_gpu=power_w_per_gpu,
                 pue=pue, electricity_usd_per_kwh=electricity_usd_per_kwh,
                 hosting_usd_per_kw_month=hosting_usd_per_kw_month,
                 maintenance_share_per_year=maintenance_share_per_year, peak_to_average=peak_to_average,
                 redundancy=redundancy, provider=provider,
                 horizon_months=horizon_months, growth_per_month=growth_per_month,
                 api_price_change_per_year=api_price_change_per_year,
                 gpu_price_change_per_year=gpu_price_change_per_year, discount_rate=discount_rate,
                 capex_upfront=capex_upfront, autoscale=autoscale, peak_hours_per_day=peak_hours_per_day,
                 requests_per_s=requests_per_s, tp=tp, dp=dp, ep=ep)
    try:
        shape, flat = cells.broadcast(named)
        if shape != (1, 1):
            return cells.message("LLM_ESTIMATE takes single cells. Use LLM_COST, LLM_LATENCY, ... for ranges")
        result = estimate_many(**flat)
    except LlmcalcError as exc:
        return cells.message(str(exc))
    if result["error"][0] is not None:
        return cells.message(result["error"][0])
    keys = list(INPUT_KEYS) + list(OUTPUT_KEYS)
    values = []
    for key in keys:
        v = result[key][0]
        kind = "bool" if key in BOOL_KEYS else "int" if key in INT_KEYS else "float"
        values.append(v if isinstance(v, str) or v is None else cells.cell_value(v, kind))
    return [keys, values]



def _figure(figure: Any, keys: tuple[str, ...], default: str) -> str:
    """The figure a function gives: one cell naming one of ``keys``, ``default`` when it is empty."""
    figures = cells.grid(figure)
    if figures.shape != (1, 1):
        raise InvalidValueError("figure takes one cell: " + ", ".join(keys))
    key = figures[0, 0] or default
    if key not in keys:
        raise InvalidValueError(f"figure '{key}' must be one of " + ", ".join(keys))
    return key


@_excel_function
@_args("model", "hardware", "requests_per_s", "input_tokens", "output_tokens", "gpus", "batch", "precision", "engine",
       "figure", *LAYOUT)
def LLM_AT_RATE(model, hardware, requests_per_s, input_tokens, output_tokens, gpus=None, batch=None, precision=None,
                engine=None, figure=None, tp=None, dp=None, ep=None):
    """The request-rate view of ONE deployment: requests_per_s arriving at random, served by its batch
    slots (an M/M/c queue): p90 TTFT in seconds (default), or another figure of the view."""
    named = {k: v for k, v in locals().items() if k != "figure"}  # the arguments, before any other name
    try:
        key = _figure(figure, RATE_KEYS, "ttft_at_rate_p90_s")
    except LlmcalcError as exc:
        return cells.message(str(exc))
    return _estimate(key, "float", "No answer: give a hardware id and requests_per_s", **named)


#: LLM_HORIZON's optional arguments (in the one order every function keeps; the figure last).
HORIZON_MORE = ("gpus", "batch", "precision", "engine", "latency_s", "price_per_hour", "cached_input_tokens",
                "utilization", "pricing", "capex_usd_per_gpu", "depreciation_years", "residual_share",
                "cost_of_capital", "power_w_per_gpu", "pue", "electricity_usd_per_kwh", "hosting_usd_per_kw_month",
                "maintenance_share_per_year", "peak_to_average", "redundancy", "horizon_months", "growth_per_month",
                "api_price_change_per_year", "gpu_price_change_per_year", "discount_rate", "capex_upfront", "autoscale",
                "peak_hours_per_day", "figure", *LAYOUT)


@_excel_function
@_args("api_model", "model", "hardware", "input_tokens", "output_tokens", "requests_per_month", *HORIZON_MORE)
def LLM_HORIZON(api_model, model, hardware, input_tokens, output_tokens, requests_per_month, gpus=None, batch=None,
                precision=None, engine=None, latency_s=None, price_per_hour=None, cached_input_tokens=None,
                utilization=None, pricing=None, capex_usd_per_gpu=None, depreciation_years=None, residual_share=None,
                cost_of_capital=None, power_w_per_gpu=None, pue=None, electricity_usd_per_kwh=None,
                hosting_usd_per_kw_month=None, maintenance_share_per_year=None, peak_to_average=None,
                redundancy=None, horizon_months=None, growth_per_month=None, api_price_change_per_year=None,
                gpu_price_change_per_year=None, discount_rate=None, capex_upfront=None, autoscale=None,
                peak_hours_per_day=None, figure=None, tp=None, dp=None, ep=None):
    """The scenario over its horizon against the same traffic on the API: the NPV (default), the
    other option's NPV, either total, or the crossover month ("none" when the lead never changes)."""
    named = {k: v for k, v in locals().items() if k != "figure"}  # the arguments, before any other name
    from ..core.plan import HORIZON_KEYS, horizon_many

    try:
        key = _figure(figure, HORIZON_KEYS, "npv_usd")
    except LlmcalcError as exc:
        return cells.message(str(exc))

    def pick(result, i):
        value = result[key][i]
        if key == "crossover_month" and value != value and result["npv_usd"][i] == result["npv_usd"][i]:
            return "none"  # a forecast whose lead never changes
        return cells.cell_value(value, "float")

    return cells.compute(lambda flat: horizon_many(**flat), named, pick,
                         "No answer: give hardware and requests_per_month (or an API model)")


@_excel_function
@_args("hardware", "capex_usd_per_gpu", "depreciation_years", "residual_share", "cost_of_capital", "power_w_per_gpu",
       "pue", "electricity_usd_per_kwh", "hosting_usd_per_kw_month", "maintenance_share_per_year")
def LLM_OWNED_GPU_HOUR(hardware=None, capex_usd_per_gpu=None, depreciation_years=None, residual_share=None,
                       cost_of_capital=None, power_w_per_gpu=None, pue=None, electricity_usd_per_kwh=None,
                       hosting_usd_per_kw_month=None, maintenance_share_per_year=None):
    """USD per GPU-hour of hardware you own: capital (straight line or annuity), power x PUE, hosting,
    maintenance; the catalog's purchase price and TDP where not given."""
    named = dict(locals())  # the arguments, before any other name
    from ..core.plan import owned_gpu_hour_many

    return cells.compute(lambda flat: owned_gpu_hour_many(**flat), named,
                         lambda result, i: cells.cell_value(result["owned_usd_per_gpu_hour"][i], "float"),
                         "No answer")
