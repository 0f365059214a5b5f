"""``estimate``: memory, fit, speed and cost of one scenario or a million.

The same code path serves both: every input may be a single value or a column
(list, numpy array, pandas Series), columns of equal length, singles broadcast.
``estimate`` prices one scenario and raises on bad input; ``estimate_many``
prices columns and keeps each bad row's message in its ``error`` column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from . import defaults, keyed, physics
from .arrays import where
from ..catalogs.loader import CALIBRATED_FIELDS, Catalog, load_catalog, normalize
from ..errors import InvalidValueError
from ..notes import Note, notes_of
from ..units import BYTES_PER_GIB
from .inputs import NONE, RowErrors, check_rule, column_length, length_of, numbers_column
#: The options' rules and defaults come from the one option table (names kept importable from here).
from .options import BY_NAME, NUMBER_OPTIONS, OPTION_NAMES, TEXT_OPTIONS, WORD_OPTIONS  # noqa: F401
from .resolve import (AUTO, RENTAL_TIERS, Coded, RowNotes, _check_engine, _choices, _ids, _offer_positions, _per_pair,
                      _per_value, _positions, _take, factorize)

#: Output keys, in display order. Memory figures are GiB over all GPUs.
OUTPUT_KEYS = (
    "weights_gib", "kv_cache_gib", "activations_gib", "overhead_gib", "total_memory_gib",
    "usable_memory_gib", "fits", "gpus_needed", "max_batch",
    "ttft_s", "tpot_s", "latency_s", "prefill_tokens_per_s", "decode_tokens_per_s",
    "throughput_tokens_per_s",
    "token_cost_usd", "infra_cost_usd", "cost_per_request_usd", "cost_per_mtok_usd",
    "deployment_usd_per_month", "capacity_requests_per_month", "replicas_needed", "average_replicas",
    "monthly_cost_usd", "effective_cost_per_request_usd", "rented_monthly_cost_usd", "owned_monthly_cost_usd",
) + physics.RATE_KEYS + physics.BAND_KEYS  # P10 and P90 of TTFT, TPOT, throughput and costs (physics.bands)
#: What a deployment that does not fit cannot have: it cannot run, so no speed and no cost.
NOT_RUNNING_KEYS = physics.NOT_RUNNING_KEYS
#: Resolved inputs reported with the outputs (ids after alias matching and "auto").
INPUT_KEYS = ("model", "model_kind", "hardware", "engine", "precision", "kv_precision", "gpus", "tp", "dp", "ep",
              "input_tokens", "cached_input_tokens", "output_tokens", "batch", "context_tokens",
              "price_per_hour", "pricing", "provider", "capex_usd_per_gpu", "power_w_per_gpu", "requests_per_month",
              "utilization", "requests_per_s")
#: Text outputs that ``estimate_many(coded_text=True)`` gives as codes into their names.
CODED_KEYS = ("model", "hardware", "engine", "precision", "kv_precision", "pricing", "provider", "notes")
BOOL_KEYS = ("fits",)
INT_KEYS = ("gpus_needed", "max_batch", "replicas_needed", "gpus", "tp", "dp", "ep", "input_tokens",
            "cached_input_tokens", "output_tokens", "batch", "context_tokens")


#: The row's error where autoscale's day cannot hold the peak (peak_to_average, peak_hours_per_day).
AUTOSCALE_CROWDED = ("autoscale: a peak of {0:g}x the average for {1:g} hours a day carries more than the day's traffic. "
                     "Lower peak_to_average or peak_hours_per_day (their product at most 24)")

#: The row's error where requests_per_s is more than one deployment serves (utilisation 1 or more).
RATE_OVERLOADED = ("requests_per_s: arrivals of {0:.4g}/s exceed the {1:.4g}/s this deployment serves. Add replicas "
                   "(plan) or lower requests_per_s")

_NOT_APPLICABLE_API = ("memory is not applicable to API model '{}': it runs on the provider's "
                       "hardware. Ask about an open-weight model, or compare costs with `plan`.")


@dataclass(frozen=True, repr=False)
class Estimate:
    """The result for one scenario: the resolved inputs (ids after alias matching and "auto"),
    every output (None: no answer; memory in GiB over all GPUs, times in seconds, money in USD)
    and the notes that say why an output has no answer. ``to_dict()`` gives the flat mapping."""

    # resolved inputs (INPUT_KEYS)
    model: str
    model_kind: str  # "open" or "api"
    hardware: str | None  # a catalog id, "custom" (a device given by its numbers) or None
    engine: str | None
    precision: str | None
    kv_precision: str | None
    gpus: int
    # the parallel layout used (gpus = tp x dp; ep: expert-parallel degree), None where the engine splits
    # layers rather than tensors or the model is an API's
    tp: int | None
    dp: int | None
    ep: int | None
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    batch: int
    context_tokens: int | None
    price_per_hour: float | None  # USD per GPU-hour: given, the catalog's on-demand price, or the owned cost
    pricing: str | None  # "on-demand", "reserved-1y", "reserved-3y", "spot" or "owned" (None without hardware)
    provider: str | None  # whose published price the GPU-hour is (None: owned, given or no price)
    capex_usd_per_gpu: float | None
    power_w_per_gpu: float | None
    requests_per_month: float | None
    utilization: float
    requests_per_s: float | None  # arrivals a second at one deployment (the rate view), as given
    # outputs (OUTPUT_KEYS)
    weights_gib: float | None
    kv_cache_gib: float | None
    activations_gib: float | None
    overhead_gib: float | None
    total_memory_gib: float | None
    usable_memory_gib: float | None
    fits: bool | None
    gpus_needed: int | None
    max_batch: int | None
    ttft_s: float | None
    tpot_s: float | None
    latency_s: float | None
    prefill_tokens_per_s: float | None
    decode_tokens_per_s: float | None
    throughput_tokens_per_s: float | None
    token_cost_usd: float | None
    infra_cost_usd: float | None
    cost_per_request_usd: float | None
    cost_per_mtok_usd: float | None
    deployment_usd_per_month: float | None
    capacity_requests_per_month: float | None
    replicas_needed: int | None
    average_replicas: float | None
    monthly_cost_usd: float | None
    effective_cost_per_request_usd: float | None
    rented_monthly_cost_usd: float | None
    owned_monthly_cost_usd: float | None
    # the request-rate view (requests_per_s given): at one deployment, arrivals at random
    served_requests_per_s: float | None
    utilization_at_rate: float | None
    concurrency_at_rate: float | None
    queue_wait_s: float | None
    ttft_at_rate_s: float | None
    ttft_at_rate_p90_s: float | None
    ttft_at_rate_p99_s: float | None
    tpot_at_rate_s: float | None
    tpot_at_rate_p90_s: float | None
    tpot_at_rate_p99_s: float | None
    # error bands (physics.bands): the 10th and 90th percentiles, None where the engine has none
    ttft_s_p10: float | None = None
    ttft_s_p90: float | None = None
    tpot_s_p10: float | None = None
    tpot_s_p90: float | None = None
    throughput_tokens_per_s_p10: float | None = None
    throughput_tokens_per_s_p90: float | None = None
    cost_per_mtok_usd_p10: float | None = None
    cost_per_mtok_usd_p90: float | None = None
    monthly_cost_usd_p10: float | None = None
    monthly_cost_usd_p90: float | None = None
    notes: tuple[Note, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The inputs and outputs in ``INPUT_KEYS + OUTPUT_KEYS`` order, then ``notes`` (a list
        of texts), as ``estimate --json`` prints them."""
        out = {key: getattr(self, key) for key in INPUT_KEYS + OUTPUT_KEYS}
        out["notes"] = [note.text for note in self.notes]
        return out

    def __repr__(self) -> str:
        keys = ("model", "hardware", "total_memory_gib", "fits", "latency_s", "cost_per_request_usd")
        return "Estimate(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in keys) + ")"


def _python_value(key: str, value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        value = float(value)
        if math.isnan(value):
            return None
        if math.isinf(value):
            return value
        if key in BOOL_KEYS:
            return bool(value)
        if key in INT_KEYS:
            return int(value)
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def estimate(model: Any, hardware: Any = None, *, catalog: Catalog | Iterable[str] | None = None,
             quote_date: Any = None, **options: Any) -> Estimate:
    """Memory, fit, speed and cost of one scenario.

    ``model`` and ``hardware`` are catalog ids or names people type ("H100", "Llama 3 70B").
    Options (units in the names): gpus (a count, or "auto": the fewest that fit), precision,
    kv_precision, engine, input_tokens, cached_input_tokens, output_tokens, batch,
    context_tokens, latency_s, price_per_hour (USD per GPU-hour), memory_gib, bandwidth_gb_s,
    tflops (describe a device not in the catalog), requests_per_month, utilization, and engine
    overrides memory_fraction, overhead_gib, prefill_mfu, decode_mfu, decode_mbu,
    prefill_overhead_s, decode_step_overhead_s. ``quote_date`` (ISO date, default today) picks the
    API price in force that day and notes a model retired by then. Raises a
    :class:`~llmcalc_xl.errors.LlmcalcError` on bad input.
    """
    for name, value in options.items():
        if length_of(value) is not None:
            raise InvalidValueError(f"{name} must be a single value in estimate(), got a column. "
                                    "Use estimate_many() for columns.")
    result = estimate_many(model, hardware, catalog=catalog, errors="raise", quote_date=quote_date, **options)
    values = {k: _python_value(k, result[k][0]) for k in INPUT_KEYS + OUTPUT_KEYS}
    return Estimate(**values, notes=notes_of(result["notes"][0], result["note_kinds"][0]))


def estimate_many(model: Any, hardware: Any = None, *, catalog: Catalog | Iterable[str] | None = None,
                  errors: str = "collect", quote_date: Any = None, coded_text: bool = False,
                  **options: Any) -> dict[str, Any]:
    """Estimate for columns of scenarios in one vectorised pass.

    Returns a dict of equal-length arrays: the resolved inputs (``gpus`` as a count where
    "auto" was given), every key of ``OUTPUT_KEYS`` (NaN where there is no answer: a
    self-hosted deployment that does not fit has no speed and no cost, and the note
    "does not fit: needs N GPUs"), ``notes`` (the texts, one line each, None for none),
    ``note_kinds`` (their kinds as bits; :func:`~llmcalc_xl.notes.notes_of` gives a row's
    :class:`~llmcalc_xl.notes.Note` list) and ``error`` (the row's message, None when it
    computed). With ``errors="raise"`` the first bad row raises. ``quote_date`` (a date or
    "YYYY-MM-DD", default today): API prices are those in force that day (an introductory price ends
    on its date) and a model retired by then gets a note naming its successor. With ``coded_text``
    the text outputs of ``CODED_KEYS`` come as :class:`~llmcalc_xl.core.resolve.Coded` (codes
    into their distinct texts, None among them), so that a writer need not find them again
    (``fill``).
    """
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        import difflib
        close = difflib.get_close_matches(unknown[0], OPTION_NAMES, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else f" Options: {', '.join(OPTION_NAMES)}."
        raise InvalidValueError(f"Unknown option '{unknown[0]}'.{hint}")
    if errors not in ("collect", "raise"):
        raise InvalidValueError(f"errors must be 'collect' or 'raise', got {errors!r}")
    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog or ())
    day = quote_day(quote_date)
    cat = cat.on(day)
    given = dict(model=model, hardware=hardware, **options)
    n = column_length(given)
    columns = {k: _as_array(v, coded=k in TEXT_OPTIONS) for k, v in given.items() if length_of(v) is not None}
    # blocks of rows keep each temporary array in cache: a million rows in one pass would
    # allocate (and page-fault) hundreds of 8 MB temporaries
    count = -(-n // CHUNK_ROWS)
    if n >= THREADS * _SPLIT_ROWS:  # a whole number of blocks for each thread (fill's blocks of 80,000 rows: two)
        count = THREADS * -(-count // THREADS)
    edges = [n * i // count for i in range(count + 1)]  # blocks of equal size, for the threads

    def block_of(start: int, stop: int) -> dict[str, np.ndarray]:
        block = {k: (_rows_of(columns[k], start, stop, coded=k in TEXT_OPTIONS) if k in columns else v)
                 for k, v in given.items()}
        errs = RowErrors(stop - start)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = _compute(cat, block, stop - start, errs, day, coded_text)  # rows with errors compute NaN, then masked
        if errors == "raise" and errs.bad.any():
            raise errs.first()
        out["error"] = errs.messages
        return out

    if count == 1:
        return block_of(0, n)
    result: dict[str, Any] = {}
    coded: dict[str, list] = {}
    for start, stop, out in _each_block(block_of, list(zip(edges[:-1], edges[1:]))):
        for key, values in out.items():
            if isinstance(values, Coded):
                coded.setdefault(key, []).append(values)
                continue
            if key not in result:
                result[key] = np.empty(n, dtype=np.asarray(values).dtype)
            result[key][start:stop] = values
    result.update({key: joined_codes(parts) for key, parts in coded.items()})
    return result


def joined_codes(parts: list[Coded]) -> Coded:
    """Coded columns one after the other as one (the distinct texts of each in turn)."""
    offsets = np.cumsum([0] + [len(p.uniques) for p in parts[:-1]])
    return Coded(np.concatenate([p.codes + offset for p, offset in zip(parts, offsets.tolist())]),
                 [u for p in parts for u in p.uniques])


#: Rows computed together at most; 128k rows of float64 are 1 MiB per temporary array. Each block
#: pays a Python overhead per operation of the physics (several thousand of them): fewer, larger
#: blocks cost less CPU in all (131,072 rows: about 10% less than 65,536 on the benchmark's book).
CHUNK_ROWS = 131072
#: Columns of at least THREADS times this many rows are cut into a multiple of THREADS blocks.
_SPLIT_ROWS = 16384
#: A block of a text column longer than this is coded: each distinct name is then resolved once.
_CODE_ROWS = 2000
#: Blocks computed at once, where the machine has the cores: numpy lets go of the GIL in its
#: loops, so two blocks computed in two threads take about the time of one.
THREADS = 2


def _each_block(block_of, blocks: list[tuple[int, int]]):
    """(start, stop, ``block_of(start, stop)``) for every block, in order, computed on up to
    THREADS threads (each block is independent of the others)."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = min(THREADS, cores, len(blocks))
    if threads <= 1:
        for start, stop in blocks:
            yield start, stop, block_of(start, stop)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending: deque = deque()
        try:
            for start, stop in blocks:
                pending.append((start, stop, pool.submit(block_of, start, stop)))
                if len(pending) == threads:
                    start, stop, done = pending.popleft()
                    yield start, stop, done.result()
            while pending:
                start, stop, done = pending.popleft()
                yield start, stop, done.result()
        finally:  # a block that raised: the blocks not started are not computed
            for _, _, waiting in pending:
                waiting.cancel()


def _as_array(value: Any, coded: bool = False) -> np.ndarray | Coded:
    """A column as a numpy array that slices by position (lists keep their Python objects); with
    ``coded``, a pandas categorical as :class:`Coded` (its codes, no text per row)."""
    if coded and getattr(getattr(value, "dtype", None), "name", None) == "category":
        cat = value.cat if hasattr(value, "cat") else value
        return Coded(np.asarray(cat.codes, dtype=np.int64) % (len(cat.categories) + 1),
                     list(cat.categories) + [None])  # code -1 (missing) takes the last: None
    if hasattr(value, "to_numpy"):
        return value.to_numpy()
    if isinstance(value, (list, tuple)):
        return np.asarray(value, dtype=object)
    return np.asarray(value)


def _rows_of(column: np.ndarray | Coded, start: int, stop: int, coded: bool = False) -> np.ndarray | Coded:
    """Rows start:stop of a column; with ``coded``, long text as :class:`Coded` (its distinct
    values found here, in the block's own thread)."""
    if isinstance(column, Coded):
        return column.rows(slice(start, stop))
    part = column[start:stop]
    if coded and part.dtype == object and stop - start > _CODE_ROWS:
        return Coded(*factorize(part))
    return part

# --- the computation ---------------------------------------------------------------------

def quote_day(value: Any = None) -> str:
    """The quote's date as "YYYY-MM-DD" (today when not given)."""
    import datetime as _dt

    if value is None or (isinstance(value, str) and not value.strip()):
        return _dt.date.today().isoformat()
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    try:
        return _dt.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise InvalidValueError(f"quote_date must be a date as YYYY-MM-DD, got {value!r}. "
                                "Write it like 2026-11-30.") from None


def _retired_notes(cat: Catalog, day: str, m_pos: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    """(rows, codes, texts) of the note on the rows whose API model was retired by the quote's day
    (codes: the models' positions)."""
    retired = cat.retired(day)
    ids = cat.table("models").ids
    texts: list[str | None] = [None] * len(ids)
    if not retired:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int64), texts
    flags = np.asarray([i in retired for i in ids])
    rows = np.flatnonzero(_take(flags, m_pos, missing=False) & ok)
    codes = np.take(np.broadcast_to(m_pos, ok.shape), rows)
    for pos in np.unique(codes).tolist():
        when, successor = retired[ids[pos]]
        texts[pos] = (f"'{ids[pos]}' was retired on {when}: its provider no longer serves it, and the cost uses its "
                      f"last published price." + (f" Its successor is '{successor}'." if successor else ""))
    return rows, codes, texts


def _compute(cat: Catalog, given: dict[str, Any], n: int, errs: RowErrors,
             day: str | None = None, coded_text: bool = False) -> dict[str, Any]:
    num: dict[str, np.ndarray] = {}
    # gpus "auto": the fewest GPUs that fit, resolved once the memory is known; batch "max": the largest
    # batch that fits on them, capped by the engine's own maximum (computed at one sequence until then)
    gpus_auto = _auto_cells(given.get("gpus"), n)
    batch_max = _auto_cells(given.get("batch"), n, WORD_OPTIONS["batch"])
    for name, rule in NUMBER_OPTIONS.items():
        value = given.get(name)
        if name == "gpus" and gpus_auto.any():
            value = _without(value, gpus_auto)
        if name == "batch" and batch_max.any():
            value = _without(value, batch_max)
        word = WORD_OPTIONS.get(name, "")
        column = numbers_column(name, value, n, errs, word)
        rule = dict(rule)
        default = rule.pop("default")
        one = column.ndim == 1 and len(column) > 1 and column.strides == (0,)  # a single value for every row
        check_rule(name, column[:1] if one else column, errs, word=word, **rule)
        if default is not None:
            if one:
                column = np.broadcast_to(np.float64(default) if np.isnan(column[0]) else column[0], (n,))
            else:
                column = np.where(np.isnan(column), float(default), column)
        num[name] = column

    mt, ht, et, pt = (cat.table(g) for g in ("models", "hardware", "engines", "precisions"))
    m_pos = _positions(cat, "models", given.get("model"), n, errs, "model")
    hw_pos = _positions(cat, "hardware", given.get("hardware"), n, errs, "hardware", blank=-1)
    is_api = _take(mt.flag("kind", "api"), m_pos, missing=False)
    # precision: as given; else what a quantised checkpoint's name implies; else the model's native
    # precision (gpt-oss ships in MXFP4, DeepSeek-V3 in FP8); else 16-bit
    p_pos = _positions(cat, "precisions", given.get("precision"), n, errs, "precision", blank=AUTO)
    if (p_pos == AUTO).any():
        p_pos = np.where(p_pos == AUTO, _default_precision(cat, given.get("model"), m_pos, n), p_pos)

    # hardware: catalog entry, custom device, or none
    custom_given = {k: ~np.isnan(num[k]) for k in ("memory_gib", "bandwidth_gb_s", "tflops")}
    any_custom = custom_given["memory_gib"] | custom_given["bandwidth_gb_s"] | custom_given["tflops"]
    has_catalog_hw = hw_pos >= 0
    custom_only = ~has_catalog_hw & any_custom
    missing_custom = custom_only & ~(custom_given["memory_gib"] & custom_given["bandwidth_gb_s"]
                                     & custom_given["tflops"])
    if missing_custom.any():
        errs.add(missing_custom, "A device not in the catalog needs memory_gib, bandwidth_gb_s and "
                                 "tflops together. Give all three, or a hardware id.")
    has_hw = has_catalog_hw | custom_only
    kind = {k: _take(ht.flag("kind", k), hw_pos, missing=False) for k in ("gpu", "apple", "cpu")}
    kind["gpu"] = kind["gpu"] | custom_only

    # engine ("auto" picks llama.cpp for Apple/CPU hardware and GGUF weights, vLLM otherwise)
    gguf = _take(pt.flag("family", "gguf"), p_pos, missing=False)
    auto_engine = np.where(kind["apple"] | kind["cpu"] | gguf, et.index(defaults.DEFAULT_LOCAL_ENGINE),
                           et.index(defaults.DEFAULT_GPU_ENGINE))
    e_pos = _positions(cat, "engines", given.get("engine"), n, errs, "engine", blank=AUTO)
    e_pos = np.where(e_pos == AUTO, auto_engine, e_pos)

    # KV cache: "auto" keeps fp32/bf16 weights' type, else fp16; but FP8 and NVFP4 weights that are not
    # the model's own release (a post-training quantised checkpoint such as NVIDIA ModelOpt's, whose
    # config sets kv_cache_quant_algo FP8) get an FP8 cache on engines that follow the checkpoint
    kv_auto = np.asarray([pt.index(r.id if r.id in ("fp32", "bf16") else "fp16") for r in pt.rows])
    k_pos = _positions(cat, "precisions", given.get("kv_precision"), n, errs, "kv_precision", blank=AUTO)
    native = np.asarray([pt.index(r.native_precision) if getattr(r, "native_precision", "") else -2
                         for r in mt.rows])
    quantised_checkpoint = (((p_pos == pt.index("fp8")) | (p_pos == pt.index("fp4")))
                            & (p_pos != _take(native, m_pos, missing=-2))
                            & (_take(et.column("kv_cache_follows_checkpoint", 0.0), e_pos, missing=0.0) > 0))
    k_auto = np.where(quantised_checkpoint, pt.index("fp8"), _take(kv_auto, p_pos, missing=pt.index("fp16")))
    k_pos = np.where(k_pos == AUTO, k_auto, k_pos)
    kv_bytes = _take(pt.column("kv_bytes", 0.0), k_pos, missing=2.0)
    bad_kv = (k_pos >= 0) & (kv_bytes <= 0) & ~is_api
    if bad_kv.any():
        errs.add(bad_kv, _per_value("kv_precision '{}' cannot hold a KV cache. Use fp16, bf16, fp8, "
                                    "int8, q8_0 or q4_0", _ids(pt, k_pos), bad_kv))

    _check_engine(cat, e_pos, hw_pos, p_pos, is_api, errs)
    pricing = _choices("pricing", given.get("pricing"), n, errs, BY_NAME["pricing"].choices,
                       BY_NAME["pricing"].choice_fix)
    o_pos, provider_given = _offer_positions(cat, given.get("provider"), hw_pos, pricing, n, errs)
    # read by the horizon forecast (``forecast.horizon_many``); checked here so every surface refuses it alike
    _choices("capex_upfront", given.get("capex_upfront"), n, errs, BY_NAME["capex_upfront"].choices,
             BY_NAME["capex_upfront"].choice_fix)
    autoscale = np.equal(_choices("autoscale", given.get("autoscale"), n, errs, BY_NAME["autoscale"].choices,
                                  BY_NAME["autoscale"].choice_fix), "yes")
    peak, peak_hours = num["peak_to_average"], num["peak_hours_per_day"]
    crowded = autoscale & (peak * peak_hours > 24.0)
    if crowded.any():
        errs.add(crowded, _per_pair(AUTOSCALE_CROWDED, peak, peak_hours, crowded))

    # workload
    gpus = num["gpus"]
    prompt, output = num["input_tokens"], num["output_tokens"]
    cached = num["cached_input_tokens"]
    over_cached = cached > prompt
    if over_cached.any():
        errs.add(over_cached, _per_pair("cached_input_tokens must be <= input_tokens ({1:g}), got {0:g}",
                                        cached, prompt, over_cached))
    context = np.where(np.isnan(num["context_tokens"]), prompt + output, num["context_tokens"])
    short = (context < prompt + output) & ~np.isnan(num["context_tokens"])
    if short.any():
        errs.add(short, _per_pair("context_tokens must hold input_tokens + output_tokens ({1:g}), got {0:g}. "
                                  "Raise context_tokens or leave it empty", context, prompt + output, short))
    model_ctx = _take(cat.table("models").column("context_length"), m_pos)
    too_long = (prompt + output > model_ctx) | (context > model_ctx)
    if too_long.any():
        errs.add(too_long, _per_pair("context of {0:g} tokens exceeds the model's context length {1:g}. "
                                     "Use fewer input/output tokens or a longer-context model",
                                     np.maximum(context, prompt + output), model_ctx, too_long))

    _check_layout(cat, num, gpus_auto, m_pos, e_pos, is_api, errs)

    pos = {"models": m_pos, "hardware": hw_pos, "engines": e_pos, "precisions": p_pos, "kv_precision": k_pos}
    flags = {"is_api": is_api, "has_hw": has_hw, "custom_only": custom_only, "on_apple": kind["apple"],
             "is_cuda": kind["gpu"] | ~has_hw,  # no device named: price the memory of NVIDIA GPUs
             "pricing_given": ~_equal(pricing, NONE), "pricing_owned": _equal(pricing, "owned"),
             "pricing_reserved_1y": _equal(pricing, "reserved-1y"),
             "pricing_reserved_3y": _equal(pricing, "reserved-3y"), "pricing_spot": _equal(pricing, "spot"),
             "provider_given": provider_given, "autoscale": autoscale, "batch_max": batch_max,
             "large_gpu_excluded": _large_gpu_excluded(cat, e_pos, hw_pos)}
    pos["offers"] = o_pos
    if cat.calibrations():  # an engine's efficiencies fitted on a device (``llmcalc-xl calibrate``)
        pos["calibrations"] = _calibration_positions(cat, e_pos, hw_pos)
    constant = frozenset(name for name in NUMBER_OPTIONS if length_of(given.get(name)) is None)
    axes = None
    if n >= keyed.MIN_ROWS:  # the catalog's arithmetic once per entry the block uses (``keyed``)
        space = keyed.Space(n)
        sizes = {"models": len(mt.ids), "hardware": len(ht.ids), "engines": len(et.ids), "precisions": len(pt.ids),
                 "kv_precision": len(pt.ids), "offers": len(cat.offers().rows)}
        axes = {group: keyed.Axis(space, pos[group], size) for group, size in sizes.items()}
        flags = _keyed_flags(cat, flags, axes, given.get("model"), pricing, custom_only, n)
    for flag, scope in (("experts_only", "experts"), ("attention_kept", "all-but-attention")):
        if flag not in flags:
            flags[flag] = _scoped(cat, given.get("model"), m_pos, p_pos, n, scope)
    values = _physics(cat, num, pos, flags, gpus_auto, constant, axes, batch_max)
    # ids as codes into a list of names (-1: none), so that notes format each name once
    m_names = np.asarray(mt.ids + [None], dtype=object)
    hw_names = np.asarray(ht.ids + ["custom", None], dtype=object)
    hw_codes = np.where(custom_only, len(ht.ids), hw_pos)
    m_ids, hw_ids = np.take(m_names, m_pos), np.take(hw_names, hw_codes)
    gpus = values.pop("gpus")
    unresolved = values.pop("gpus_unresolved")
    if unresolved.any():
        errs.add(unresolved, _per_pair(
            "gpus 'auto' finds no count up to " + str(MAX_GPUS) + " of '{0}' that holds '{1}'. Use a smaller "
            "precision, context or batch, or hardware with more memory", hw_ids, m_ids, unresolved))
    owned = values.pop("owned") & has_hw
    tier_code = np.select([_equal(pricing, w) for w in RENTAL_TIERS[1:]], [1, 2, 3], 0)  # into RENTAL_TIERS
    price_used = values["price_per_hour"]
    for field, what in (("capex_usd_per_gpu", "purchase price"), ("power_w_per_gpu", "power draw (TDP)")):
        missing = owned & np.isnan(num["price_per_hour"]) & np.isnan(values[field])
        if missing.any():
            errs.add(missing, _per_value(f"pricing 'owned' needs {field}: '{{}}' has no {what} in the catalog. Give "
                                         f"{field}, or price_per_hour", hw_ids, missing))
    rate = num["requests_per_s"]
    overloaded = ~errs.bad & (values["utilization_at_rate"] >= 1.0)
    if overloaded.any():
        errs.add(overloaded, _per_pair(RATE_OVERLOADED, rate, values["served_requests_per_s"], overloaded))
    ok = ~errs.bad
    notes = RowNotes(n)  # in NOTE_KINDS order
    notes.add("not_applicable", is_api, _NOT_APPLICABLE_API, m_names, m_pos)
    notes.add_codes("retired", *_retired_notes(cat, day or quote_day(), m_pos, ok))
    no_fit = ok & has_hw & ~is_api & (values["fits"] == 0)
    notes.add_codes("does_not_fit", *_fit_notes(values["gpus_needed"], hw_names, hw_codes, no_fit))
    no_price = has_hw & np.isnan(values["price_per_hour"])
    priced_names = np.asarray([f"{'hourly' if w == 'on-demand' else w} price for '{h}'" for h in hw_names
                               for w in RENTAL_TIERS], dtype=object)
    notes.add("no_price", no_price, "No {} in the catalog: pass price_per_hour, or capex_usd_per_gpu and "
              "power_w_per_gpu to price it as owned hardware", priced_names, np.where(hw_codes < 0, len(hw_names) - 1, hw_codes) * len(RENTAL_TIERS)
              + tier_code)
    no_speed = has_hw & ~is_api & ~no_fit & np.isnan(values["tpot_s"])
    notes.add("no_speed", no_speed, "No published dense TFLOPS for '{}': pass tflops to estimate speed",
              hw_names, hw_codes)
    api_no_speed = is_api & np.isnan(values["latency_s"])
    notes.add("api_no_speed", api_no_speed, "No published speed for API model '{}': pass latency_s to price GPU "
              "time or latency", m_names, m_pos)

    pricing_code = np.where(has_hw, np.where(owned, len(RENTAL_TIERS), tier_code), len(RENTAL_TIERS) + 1)
    provider_code = _providers(cat, hw_pos, o_pos, tier_code, has_hw & ~owned & np.isnan(num["price_per_hour"])
                               & ~np.isnan(price_used))
    result: dict[str, Any] = {
        "model": m_ids, "model_kind": np.take(np.asarray(["open", "api"], dtype=object), is_api.astype(np.intp)),
        "hardware": hw_ids,
        "engine": _ids(et, np.where(is_api, -1, e_pos)),
        "precision": _ids(pt, np.where(is_api, -1, p_pos)),
        "kv_precision": _ids(pt, np.where(is_api, -1, k_pos)),
        "gpus": _full(gpus), **_layout_used(values, _take(et.flag("parallelism", "tensor"), e_pos, missing=True) & ~is_api),
        "input_tokens": _full(prompt), "cached_input_tokens": _full(cached),
        "output_tokens": _full(output), "batch": values.pop("batch"), "context_tokens": np.where(is_api, np.nan, context),
        "price_per_hour": values.pop("price_per_hour"),
        "pricing": np.take(_PRICING_NAMES, pricing_code),
        "provider": np.take(provider_code[1], provider_code[0]),
        "capex_usd_per_gpu": np.where(has_hw, values.pop("capex_usd_per_gpu"), np.nan),
        "power_w_per_gpu": np.where(has_hw, values.pop("power_w_per_gpu"), np.nan),
        "requests_per_month": _full(num["requests_per_month"]), "utilization": _full(num["utilization"]),
        "requests_per_s": _full(num["requests_per_s"]),
    }
    bad = np.flatnonzero(~ok)
    # outputs are masked in place where the physics made them (not an array also reported elsewhere)
    owners = {id(v) for k, v in values.items() if k not in OUTPUT_KEYS} | {id(v) for v in result.values()}
    for key in OUTPUT_KEYS:
        col = np.asarray(values[key], dtype=float)
        if len(bad):
            if col.flags.writeable and col.flags.owndata and id(col) not in owners:  # the physics' own array
                owners.add(id(col))
                col[bad] = np.nan
            else:
                col = where(ok, col, np.nan)
        result[key] = col
    result["notes"] = Coded(*notes.coded()) if coded_text else notes.texts
    result["note_kinds"] = notes.kinds
    if coded_text:  # the texts as codes into the names they were taken from
        pos_of = {"engine": e_pos, "precision": p_pos, "kv_precision": k_pos}
        for key, table in (("engine", et), ("precision", pt), ("kv_precision", pt)):
            result[key] = Coded(_codes_of(np.where(is_api, -1, pos_of[key]), len(table.ids) + 1), table.ids + [None])
        result["model"] = Coded(_codes_of(m_pos, len(m_names)), m_names.tolist())
        result["hardware"] = Coded(_codes_of(hw_codes, len(hw_names)), hw_names.tolist())
        result["pricing"] = Coded(pricing_code, _PRICING_NAMES.tolist())
        result["provider"] = Coded(provider_code[0], provider_code[1].tolist())
    return result


def _layout_used(values: dict[str, np.ndarray], tensor: np.ndarray) -> dict[str, np.ndarray]:
    """tp, dp and ep as the estimate used them (tp = gpus / dp and dp = ep = 1 where not given), taken out
    of ``values``; NaN in the rows of an engine that splits layers or of an API model (no layout)."""
    return {k: np.where(tensor, values.pop(k), np.nan) for k in ("tp", "dp", "ep")}


def _codes_of(pos: np.ndarray, size: int) -> np.ndarray:
    """Positions into a list of ``size`` names whose last is None, as ``np.take`` reads them (-1: that last)."""
    return np.where(pos < 0, pos + size, pos)


#: A layout the engine or model cannot take: (condition's key, message with {0} and {1}).
LAYOUT_MESSAGES = {
    "auto": "gpus 'auto' takes no layout (got dp {0:g}, ep {1:g}, or a tp): it tries tp = gpus alone. Give gpus "
            "= tp x dp as a count",
    "product": "tp x dp must equal gpus ({1:g}), got tp x dp = {0:g}. Give gpus = tp x dp, or leave tp empty "
               "(gpus / dp)",
    "dp_divides": "dp '{0:g}' must divide gpus ({1:g}): each rank has gpus / dp GPUs. Use a dp that divides gpus",
    "engine": "tp, dp and ep split tensors: engine '{0}' splits layers across its {1:g} GPUs. Use vllm, sglang or "
              "tensorrt-llm, or leave tp, dp and ep empty",
    "heads": "tp '{0:g}' must divide the model's {1:g} attention heads. Use a tp that divides them (a power of two)",
    "kv_heads": "tp '{0:g}' and the model's {1:g} KV heads: one must divide the other. Use a tp that does",
    "dense": "ep '{0:g}' needs a mixture-of-experts model: this one has {1:g} routed experts. Leave ep empty or 1",
    "experts": "ep '{0:g}' must divide the model's {1:g} routed experts. Use an ep that divides them",
    "ep_gpus": "ep '{0:g}' must divide gpus ({1:g}): the experts are spread over all GPUs, gpus / ep to a group. "
               "Use an ep that divides gpus",
}


def _check_layout(cat: Catalog, num: dict[str, np.ndarray], gpus_auto: np.ndarray, m_pos: np.ndarray,
                  e_pos: np.ndarray, is_api: np.ndarray, errs: RowErrors) -> None:
    """The parallel layout (tp, dp, ep) against gpus, the engine and the model, in rows where one of them
    is given (an empty layout is tp = gpus, dp = 1, ep = 1, as before the options existed)."""
    tp_given, dp_given, ep_given = (~np.isnan(num[k]) for k in ("tp", "dp", "ep"))
    given_any = (tp_given | dp_given | ep_given) & ~is_api
    if not given_any.any():
        return
    mt, et = cat.table("models"), cat.table("engines")
    gpus = num["gpus"]
    dp = np.where(dp_given, num["dp"], 1.0)
    ep = np.where(ep_given, num["ep"], 1.0)
    tp = np.where(tp_given, num["tp"], gpus / dp)
    heads, kv_heads = _take(mt.column("heads"), m_pos), _take(mt.column("kv_heads"), m_pos)
    experts = np.nan_to_num(_take(mt.column("experts"), m_pos), nan=0.0)
    mla = np.nan_to_num(_take(mt.column("kv_lora_rank"), m_pos), nan=0.0) > 0
    engine = _ids(et, e_pos)
    tensor = _take(et.flag("parallelism", "tensor"), e_pos, missing=True)
    sized = given_any & ~gpus_auto
    whole_tp = sized & (tp == np.floor(tp)) & (tp >= 1)

    def whole(x, d):
        return np.mod(x, np.where(d > 0, d, 1.0)) == 0

    checks = [
        ("auto", given_any & gpus_auto, dp, ep),
        ("product", sized & tp_given & (tp * dp != gpus), tp * dp, gpus),
        ("dp_divides", sized & ~tp_given & ~whole(gpus, dp), dp, gpus),
        ("engine", sized & ~tensor & ((tp > 1) | (dp > 1) | (ep > 1)), engine, gpus),
        ("heads", whole_tp & tensor & (heads > 0) & ~whole(heads, tp), tp, heads),
        ("kv_heads", whole_tp & tensor & ~mla & (kv_heads > 0) & ~whole(kv_heads, tp) & ~whole(tp, kv_heads),
         tp, kv_heads),
        ("dense", given_any & (ep > 1) & ~(experts > 0), ep, experts),
        ("experts", given_any & (ep > 1) & (experts > 0) & ~whole(experts, ep), ep, experts),
        ("ep_gpus", sized & (ep > 1) & ~whole(gpus, ep), ep, gpus),
    ]
    for key, bad, a, b in checks:
        bad = bad & ~errs.bad  # one message a row: its first broken rule
        if bad.any():
            errs.add(bad, _per_pair(LAYOUT_MESSAGES[key], a, b, bad))


def _equal(column: np.ndarray, value: Any) -> np.ndarray:
    """``np.equal(column, value)``; compared once where the column is one value broadcast."""
    if column.ndim == 1 and len(column) > 1 and column.strides == (0,):
        return np.full(len(column), np.equal(column[0], value), dtype=bool)
    return np.equal(column, value)


def _full(column: np.ndarray) -> np.ndarray:
    """A column as an array of its own (an option given once is one value broadcast)."""
    return np.array(column) if column.ndim == 1 and len(column) > 1 and column.strides == (0,) else column


#: The ``pricing`` output: the rental tiers (RENTAL_TIERS), "owned", and None (no device).
_PRICING_NAMES = np.asarray([*RENTAL_TIERS, "owned", None], dtype=object)


def _providers(cat: Catalog, hw_pos: np.ndarray, o_pos: np.ndarray, tier: np.ndarray,
               rented: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whose published price each rented row's GPU-hour is: the named provider's (as the catalog spells
    it), else the default of the row's tier (``tier``: positions in RENTAL_TIERS); None where the
    GPU-hour is owned, given or unpriced. As (codes, names)."""
    offers = cat.offers()
    defaults_ = offers.default_providers()  # [hardware row, tier]
    named = [p.provider for _, p in offers.rows]
    # codes into one list of names (the named providers, then the defaults, then None): one take of text
    names = np.asarray(named + defaults_.ravel().tolist() + [None], dtype=object)
    hardware, tiers = defaults_.shape
    by_default = len(named) + np.where(hw_pos >= 0, hw_pos, hardware - 1) * tiers + tier
    code = np.where(rented, np.where(o_pos >= 0, o_pos, by_default), len(names) - 1)
    return code, names


#: The most GPUs `gpus_needed` (and gpus "auto") tries.
MAX_GPUS = max(defaults.TENSOR_GPU_COUNTS + defaults.LAYER_GPU_COUNTS)


def _keyed_flags(cat: Catalog, flags: dict[str, Any], axes: dict[str, keyed.Axis], model: Any, pricing: np.ndarray,
                 custom_only: np.ndarray, n: int) -> dict[str, Any]:
    """The flags of ``_compute`` as Keyed values where they follow from the rows' catalog entries
    (or are the same in every row); the others stay row columns. The same values either way."""
    mt, ht = cat.table("models"), cat.table("hardware")
    space = axes["models"].space
    out = dict(flags)
    out["is_api"] = axes["models"].values(mt.flag("kind", "api"), False)
    out["on_apple"] = axes["hardware"].values(ht.flag("kind", "apple"), False)
    if not custom_only.any():  # a device is a catalog entry or none
        out["custom_only"] = keyed.constant(space, False)
        out["has_hw"] = axes["hardware"].values(np.ones(len(ht.ids), dtype=bool), False)
        out["is_cuda"] = axes["hardware"].values(ht.flag("kind", "gpu"), True)  # no device: priced as NVIDIA's
    if len(pricing) and pricing.strides == (0,):  # one pricing for every row
        word = pricing[0]
        for name, test in (("pricing_given", word is not None), ("pricing_owned", word == "owned"),
                           ("pricing_reserved_1y", word == "reserved-1y"), ("pricing_reserved_3y", word == "reserved-3y"),
                           ("pricing_spot", word == "spot")):
            out[name] = keyed.constant(space, bool(test))
    if not np.any(flags["provider_given"]):
        out["provider_given"] = keyed.constant(space, False)
    checkpoint, _ = _checkpoint_rows(cat, model, n)
    if not (checkpoint >= 0).any():  # as _scoped, by model and precision
        pt = cat.table("precisions")
        native = np.asarray([pt.index(r.native_precision) if getattr(r, "native_precision", "") else -2
                             for r in mt.rows])
        shipped = axes["models"].values(native, -2)
        runs_native = shipped == axes["precisions"].values(np.arange(len(pt.ids)), -1)
        for flag, scope in (("experts_only", "experts"), ("attention_kept", "all-but-attention")):
            out[flag] = axes["models"].values(mt.flag("native_precision_scope", scope), False) & runs_native
    return out


#: The scopes a native or checkpoint precision may cover, by code ("" and "all": every linear layer)
_SCOPES = ("all", "experts", "all-but-attention")


def _scoped(cat: Catalog, model: Any, m_pos: np.ndarray, p_pos: np.ndarray, n: int, scope: str) -> np.ndarray:
    """Rows whose precision covers ``scope`` only ("experts": the routed experts; "all-but-attention":
    every body weight but the attention blocks): the row runs in the precision its model name ships in
    (a quantised checkpoint's, else the model's native one) and that checkpoint, or the model, ships
    so (checkpoint_scopes / native_precision_scope)."""
    pt, mt = cat.table("precisions"), cat.table("models")
    native = np.asarray([pt.index(r.native_precision) if getattr(r, "native_precision", "") else -2
                         for r in mt.rows])
    shipped = _take(native, m_pos, missing=-2)
    scoped = _take(mt.flag("native_precision_scope", scope), m_pos, missing=False)
    ck_precision, ck_scope = _checkpoint_rows(cat, model, n)
    named = ck_precision >= 0
    shipped = np.where(named, ck_precision, shipped)
    scoped = np.where(named, ck_scope == _SCOPES.index(scope), scoped)
    return scoped & (shipped == p_pos)


def _checkpoint_rows(cat: Catalog, model: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the precision position a quantised checkpoint's repo (typed as the model) implies
    (-1: the name is no checkpoint), and the code in ``_SCOPES`` of what that checkpoint quantises."""
    pt = cat.table("precisions")
    implied, scopes = cat.implied_precisions(), cat.checkpoint_scopes()

    def of(name: Any) -> tuple[int, int]:
        key = normalize(name) if isinstance(name, str) else None
        if key is None or key not in implied:
            return -1, 0
        return pt.index(implied[key]), _SCOPES.index(scopes.get(key) or "all")

    if not implied:
        return np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.int64)
    if length_of(model) is None:
        precision, scope = of(model)
        return np.full(n, precision, dtype=np.int64), np.full(n, scope, dtype=np.int64)
    codes, uniques = ((model.codes, model.uniques) if isinstance(model, Coded)
                      else factorize(np.asarray(model, dtype=object)))
    pairs = [of(u) for u in uniques]
    by_unique = np.asarray([p for p, _ in pairs], dtype=np.int64)
    scope_by_unique = np.asarray([e for _, e in pairs], dtype=np.int64)
    return np.take(by_unique, codes), np.take(scope_by_unique, codes)


def _default_precision(cat: Catalog, model: Any, m_pos: np.ndarray, n: int) -> np.ndarray:
    """The precision position of a row that names none: the checkpoint's, the model's native one,
    or the default."""
    pt, mt = cat.table("precisions"), cat.table("models")
    native = np.asarray([pt.index(r.native_precision) if getattr(r, "native_precision", "")
                         else pt.index(defaults.DEFAULT_PRECISION) for r in mt.rows])
    out = _take(native, m_pos, missing=pt.index(defaults.DEFAULT_PRECISION))
    checkpoint, _ = _checkpoint_rows(cat, model, n)
    return np.where(checkpoint >= 0, checkpoint, out)


def _calibration_positions(cat: Catalog, e_pos: np.ndarray, hw_pos: np.ndarray) -> np.ndarray:
    """Each row's position in ``cat.entries("calibrations")`` (-1: its engine has none on its device)."""
    entries = cat.entries("calibrations")
    et, ht = cat.table("engines"), cat.table("hardware")
    grid = np.full((len(et.ids) + 1, len(ht.ids) + 1), -1, dtype=np.intp)  # a last row and column for none
    for (engine_id, hardware_id), entry in cat.calibrations().items():
        grid[et.index(engine_id), ht.index(hardware_id)] = entries.index(entry)
    return grid[np.where(e_pos < 0, len(et.ids), e_pos), np.where(hw_pos < 0, len(ht.ids), hw_pos)]


def _auto_cells(value: Any, n: int, word: str = "auto") -> np.ndarray:
    """Where a value is the text ``word`` (any case, spaces around): gpus "auto", batch "max"."""
    def is_auto(v):
        return isinstance(v, str) and v.strip().lower() == word

    if length_of(value) is None:
        return np.full(n, is_auto(value))
    arr = np.asarray(value)
    if arr.dtype.kind in "iufb":
        return np.zeros(n, dtype=bool)
    return np.fromiter((is_auto(v) for v in arr.tolist()), dtype=bool, count=n)


def _large_gpu_excluded(cat: Catalog, e_pos: np.ndarray, hw_pos: np.ndarray) -> np.ndarray:
    """Where the device's name holds its engine's ``large_gpu_excludes`` (any case): the device keeps
    the engine's smaller batch cap whatever its memory (vLLM's A100s). Each (engine, device) pair once."""
    et, ht = cat.table("engines"), cat.table("hardware")
    table = np.zeros((len(et.rows) + 1, len(ht.rows) + 1), dtype=bool)  # last row and column: none, custom
    for i, eng in enumerate(et.rows):
        text = (getattr(eng, "large_gpu_excludes", "") or "").strip().lower()
        if text:
            table[i, :-1] = [text in hw.name.lower() for hw in ht.rows]
    return table[np.where(e_pos >= 0, e_pos, len(et.rows)), np.where(hw_pos >= 0, hw_pos, len(ht.rows))]


def _without(value: Any, cells: np.ndarray) -> Any:
    """``value`` with the given cells emptied (None)."""
    if length_of(value) is None:
        return None
    arr = np.array(value, dtype=object)
    arr[cells] = None
    return arr


def _fit_notes(gpus_needed: np.ndarray, hw_names: np.ndarray, hw_codes: np.ndarray,
               mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    """(rows, codes, texts) of the notes "does not fit: needs N GPUs" on the masked rows (N = the
    fewest that fit), or of what to do where no count up to MAX_GPUS fits."""
    rows = np.flatnonzero(mask)
    needed = np.take(np.broadcast_to(gpus_needed, mask.shape), rows)
    counts = np.unique(needed[~np.isnan(needed)])
    texts = [f"does not fit: needs {count:g} GPU{'' if count == 1 else 's'}" for count in counts.tolist()]
    codes = np.searchsorted(counts, needed)  # NaN sorts last: the rows no count holds
    none_fits = np.isnan(needed)
    if none_fits.any():
        hw = np.take(np.broadcast_to(hw_codes, mask.shape), rows[none_fits])
        hw = np.where(hw < 0, len(hw_names) - 1, hw)
        distinct = np.unique(hw)
        codes[none_fits] = len(texts) + np.searchsorted(distinct, hw)
        texts += [f"does not fit: needs more than {MAX_GPUS} GPUs of '{hw_names[code]}'. Use a smaller precision, "
                  "context or batch, or hardware with more memory" for code in distinct.tolist()]
    return rows, codes, texts


class CatalogRows:
    """The :class:`~llmcalc_xl.core.physics.Lookup` of the core: catalog columns taken at each
    row's positions (NaN where a row has none), and the options with their defaults applied."""

    def __init__(self, cat: Catalog, num: dict[str, np.ndarray], pos: dict[str, np.ndarray],
                 flags: dict[str, np.ndarray], constant: frozenset[str] = frozenset(),
                 axes: dict[str, keyed.Axis] | None = None):
        self._cat, self._num, self._pos, self._constant = cat, num, pos, constant
        self._axes = axes or {}  # where given, columns are Keyed values (``keyed``)
        self.is_api, self.has_hw, self.custom_only = flags["is_api"], flags["has_hw"], flags["custom_only"]
        self.on_apple, self.is_cuda = flags["on_apple"], flags["is_cuda"]
        self.pricing_given, self.pricing_owned = flags["pricing_given"], flags["pricing_owned"]
        self.pricing_reserved_1y, self.pricing_reserved_3y = flags["pricing_reserved_1y"], flags["pricing_reserved_3y"]
        self.pricing_spot, self.provider_given = flags["pricing_spot"], flags["provider_given"]
        self.experts_only, self.attention_kept = flags["experts_only"], flags["attention_kept"]
        self.autoscale = flags["autoscale"]
        self.batch_max, self.large_gpu_excluded = flags["batch_max"], flags["large_gpu_excluded"]

    def _take(self, axis: str, column: np.ndarray, missing: Any = math.nan) -> Any:
        """The column at each row's entry of the axis's table (``missing`` where none)."""
        if axis in self._axes:
            return self._axes[axis].values(column, missing)
        return _take(column, self._pos[axis], missing)

    def _column(self, group: str, field: str, missing: float = math.nan) -> np.ndarray:
        return self._take(group, self._cat.table(group).column(field), missing)

    def model(self, field: str) -> np.ndarray:
        return self._column("models", field)

    def hardware(self, field: str) -> np.ndarray:
        return self._column("hardware", field)

    def engine(self, field: str, missing: float = math.nan) -> np.ndarray:
        """The engine's field; an efficiency a calibration sets for the row's engine on its device replaces
        it (and its Apple variant: the calibration is of that device)."""
        value = self._column("engines", field, missing)
        fitted = field.removeprefix("apple_")
        if fitted not in CALIBRATED_FIELDS or "calibrations" not in self._pos:
            return value
        rows = self._pos["calibrations"]
        entries = self._cat.entries("calibrations")
        calibrated = _take(np.asarray([math.nan if getattr(e, fitted) is None else getattr(e, fitted)
                                       for e in entries], dtype=float), rows)
        return np.where(np.isnan(calibrated), keyed.rows(value), calibrated)

    def calibrated(self, field: str) -> Any:
        """Whether a calibration sets ``field`` for the row's engine on its device."""
        if "calibrations" not in self._pos:
            return np.False_
        entries = self._cat.entries("calibrations")
        has = np.asarray([getattr(e, field) is not None for e in entries] + [False], dtype=bool)
        return np.take(has, self._pos["calibrations"])  # position -1 (none) takes the last: False

    def precision(self, field: str, missing: float = math.nan) -> np.ndarray:
        return self._column("precisions", field, missing)

    def kv_precision(self, field: str) -> np.ndarray:
        return self._take("kv_precision", self._cat.table("precisions").column(field, 0.0), 2.0)

    def flag(self, group: str, field: str, value: str) -> np.ndarray:
        return self._take(group, self._cat.table(group).flag(field, value), False)

    def yes(self, group: str, field: str) -> np.ndarray:
        return self._column(group, field) > 0

    def option(self, name: str) -> np.ndarray:
        """The option's column; one value for all rows where it is the same in every row (not
        given, or given once), so that the stages compute with it once rather than per row."""
        column = self._num[name]
        return column[0] if name in self._constant and len(column) else column

    number = option

    def offer(self, field: str) -> np.ndarray:
        return self._take("offers", self._cat.offers().column(field))


def _physics(cat: Catalog, num, pos, flags, gpus_auto, constant: frozenset[str] = frozenset(),
             axes: dict[str, keyed.Axis] | None = None, batch_max: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every output for resolved rows: the stages of ``physics``, with the GPU count of "auto"
    rows found first (at one sequence where the batch is "max"), then the batch of "max" rows. Also
    gives ``gpus`` and ``batch`` (resolved), ``price_per_hour`` and ``gpus_unresolved`` (rows whose
    "auto" no count fits). With ``axes``, catalog columns enter as Keyed values."""
    s = physics.scenario(CatalogRows(cat, num, pos, flags, constant, axes))
    space = axes["models"].space if axes else None
    w = physics.weights(s)
    h = physics.held(s)

    stages = (_Rows(s), _Rows(w), _Rows(h))

    def memory_at(g: np.float64, rows: tuple[Any, Any, Any]) -> physics.Memory:
        return physics.memory_at(rows[0], rows[1], rows[2], g)  # some rows of the stages, read alike

    # "auto" is the fewest GPUs that fit; without a device (or for an API model) the default count
    auto = gpus_auto & s.has_hw & ~s.is_api
    # every search starts at one GPU: that fit is computed once for all rows (where every row
    # asks for one GPU, it is the fit of the memory asked for)
    one_each = not auto.any() and bool(np.all(num["gpus"] == 1))
    one = None if one_each else physics.memory_at(s, w, h, np.float64(1))
    needed_auto = np.full(auto.shape, np.nan)
    if one is not None and auto.any():
        needed_auto = _gpus_needed(memory_at, stages, s.tensor, auto, physics.fits(one), _fewest_gpus(s, w, one),
                                   space)
    found = auto & ~np.isnan(needed_auto)
    gpus = np.where(found, needed_auto, num["gpus"]) if found.any() else num["gpus"]
    gpus_rows, gpus = gpus, (_gpus_axis(axes, gpus) if axes else gpus)
    m = physics.memory_at(s, w, h, gpus)
    one = m if one is None else one
    others = np.isfinite(m.total) & s.has_hw & ~s.is_api & ~auto
    needed_others = _gpus_needed(memory_at, stages, s.tensor, others, physics.fits(one), _fewest_gpus(s, w, one),
                                 space, (gpus_rows, keyed.rows(physics.fits(m))))
    gpus_needed = np.where(auto, needed_auto, needed_others)
    max_batch = physics.largest_batch(s, w, m)
    if batch_max is not None and batch_max.any():  # the batch served; the batch-free part of the memory kept
        s = physics.serving(s, max_batch)
        m = physics.memory_at(s, w, h, gpus, base=m)
    sp, co, band, narrowed = _speed_and_costs(s, w, m, gpus, len(pos["models"]))
    # the rate view reruns the speed at the concurrency the rate implies: only where a row gives a rate
    r = physics.at_rate(s, w, m, gpus, sp) if np.any(~np.isnan(num["requests_per_s"])) else _no_rate()
    out = physics.outputs(s, w, m, max_batch, gpus_needed, sp, co, r, band, stopped_are_nan=narrowed)
    out["gpus"] = gpus_rows
    out.update(tp=m.tp, dp=m.ranks, ep=s.ep_groups)  # the layout used: tp x dp = gpus (tp = gpus / dp when not given)
    out["batch"] = s.sequences
    out["price_per_hour"] = s.price
    out.update(owned=np.asarray(keyed.rows(s.owned), dtype=bool), capex_usd_per_gpu=s.capex, power_w_per_gpu=s.power_w)
    out["gpus_unresolved"] = auto & np.isnan(needed_auto)
    rows = len(pos["models"])  # a quantity of options alone is one value: one per row
    out = {k: keyed.rows(v) for k, v in out.items()}
    return {k: (v if np.ndim(v) else np.full(rows, v)) for k, v in out.items()}


#: Speed and costs are computed on the rows that can run alone where at most this share of a
#: block's rows can (the others' are NaN whatever they compute to: a deployment that does not fit).
_NARROW_SHARE = 0.85


def _speed_and_costs(s: physics.Scenario, w: physics.Weights, m: physics.Memory, gpus: Any,
                     n: int) -> tuple[physics.Speed, physics.Costs, dict[str, Any], bool]:
    """``physics.speed``, ``physics.costs`` and ``physics.bands`` of every row, and whether they were
    computed on the rows that can run alone. Where many rows cannot run (they do not fit), the three
    stages run on the others only and those rows get NaN, as ``physics.outputs`` gives them anyway;
    an API model's token cost is computed for every row."""
    stopped = keyed.rows(physics.cannot_run(s, m)) if n >= keyed.MIN_ROWS else None
    run = None if stopped is None or np.ndim(stopped) == 0 else np.flatnonzero(~np.asarray(stopped, dtype=bool))
    if run is None or len(run) > _NARROW_SHARE * n:
        sp = physics.speed(s, w, m, gpus)
        co = physics.costs(s, sp, gpus)
        return sp, co, physics.bands(s, sp, co, gpus), False
    rows_s: Any = _Rows(s).narrow(run)  # some rows of the stages, read alike
    rows_w: Any = _Rows(w).narrow(run)
    rows_m: Any = _Rows(m).narrow(run)
    rows_gpus = keyed.take(gpus, run) if np.ndim(gpus) else gpus
    sp = physics.speed(rows_s, rows_w, rows_m, rows_gpus)
    co = physics.costs(rows_s, sp, rows_gpus)
    band = physics.bands(rows_s, sp, co, rows_gpus)  # NaN where a deployment cannot run, as outputs masks them

    def spread(value: Any) -> np.ndarray:
        out = np.full(n, np.nan)
        out[run] = keyed.rows(value)
        return out

    sp = physics.Speed(**{k: spread(v) for k, v in vars(sp).items()})
    co = physics.Costs(**{k: spread(v) for k, v in vars(co).items() if k != "token_cost"},
                       token_cost=physics.api_token_cost(s))
    return sp, co, {k: spread(v) for k, v in band.items()}, True


def _no_rate() -> physics.Rate:
    """The rate view of rows that give no rate: nothing."""
    nan = np.float64(np.nan)
    return physics.Rate(served=nan, utilization=nan, concurrency=nan, wait=nan, ttft=nan, tpot=nan,
                        ttft_p={k: nan for k, *_ in physics.PERCENTILES}, tpot_p={k: nan for k, *_ in physics.PERCENTILES})


def _gpus_axis(axes: dict[str, keyed.Axis], gpus: np.ndarray) -> Any:
    """The GPU counts as a Keyed value (a book uses a few counts), where each is a whole number
    up to 1024; else the row column."""
    space = axes["models"].space
    if not (np.all((gpus >= 0) & (gpus <= 1024)) and np.all(gpus == np.floor(gpus))):
        return gpus
    counts = gpus.astype(np.intp)
    size = int(counts.max()) + 1 if len(counts) else 1
    return keyed.Axis(space, counts, size).values(np.arange(size, dtype=np.float64), np.nan)


class _Rows:
    """Some rows of a stage's fields (a Scenario, Weights or Held), each cut once when first
    read. The GPU search reads the same fields for every count it tries; ``narrow`` keeps fewer
    rows of what was cut."""

    def __init__(self, stage: Any, index: np.ndarray | None = None, cut: dict | None = None):
        self._stage, self._index = stage, index
        self._cut = cut if cut is not None else {}

    def __getattr__(self, name: str) -> Any:
        cut = self.__dict__["_cut"]
        if name not in cut:
            value = getattr(self.__dict__["_stage"], name)
            index = self.__dict__["_index"]
            cut[name] = keyed.take(value, index) if index is not None and np.ndim(value) else value
        return cut[name]

    def narrow(self, keep: np.ndarray, index: np.ndarray | None = None) -> "_Rows":
        """The rows at positions ``keep`` (indices into this object's rows); ``index``: their
        positions in the stage, where the caller has them (the stages narrowed alike share it, and
        their Keyed values then share the rows' space)."""
        if index is None:
            index = keep if self._index is None else self._index[keep]
        return _Rows(self._stage, index, {
            k: (keyed.take(getattr(self._stage, k), index) if isinstance(v, keyed.Keyed)
                else np.take(v, keep) if np.ndim(v) else v) for k, v in self._cut.items()})


def _gpus_needed(memory_at, stages: tuple[_Rows, ...], tensor: np.ndarray, answerable: np.ndarray,
                 fits_one: np.ndarray, fewest: np.ndarray, space: keyed.Space | None = None,
                 known: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """The fewest GPUs whose memory holds the workload (NaN: not even 64). Tensor-parallel rows
    try the powers of two, layer-split rows every count, in order; each row starts at the first
    count not below ``fewest`` (a bound under which no count can hold it, see :func:`_fewest_gpus`),
    so that most rows are settled by their first try. ``fits_one``: the fit on one GPU, every row.
    With the block's ``space``, the counts tried enter as a Keyed value (an axis of the rows tried).
    ``known``: (a count for each row, the fit at it), where the caller has computed them: a row whose
    first try is that count takes that fit (the same arithmetic: the same bits)."""
    needed = np.full(answerable.shape, np.nan)
    tensor = np.broadcast_to(tensor, answerable.shape)
    for split, allowed in ((True, defaults.TENSOR_GPU_COUNTS), (False, defaults.LAYER_GPU_COUNTS)):
        counts = np.asarray(sorted(allowed), dtype=np.float64)
        todo = np.flatnonzero(answerable & (tensor == split))
        if counts[0] == 1:
            hit = np.take(fits_one, todo)
            needed[todo[hit]] = 1
            todo = todo[~hit]
        # the position in ``counts`` each row tries next: past one GPU, and not below its bound
        step = np.maximum(np.searchsorted(counts, np.take(fewest, todo), side="left"), 1 if counts[0] == 1 else 0)
        within = step < len(counts)
        todo, step = todo[within], step[within]
        if known is not None and len(todo):
            first = np.take(counts, step) == np.take(np.broadcast_to(known[0], answerable.shape), todo)
            hit = first & np.take(np.broadcast_to(known[1], answerable.shape), todo)
            needed[todo[hit]] = np.take(counts, step[hit])
            step = np.where(first, step + 1, step)  # a row whose first try did not fit goes on to the next count
            keep = ~hit & (step < len(counts))
            todo, step = todo[keep], step[keep]
        rows = tuple(stage.narrow(todo) for stage in stages)
        while len(todo):
            tried = (keyed.Axis(space.narrow(todo), step, len(counts)).values(counts, np.nan)
                     if space is not None and len(todo) >= keyed.MIN_ROWS else np.take(counts, step))
            hit = np.asarray(physics.fits(memory_at(tried, rows)), dtype=bool)
            needed[todo[hit]] = np.take(counts, step[hit])
            step = step + 1
            keep = np.flatnonzero(~hit & (step < len(counts)))
            if len(keep) < len(todo):
                index = todo[keep]
                rows, todo, step = tuple(stage.narrow(keep, index) for stage in rows), index, step[keep]
    return needed


def _fewest_gpus(s: physics.Scenario, w: physics.Weights, one: physics.Memory) -> np.ndarray:
    """A bound below which no GPU count holds the workload (0 where nothing is known: try all).

    On g GPUs of D bytes each the total is at least the weights W plus the KV cache on one GPU,
    K (more GPUs store more of it: KV heads replicate, MLA keeps a copy per GPU). The engine lets
    it use at most g x D x f (its fraction f, vLLM's rule), or, under TensorRT-LLM's rule (the
    weights first, then f of what is free for the KV cache), it fits only when g x D >= W + K / f,
    as long as K > 0. So g >= (W + K / max(f, 1)) / (D x max(f, 1)) in both."""
    f = np.maximum(s.fraction, 1.0)
    per_gpu = s.mem_gib * BYTES_PER_GIB * s.mem_fraction * f
    bound = (w.weights + one.kv_total / f) / per_gpu * (1.0 - 1e-9)  # a rounding never skips a count
    known = (per_gpu > 0) & (w.weights > 0) & (one.kv_total >= 0) & ~(s.rule_free & ~(one.kv_total > 0))
    return np.where(known & ~np.isnan(bound), bound, 0.0)


#: GPU counts tried for "GPUs needed" (tensor parallelism only takes the powers of two).
GPU_CANDIDATES = tuple(sorted(set(defaults.TENSOR_GPU_COUNTS) | set(defaults.LAYER_GPU_COUNTS)))
