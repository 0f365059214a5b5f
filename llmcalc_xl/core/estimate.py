"""``estimate``: memory, fit, speed and cost of one scenario or a million.

The same code path serves both: every input may be a single value or a column
(list, numpy array, pandas Series), columns of equal length, singles broadcast.
``estimate`` prices one scenario and raises on bad input; ``estimate_many``
prices columns and keeps each bad row's message in its ``error`` column.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, Iterable

import numpy as np

from . import cost as _cost
from . import defaults
from . import memory as _mem
from . import speed as _speed
from ..catalogs.loader import Catalog, load_catalog
from ..errors import InvalidValueError
from .inputs import RowErrors, check_rule, length_of, numbers_column
from .resolve import AUTO, _add_note, _check_engine, _ids, _per_pair, _per_value, _positions, _take
from ..units import BYTES_PER_GB, BYTES_PER_GIB, HOURS_PER_MONTH, TERA

#: Output keys, in display order. Memory figures are GiB over all GPUs.
OUTPUT_KEYS = (
    "weights_gib", "kv_cache_gib", "activations_gib", "overhead_gib", "total_memory_gib",
    "usable_memory_gib", "fits", "gpus_needed", "max_batch",
    "ttft_s", "tpot_s", "latency_s", "prefill_tokens_per_s", "decode_tokens_per_s",
    "throughput_tokens_per_s",
    "token_cost_usd", "infra_cost_usd", "cost_per_request_usd", "cost_per_mtok_usd",
    "deployment_usd_per_month", "capacity_requests_per_month", "replicas_needed", "monthly_cost_usd",
    "effective_cost_per_request_usd",
)
#: What a deployment that does not fit cannot have: it cannot run, so no speed and no cost.
NOT_RUNNING_KEYS = (
    "ttft_s", "tpot_s", "latency_s", "prefill_tokens_per_s", "decode_tokens_per_s", "throughput_tokens_per_s",
    "infra_cost_usd", "cost_per_request_usd", "cost_per_mtok_usd", "deployment_usd_per_month",
    "capacity_requests_per_month", "replicas_needed", "monthly_cost_usd", "effective_cost_per_request_usd",
)
#: Resolved inputs reported with the outputs (ids after alias matching and "auto").
INPUT_KEYS = ("model", "model_kind", "hardware", "engine", "precision", "kv_precision", "gpus",
              "input_tokens", "cached_input_tokens", "output_tokens", "batch", "context_tokens",
              "price_per_hour", "requests_per_month", "utilization")
BOOL_KEYS = ("fits",)
INT_KEYS = ("gpus_needed", "max_batch", "replicas_needed", "gpus", "input_tokens",
            "cached_input_tokens", "output_tokens", "batch", "context_tokens")

#: Numeric options: name -> (rule, default). Rules: ("min", x) / ("above", x), whole numbers.
NUMBER_OPTIONS: dict[str, dict[str, Any]] = {
    "gpus": dict(minimum=1, whole=True, default=defaults.DEFAULT_GPUS),
    "input_tokens": dict(minimum=0, whole=True, default=defaults.DEFAULT_INPUT_TOKENS),
    "output_tokens": dict(minimum=0, whole=True, default=defaults.DEFAULT_OUTPUT_TOKENS),
    "cached_input_tokens": dict(minimum=0, whole=True, default=0),
    "batch": dict(minimum=1, whole=True, default=defaults.DEFAULT_BATCH),
    "context_tokens": dict(minimum=1, whole=True, default=None),
    "latency_s": dict(above=0, default=None),
    "price_per_hour": dict(minimum=0, default=None),
    "memory_gib": dict(above=0, default=None),
    "bandwidth_gb_s": dict(above=0, default=None),
    "tflops": dict(above=0, default=None),
    "requests_per_month": dict(minimum=0, default=None),
    "utilization": dict(above=0, maximum=1, default=defaults.DEFAULT_UTILIZATION),
    # engine efficiency overrides (default: the engine's catalog values)
    "memory_fraction": dict(above=0, maximum=1, default=None),
    "overhead_gib": dict(minimum=0, default=None),
    "prefill_mfu": dict(above=0, maximum=1, default=None),
    "decode_mfu": dict(above=0, maximum=1, default=None),
    "decode_mbu": dict(above=0, maximum=1, default=None),
    "prefill_overhead_s": dict(minimum=0, default=None),
    "decode_step_overhead_s": dict(minimum=0, default=None),
}
TEXT_OPTIONS = ("model", "hardware", "engine", "precision", "kv_precision")
OPTION_NAMES = TEXT_OPTIONS + tuple(NUMBER_OPTIONS)

_NOT_APPLICABLE_API = ("memory is not applicable to API model '{}': it runs on the provider's "
                       "hardware. Ask about an open-weight model, or compare costs with `plan`.")


class Estimate:
    """The result for one scenario. ``to_dict()`` gives the flat mapping (None = no answer)."""

    def __init__(self, values: dict[str, Any], notes: list[str]):
        self._values = values
        self.notes = notes

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def to_dict(self) -> dict[str, Any]:
        """The values, then ``notes`` (a list of texts), as ``estimate --json`` prints them."""
        return dict(self._values, notes=list(self.notes))

    def __repr__(self) -> str:
        keys = ("model", "hardware", "total_memory_gib", "fits", "latency_s", "cost_per_request_usd")
        return "Estimate(" + ", ".join(f"{k}={self._values.get(k)!r}" for k in keys) + ")"


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
             **options: Any) -> Estimate:
    """Memory, fit, speed and cost of one scenario.

    ``model`` and ``hardware`` are catalog ids or names people type ("H100", "Llama 3 70B").
    Options (units in the names): gpus (a count, or "auto": the fewest that fit), precision,
    kv_precision, engine, input_tokens, cached_input_tokens, output_tokens, batch,
    context_tokens, latency_s, price_per_hour (USD per GPU-hour), memory_gib, bandwidth_gb_s,
    tflops (describe a device not in the catalog), requests_per_month, utilization, and engine
    overrides memory_fraction, overhead_gib, prefill_mfu, decode_mfu, decode_mbu,
    prefill_overhead_s, decode_step_overhead_s. Raises a :class:`~llmcalc_xl.errors.LlmcalcError` on bad input.
    """
    for name, value in options.items():
        if length_of(value) is not None:
            raise InvalidValueError(f"{name} must be a single value in estimate(), got a column. "
                                    "Use estimate_many() for columns.")
    result = estimate_many(model, hardware, catalog=catalog, errors="raise", **options)
    values = {k: _python_value(k, v[0]) for k, v in result.items() if k not in ("error", "notes")}
    notes = [n for n in str(result["notes"][0] or "").split("\n") if n]
    return Estimate(values, notes)


def estimate_many(model: Any, hardware: Any = None, *, catalog: Catalog | Iterable[str] | None = None,
                  errors: str = "collect", **options: Any) -> dict[str, np.ndarray]:
    """Estimate for columns of scenarios in one vectorised pass.

    Returns a dict of equal-length arrays: the resolved inputs (``gpus`` as a count where
    "auto" was given), every key of ``OUTPUT_KEYS`` (NaN where there is no answer: a
    self-hosted deployment that does not fit has no speed and no cost, and the note
    "does not fit: needs N GPUs"), ``notes`` and ``error`` (the row's message, None when it
    computed). With ``errors="raise"`` the first bad row raises.
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
    given = dict(model=model, hardware=hardware, **options)
    lengths = {k: length_of(v) for k, v in given.items()}
    sizes = {n for n in lengths.values() if n is not None}
    if len(sizes) > 1:
        detail = ", ".join(f"{k}={n}" for k, n in lengths.items() if n is not None)
        raise InvalidValueError(f"Columns must have the same length, got {detail}. "
                                "Give single values or columns of one length.")
    n = sizes.pop() if sizes else 1
    columns = {k: _as_array(v) for k, v in given.items() if lengths[k] is not None}
    result: dict[str, np.ndarray] = {}
    # blocks of rows keep each temporary array in cache: a million rows in one pass would
    # allocate (and page-fault) hundreds of 8 MB temporaries
    for start in range(0, n, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n)
        block = {k: (columns[k][start:stop] if k in columns else v) for k, v in given.items()}
        errs = RowErrors(stop - start)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = _compute(cat, block, stop - start, errs)  # rows with errors compute NaN, then masked
        if errors == "raise" and errs.bad.any():
            raise errs.first()
        out["error"] = errs.messages
        if stop - start == n:
            return out
        for key, values in out.items():
            if key not in result:
                result[key] = np.empty(n, dtype=np.asarray(values).dtype)
            result[key][start:stop] = values
    return result


#: Rows computed together; 64k rows of float64 are 512 KiB per temporary array.
CHUNK_ROWS = 65536


def _as_array(value: Any) -> np.ndarray:
    """A column as a numpy array that slices by position (lists keep their Python objects)."""
    if hasattr(value, "to_numpy"):
        return value.to_numpy()
    if isinstance(value, (list, tuple)):
        return np.asarray(value, dtype=object)
    return np.asarray(value)

# --- the computation ---------------------------------------------------------------------

def _compute(cat: Catalog, given: dict[str, Any], n: int, errs: RowErrors) -> dict[str, np.ndarray]:
    num: dict[str, np.ndarray] = {}
    # gpus "auto": the fewest GPUs that fit, resolved once the memory is known
    gpus_auto = _auto_cells(given.get("gpus"), n)
    for name, rule in NUMBER_OPTIONS.items():
        value = given.get(name)
        if name == "gpus" and gpus_auto.any():
            value = _without(value, gpus_auto)
        values = numbers_column(name, value, n, errs)
        rule = dict(rule)
        default = rule.pop("default")
        check_rule(name, values, errs, **rule)
        if default is not None:
            values = np.where(np.isnan(values), float(default), values)
        num[name] = values

    mt, ht, et, pt = (cat.table(g) for g in ("models", "hardware", "engines", "precisions"))
    m_pos = _positions(cat, "models", given.get("model"), n, errs, "model")
    hw_pos = _positions(cat, "hardware", given.get("hardware"), n, errs, "hardware", blank=-1)
    is_api = _take(mt.flag("kind", "api"), m_pos, missing=False)
    p_pos = _positions(cat, "precisions", given.get("precision"), n, errs, "precision",
                       blank=pt.index(defaults.DEFAULT_PRECISION))

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

    # KV cache: "auto" keeps fp32/bf16 weights' type, else fp16
    kv_auto = np.asarray([pt.index(r.id if r.id in ("fp32", "bf16") else "fp16") for r in pt.rows])
    k_pos = _positions(cat, "precisions", given.get("kv_precision"), n, errs, "kv_precision", blank=AUTO)
    k_pos = np.where(k_pos == AUTO, _take(kv_auto, p_pos, missing=pt.index("fp16")), k_pos)
    kv_bytes = _take(pt.column("kv_bytes", 0.0), k_pos, missing=2.0)
    bad_kv = (k_pos >= 0) & (kv_bytes <= 0) & ~is_api
    if bad_kv.any():
        errs.add(bad_kv, _per_value("kv_precision '{}' cannot hold a KV cache. Use fp16, bf16, fp8, "
                                    "int8, q8_0 or q4_0", _ids(pt, k_pos), bad_kv))

    _check_engine(cat, e_pos, hw_pos, p_pos, custom_only, is_api, errs)

    # workload
    gpus, batch = num["gpus"], num["batch"]
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

    values = _physics(cat, num, m_pos, hw_pos, e_pos, p_pos, is_api, has_hw, custom_only, kind,
                      context, kv_bytes, gpus_auto)
    m_ids = _ids(mt, m_pos)
    hw_ids = np.where(custom_only, "custom", _ids(ht, hw_pos)).astype(object)
    gpus = values.pop("gpus")
    unresolved = values.pop("gpus_unresolved")
    if unresolved.any():
        errs.add(unresolved, _per_pair(
            "gpus 'auto' finds no count up to " + str(MAX_GPUS) + " of '{0}' that holds '{1}'. Use a smaller "
            "precision, context or batch, or hardware with more memory", hw_ids, m_ids, unresolved))
    ok = ~errs.bad
    notes = np.full(n, None, dtype=object)
    notes = _add_note(notes, is_api, _per_value(_NOT_APPLICABLE_API, m_ids, is_api))
    no_fit = ok & has_hw & ~is_api & (values["fits"] == 0)
    notes = _add_note(notes, no_fit, _fit_notes(values["gpus_needed"], hw_ids, no_fit))
    no_price = has_hw & np.isnan(values["price_per_hour"])
    notes = _add_note(notes, no_price, _per_value(
        "No hourly price for '{}' in the catalog: pass price_per_hour (0 for hardware you own) "
        "to price GPU time", hw_ids, no_price))
    no_speed = has_hw & ~is_api & ~no_fit & np.isnan(values["tpot_s"])
    notes = _add_note(notes, no_speed, _per_value(
        "No published dense TFLOPS for '{}': pass tflops to estimate speed", hw_ids, no_speed))
    api_no_speed = is_api & np.isnan(values["latency_s"])
    notes = _add_note(notes, api_no_speed, _per_value(
        "No published speed for API model '{}': pass latency_s to price GPU time or latency", m_ids,
        api_no_speed))

    result: dict[str, np.ndarray] = {
        "model": m_ids, "model_kind": np.where(is_api, "api", "open").astype(object),
        "hardware": hw_ids,
        "engine": _ids(et, np.where(is_api, -1, e_pos)),
        "precision": _ids(pt, np.where(is_api, -1, p_pos)),
        "kv_precision": _ids(pt, np.where(is_api, -1, k_pos)),
        "gpus": gpus, "input_tokens": prompt, "cached_input_tokens": cached, "output_tokens": output,
        "batch": batch, "context_tokens": np.where(is_api, np.nan, context),
        "price_per_hour": values.pop("price_per_hour"),
        "requests_per_month": num["requests_per_month"], "utilization": num["utilization"],
    }
    for key in OUTPUT_KEYS:
        col = np.asarray(values[key], dtype=float)
        result[key] = np.where(ok, col, np.nan) if not ok.all() else col
    result["notes"] = notes
    return result


#: The most GPUs `gpus_needed` (and gpus "auto") tries.
MAX_GPUS = max(defaults.TENSOR_GPU_COUNTS + defaults.LAYER_GPU_COUNTS)


def _auto_cells(value: Any, n: int) -> np.ndarray:
    """Where a gpus value is the text "auto" (any case, spaces around)."""
    def is_auto(v):
        return isinstance(v, str) and v.strip().lower() == "auto"

    if length_of(value) is None:
        return np.full(n, is_auto(value))
    arr = np.asarray(value)
    if arr.dtype.kind in "iufb":
        return np.zeros(n, dtype=bool)
    return np.fromiter((is_auto(v) for v in arr.tolist()), dtype=bool, count=n)


def _without(value: Any, cells: np.ndarray) -> Any:
    """``value`` with the given cells emptied (None)."""
    if length_of(value) is None:
        return None
    arr = np.array(value, dtype=object)
    arr[cells] = None
    return arr


def _fit_notes(gpus_needed: np.ndarray, hw_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """"does not fit: needs N GPUs" for each masked row (N = the fewest that fit), or what to do
    when no count up to MAX_GPUS fits (None elsewhere)."""
    needed = np.broadcast_to(gpus_needed, mask.shape)
    none_fits = mask & np.isnan(needed)
    out = _per_value(f"does not fit: needs more than {MAX_GPUS} GPUs of '{{}}'. Use a smaller precision, context "
                     "or batch, or hardware with more memory", hw_ids, none_fits)
    counted = mask & ~none_fits
    for count in np.unique(needed[counted]):
        out[counted & (needed == count)] = f"does not fit: needs {count:g} GPU{'' if count == 1 else 's'}"
    return out


def _flops_for(ht, pt, hw_pos, p_pos, custom_tflops: np.ndarray, custom_only) -> np.ndarray:
    """Dense peak FLOP/s at the precision's compute type. A type the device lacks runs at the
    16-bit rate (FP8 weights on an A100 and FP4 weights on an H100 are dequantised and
    computed in 16-bit)."""
    def have(name):
        x = _take(ht.column(name), hw_pos)
        return np.where(x > 0, x, np.nan)

    fp16 = have("tflops_fp16")
    tflops = fp16
    for compute, column in (("fp32", "tflops_fp32"), ("fp8", "tflops_fp8"), ("int8", "tflops_int8"),
                            ("fp4", "tflops_fp4")):
        uses = _take(pt.flag("compute", compute), p_pos, missing=False)
        if uses.any():
            rate = have(column)
            tflops = np.where(uses, np.where(np.isnan(rate), fp16, rate), tflops)
    tflops = np.where(custom_only, custom_tflops, tflops)
    return tflops * TERA


def _physics(cat: Catalog, num, m_pos, hw_pos, e_pos, p_pos, is_api, has_hw, custom_only, kind,
             context, kv_bytes, gpus_auto) -> dict[str, np.ndarray]:
    """Every output for resolved rows: catalog lookups, the GPU count of "auto" rows, then
    memory, speed and cost. Also gives ``gpus`` (resolved) and ``gpus_unresolved`` (rows whose
    "auto" no count fits)."""
    s = _scenario(cat, num, m_pos, hw_pos, e_pos, p_pos, is_api, has_hw, custom_only, kind, context, kv_bytes)
    # "auto" is the fewest GPUs that fit; without a device (or for an API model) the default count
    auto = gpus_auto & has_hw & ~is_api
    needed = _gpus_needed(lambda g, rows=None: _memory_at(s, g, rows), s.tensor, auto)
    found = auto & ~np.isnan(needed)
    if found.any():
        s.gpus = np.where(found, needed, s.gpus)
    mem = _memory_stage(s, auto, needed)
    speed = _speed_stage(s, mem)
    out = _results(s, mem, speed)
    out["gpus"] = s.gpus
    out["gpus_unresolved"] = auto & np.isnan(needed)
    return out


def _scenario(cat: Catalog, num, m_pos, hw_pos, e_pos, p_pos, is_api, has_hw, custom_only, kind, context,
              kv_bytes) -> SimpleNamespace:
    """The arrays the stages work on: workload, model architecture, precision, engine (with the
    caller's overrides), hardware (likewise) and the weights they imply."""
    mt, ht, et, pt = (cat.table(g) for g in ("models", "hardware", "engines", "precisions"))

    def col(table, name, pos, missing=math.nan):
        return _take(table.column(name), pos, missing)

    s = SimpleNamespace(num=num, is_api=is_api, has_hw=has_hw, custom_only=custom_only, kv_bytes=kv_bytes,
                        context=context, gpus=num["gpus"], batch=num["batch"], prompt=num["input_tokens"],
                        output=num["output_tokens"])
    s.model = lambda name: col(mt, name, m_pos)
    s.engine = lambda name, missing=math.nan: col(et, name, e_pos, missing)

    # model architecture (NaN rows for API models are masked at the end)
    s.params = col(mt, "params_b", m_pos) * 1e9
    s.active = col(mt, "active_params_b", m_pos) * 1e9
    s.layers = col(mt, "layers", m_pos)
    s.hidden = col(mt, "hidden_size", m_pos)
    s.heads = col(mt, "heads", m_pos)
    s.kv_heads = col(mt, "kv_heads", m_pos)
    s.head_dim = col(mt, "head_dim", m_pos)
    s.vocab = col(mt, "vocab_size", m_pos)
    s.tie = col(mt, "tie_embeddings", m_pos) > 0
    s.experts = np.nan_to_num(col(mt, "experts", m_pos))
    s.k_active = np.nan_to_num(col(mt, "experts_per_token", m_pos))
    s.shared_experts = np.nan_to_num(col(mt, "shared_experts", m_pos))
    s.window = np.nan_to_num(col(mt, "sliding_window", m_pos))
    s.window_layers = np.nan_to_num(col(mt, "sliding_window_layers", m_pos))
    s.lora = np.nan_to_num(col(mt, "kv_lora_rank", m_pos))
    s.rope = np.nan_to_num(col(mt, "qk_rope_head_dim", m_pos))
    s.ffn = np.nan_to_num(col(mt, "intermediate_size", m_pos))
    s.is_mla = s.lora > 0
    s.is_moe = s.experts > 0

    # precision
    bits = col(pt, "bits_per_weight", p_pos)
    emb_bits = col(pt, "embedding_bits", p_pos)
    out_bits = col(pt, "output_bits", p_pos)

    def mix_bits(name):
        v = col(pt, name, p_pos)
        return np.where(np.isnan(v), bits, v)

    v_bits, down_bits, o_bits = mix_bits("attn_v_bits"), mix_bits("ffn_down_bits"), mix_bits("attn_output_bits")
    v_bits_gqa4 = col(pt, "attn_v_bits_gqa4", p_pos)
    v_bits = np.where((s.heads >= 4 * s.kv_heads) & ~np.isnan(v_bits_gqa4), v_bits_gqa4, v_bits)
    up_share = col(pt, "upgraded_layer_share", p_pos, 1.0)
    s.gguf = _take(pt.flag("family", "gguf"), p_pos, missing=False)

    # engine, with the caller's overrides
    def eng(name):
        override = num.get(name)
        base = col(et, name, e_pos)
        return base if override is None else np.where(np.isnan(override), base, override)

    s.tensor = _take(et.flag("parallelism", "tensor"), e_pos, missing=False)
    s.rule_free = _take(et.flag("memory_rule", "fraction_of_free"), e_pos, missing=False)
    s.fraction = eng("memory_fraction")
    s.block = col(et, "kv_block_tokens", e_pos, 1.0)
    s.max_tokens = col(et, "max_batched_tokens", e_pos, 1.0)
    s.engine_overhead = eng("overhead_gib")
    s.window_saves = col(et, "sliding_window_saves_memory", e_pos, 1.0) > 0
    # Apple GPUs reach other shares of their peak than CUDA GPUs under the same engine
    on_apple = kind["apple"]

    def eff(name):
        base = col(et, name, e_pos, 0.0)
        apple = col(et, "apple_" + name, e_pos)
        base = np.where(on_apple & ~np.isnan(apple), apple, base)
        override = num.get(name)
        return base if override is None else np.where(np.isnan(override), base, override)

    s.prefill_mfu, s.decode_mfu, s.decode_mbu = eff("prefill_mfu"), eng("decode_mfu"), eff("decode_mbu")
    s.prefill_fixed, s.step_fixed = eng("prefill_overhead_s"), eng("decode_step_overhead_s")
    s.half_tokens = eff("prefill_half_tokens")

    # hardware, with the caller's overrides
    def hwv(name, override=None):
        base = col(ht, name, hw_pos)
        if override is not None:
            base = np.where(np.isnan(override), base, override)
        return base

    s.mem_gib = hwv("memory_gib", num["memory_gib"])
    s.mem_fraction = np.where(custom_only, 1.0, hwv("memory_fraction"))
    s.bandwidth = hwv("bandwidth_gb_s", num["bandwidth_gb_s"]) * BYTES_PER_GB
    tflops_override = num["tflops"]
    peak = _flops_for(ht, pt, hw_pos, p_pos, tflops_override, custom_only)
    s.peak = np.where(~np.isnan(tflops_override) & ~custom_only, tflops_override * TERA, peak)
    s.link = np.nan_to_num(hwv("interconnect_gb_s"), nan=defaults.DEFAULT_LINK_GB_S) * BYTES_PER_GB
    price = np.where(np.isnan(num["price_per_hour"]),
                     np.where(custom_only, np.nan, hwv("price_usd_per_hour")), num["price_per_hour"])
    s.price = np.where(has_hw, price, np.nan)
    s.is_cuda = kind["gpu"] | ~has_hw  # no device named: price the memory of NVIDIA GPUs

    # weights
    s.emb = _mem.embedding_params(s.vocab, s.hidden)
    s.out_p = _mem.output_params(s.vocab, s.hidden, s.tie)
    s_v, s_down, s_o = _mem.tensor_shares(s.hidden, s.heads, s.kv_heads, s.head_dim, s.ffn, s.experts,
                                          s.shared_experts)
    body_bits = _mem.body_bits_per_weight(bits, v_bits, down_bits, o_bits, up_share, s_v, s_down, s_o)
    s.weights = _mem.weights_bytes(s.params, s.emb, s.out_p, body_bits, emb_bits, out_bits)
    s.expert_params = _mem.routed_expert_params(s.params, s.active, s.experts, s.k_active)
    s.expert_bytes = s.expert_params * body_bits / 8.0
    emb_bytes = s.emb * emb_bits / 8.0
    # a step reads every weight but the embedding table (only its looked-up rows), unless tied
    s.dense_read = s.weights - s.expert_bytes - np.where(s.tie, 0.0, emb_bytes)
    return s


def _memory_at(s: SimpleNamespace, g, rows=None) -> dict[str, np.ndarray]:
    """Memory on g GPUs, for all rows or only ``rows`` (an index array)."""
    def r(x):
        return x if rows is None or np.ndim(x) == 0 else np.asarray(x)[rows]

    ten = r(s.tensor)
    tp_g = np.where(ten, g, 1.0)
    heads_stored = _mem.stored_kv_heads(r(s.kv_heads), tp_g)
    per_tok_layer = _mem.kv_bytes_per_token_layer(r(s.is_mla), heads_stored, r(s.head_dim), r(s.lora), r(s.rope),
                                                  r(s.kv_bytes), tp_g)
    kv_seq = _mem.kv_cache_bytes_per_sequence(per_tok_layer, r(s.layers), r(s.context), r(s.block), r(s.window),
                                              r(s.window_layers), r(s.window_saves))
    b = r(s.batch)
    pass_tokens = np.maximum(np.minimum(b * np.maximum(r(s.prompt), 1.0), r(s.max_tokens)), 1.0)
    act = _mem.activations_bytes(pass_tokens, r(s.heads), r(s.head_dim), tp_g, r(s.is_moe), b, r(s.vocab))
    ovh = _mem.overhead_bytes(g, r(s.engine_overhead), r(s.is_cuda), ten & (g > 1))
    device = g * r(s.mem_gib) * BYTES_PER_GIB * r(s.mem_fraction)
    static = r(s.weights) + act + ovh
    usable = _mem.usable_bytes(device, r(s.rule_free), r(s.fraction), static)
    total = static + b * kv_seq
    return dict(tp=tp_g, per_tok_layer=per_tok_layer, kv_seq=kv_seq, act=act, ovh=ovh,
                device=device, usable=usable, total=total)


def _memory_stage(s: SimpleNamespace, known: np.ndarray, known_needed: np.ndarray) -> dict[str, np.ndarray]:
    """Memory on the requested GPUs, the fewest GPUs that fit (already ``known_needed`` on the
    ``known`` rows), and the largest batch."""
    mem = _memory_at(s, s.gpus)
    mem["kv_total"] = s.batch * mem["kv_seq"]
    mem["fits"] = mem["total"] <= mem["usable"]
    needed = _gpus_needed(lambda g, rows=None: _memory_at(s, g, rows), s.tensor,
                          np.isfinite(mem["total"]) & s.has_hw & ~s.is_api & ~known)
    mem["gpus_needed"] = np.where(known, known_needed, needed)
    # largest batch on the requested GPUs: B x p + q x min(B x P, T_max) <= R
    tp = mem["tp"]
    logit_per_seq = s.vocab * defaults.LOGIT_BYTES
    act_per_token = tp * defaults.ACTIVATION_BYTES * s.heads * s.head_dim * _mem.activation_factor(tp, s.is_moe)
    static_fixed = s.weights + mem["ovh"]
    p_seq = np.where(s.rule_free, mem["kv_seq"] + s.fraction * logit_per_seq, mem["kv_seq"] + logit_per_seq)
    q_tok = np.where(s.rule_free, s.fraction * act_per_token, act_per_token)
    budget = np.where(s.rule_free, s.fraction * (mem["device"] - static_fixed),
                      s.fraction * mem["device"] - static_fixed)
    mem["max_batch"] = _mem.max_sequences(p_seq, q_tok, s.prompt, s.max_tokens, budget)
    return mem


def _speed_stage(s: SimpleNamespace, mem: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Time to first token, time per output token, latency and busy time per batch."""
    tp = mem["tp"]
    bw_eff = s.bandwidth * tp
    flops_eff = s.peak * tp
    linear = s.active - s.emb - s.out_p  # matmul parameters a token passes through (lm_head apart)
    head_flops = 2.0 * s.vocab * s.hidden  # lm_head, once per sampled token

    # prefill of n prompts of P tokens in one go
    kv_token_all_layers = mem["per_tok_layer"] * s.layers
    attn_flops_prompt = _speed.attention_flops(_speed.attended_pairs(s.prompt, 0.0),
                                               _speed.attended_pairs(s.prompt, s.window),
                                               s.layers, s.window_layers, s.heads, s.head_dim)
    # llama.cpp's CUDA path expands GGUF weights to 16-bit for cuBLAS; Metal multiplies them in-kernel
    dequantizes = (s.engine("prefill_dequantizes", 0.0) > 0) & s.is_cuda & s.gguf
    expert_share = np.divide(s.k_active, s.experts, out=np.zeros_like(s.experts), where=s.experts > 0)
    expert_linear = s.expert_params * expert_share

    def gemm_efficiency(rows):
        """Share of peak a GEMM with ``rows`` tokens reaches: rows / (rows + half-efficiency rows)."""
        return rows / (rows + s.half_tokens)

    def prefill_s(prompts):
        tokens = prompts * s.prompt
        pass_rows = np.maximum(np.minimum(tokens, s.max_tokens), 1.0)
        # dense weights see every token of a pass; each routed expert only its share (k/E)
        dense_flops = prompts * (2.0 * (linear - expert_linear) * s.prompt + attn_flops_prompt + head_flops)
        expert_flops = prompts * 2.0 * expert_linear * s.prompt
        peak_eff = flops_eff * s.prefill_mfu
        compute = (dense_flops / (peak_eff * gemm_efficiency(pass_rows))
                   + expert_flops / (peak_eff * gemm_efficiency(np.maximum(pass_rows * expert_share, 1.0))))
        touched_pf = _speed.experts_touched_share(s.experts, s.k_active, tokens)
        moved = s.dense_read + s.expert_bytes * touched_pf + tokens * kv_token_all_layers
        # llama.cpp expands GGUF weights into 16-bit copies (write + read: 4 bytes a weight) for
        # each micro-batch of prompt tokens, in kernels of their own before each product
        passes = np.ceil(np.maximum(tokens, 1.0) / s.max_tokens)
        dequant = np.where(dequantizes, passes * (s.params - s.emb) * 4.0 / (bw_eff * s.decode_mbu), 0.0)
        comm = np.where(s.tensor, _speed.allreduce_s(tp, s.layers, tokens, s.hidden, s.link),
                        _speed.pipeline_hops_s(s.gpus, tokens, s.hidden, s.link))
        return np.maximum(compute, moved / (bw_eff * s.decode_mbu)) + dequant + comm + s.prefill_fixed

    # with continuous batching a new request's prompt is prefilled on its own; a static batch
    # (HF generate) prefills all B prompts before the first token of any
    continuous = s.engine("continuous_batching", 1.0) > 0
    prefill_batch = prefill_s(s.batch)
    ttft = np.where(continuous, prefill_s(np.ones_like(s.batch)), prefill_batch)

    # decode: one token for each of B sequences per step, at the mean context P + N/2
    mean_ctx = s.prompt + s.output / 2.0
    ctx_win = np.where(s.window > 0, np.minimum(mean_ctx, np.where(s.window > 0, s.window, 1.0)), mean_ctx)
    full_layers = s.layers - s.window_layers
    kv_read = s.batch * mem["per_tok_layer"] * (full_layers * mean_ctx + s.window_layers * ctx_win)
    touched = _speed.experts_touched_share(s.experts, s.k_active, s.batch)
    dec_bytes = s.dense_read + s.expert_bytes * touched + kv_read
    dec_flops = s.batch * (2.0 * linear + head_flops
                           + 4.0 * s.heads * s.head_dim * (full_layers * mean_ctx + s.window_layers * ctx_win))
    comm_dec = np.where(s.tensor, _speed.allreduce_s(tp, s.layers, s.batch, s.hidden, s.link),
                        _speed.pipeline_hops_s(s.gpus, s.batch, s.hidden, s.link))
    # an engine that dispatches each layer from Python cannot step faster than its CPU does
    cpu_floor = s.layers * s.engine("cpu_floor_s_per_layer", 0.0)
    step_fixed = s.step_fixed + s.layers * s.engine("decode_overhead_s_per_layer", 0.0)
    tpot = (np.maximum(_speed.roofline_s(dec_flops, flops_eff * s.decode_mfu, dec_bytes, bw_eff * s.decode_mbu),
                       cpu_floor) + comm_dec + step_fixed)

    # API models: the provider's published speed
    ttft = np.where(s.is_api, s.model("ttft_s"), np.where(s.has_hw, ttft, np.nan))
    tpot = np.where(s.is_api, 1.0 / s.model("output_tokens_per_s"), np.where(s.has_hw, tpot, np.nan))
    decode_steps = np.maximum(s.output - 1.0, 0.0)
    latency_est = ttft + decode_steps * tpot
    given_latency = s.num["latency_s"]
    latency = np.where(np.isnan(given_latency), latency_est, given_latency)
    # time the deployment is busy with one batch of B requests: all B prompts, then the steps
    busy_est = np.where(s.is_api, latency_est, np.where(s.has_hw, prefill_batch, np.nan) + decode_steps * tpot)
    busy = np.where(np.isnan(given_latency), busy_est, given_latency)
    with np.errstate(divide="ignore", invalid="ignore"):
        return dict(ttft=ttft, tpot=tpot, latency=latency, busy=busy,
                    prefill_rate=np.where(s.is_api, np.nan, s.prompt / ttft), decode_rate=1.0 / tpot,
                    throughput=s.batch * s.output / busy)


def _results(s: SimpleNamespace, mem: dict[str, np.ndarray], speed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Costs, and every output with NaN where it does not apply."""
    num, is_api, has_hw = s.num, s.is_api, s.has_hw
    token_cost = np.where(is_api, _cost.token_cost_usd(
        s.prompt, num["cached_input_tokens"], s.output, s.model("input_usd_per_mtok"),
        s.model("cached_input_usd_per_mtok"), s.model("output_usd_per_mtok")), 0.0)
    util = num["utilization"]
    busy = speed["busy"]
    infra = np.where(has_hw, _cost.infra_cost_usd(s.gpus, s.price, busy, s.batch, util),
                     np.where(is_api, 0.0, np.nan))
    per_request = token_cost + infra
    per_mtok = _cost.cost_per_mtok_usd(per_request, s.output)
    # always-on replicas price self-hosted models only; an API model is paid per request (its
    # tokens, and the GPU time of the caller's own device where one is given)
    hosted = has_hw & ~is_api
    deployment = np.where(hosted, _cost.fixed_monthly_usd(s.gpus, s.price, HOURS_PER_MONTH), np.nan)
    capacity = np.where(hosted, _cost.capacity_requests_per_month(s.batch, busy, util), np.nan)
    requests = num["requests_per_month"]
    replicas = np.where(hosted & ~np.isnan(requests), _cost.replicas_needed(requests, capacity), np.nan)
    monthly = np.where(is_api, requests * per_request, requests * token_cost + replicas * deployment)
    # what a request costs with the idle time of always-on replicas: the month over its requests
    with np.errstate(divide="ignore", invalid="ignore"):
        effective = np.where(requests > 0, monthly / requests, np.nan)

    # not applicable: memory of API models; fit and speed without hardware
    na_mem = is_api
    na_fit = is_api | ~has_hw
    gib = BYTES_PER_GIB
    nan = np.nan
    out = {
        "weights_gib": np.where(na_mem, nan, s.weights / gib),
        "kv_cache_gib": np.where(na_mem, nan, mem["kv_total"] / gib),
        "activations_gib": np.where(na_mem, nan, mem["act"] / gib),
        "overhead_gib": np.where(na_mem, nan, mem["ovh"] / gib),
        "total_memory_gib": np.where(na_mem, nan, mem["total"] / gib),
        "usable_memory_gib": np.where(na_fit, nan, mem["usable"] / gib),
        "fits": np.where(na_fit, nan, mem["fits"].astype(float)),
        "gpus_needed": np.where(na_fit, nan, mem["gpus_needed"]),
        "max_batch": np.where(na_fit, nan, mem["max_batch"]),
        "ttft_s": speed["ttft"], "tpot_s": speed["tpot"], "latency_s": speed["latency"],
        "prefill_tokens_per_s": speed["prefill_rate"], "decode_tokens_per_s": speed["decode_rate"],
        "throughput_tokens_per_s": speed["throughput"],
        "token_cost_usd": token_cost, "infra_cost_usd": infra, "cost_per_request_usd": per_request,
        "cost_per_mtok_usd": per_mtok,
        "deployment_usd_per_month": deployment,
        "capacity_requests_per_month": capacity, "replicas_needed": replicas,
        "monthly_cost_usd": monthly, "effective_cost_per_request_usd": effective, "price_per_hour": s.price,
    }
    # a self-hosted deployment that does not fit cannot run: no speed, no cost (even with latency_s given)
    cannot_run = ~na_fit & ~mem["fits"]
    if cannot_run.any():
        for key in NOT_RUNNING_KEYS:
            out[key] = np.where(cannot_run, nan, out[key])
    return out


def _gpus_needed(memory_at, tensor: np.ndarray, answerable: np.ndarray) -> np.ndarray:
    """The fewest GPUs whose memory holds the workload (NaN: not even 64). Each candidate
    count is tried only on the rows no smaller count could hold."""
    needed = np.full(answerable.shape, np.nan)
    todo = np.flatnonzero(answerable)
    tensor = np.broadcast_to(tensor, answerable.shape)
    for g in sorted(set(defaults.TENSOR_GPU_COUNTS) | set(defaults.LAYER_GPU_COUNTS)):
        if not len(todo):
            break
        allowed = np.where(tensor[todo], g in defaults.TENSOR_GPU_COUNTS, g in defaults.LAYER_GPU_COUNTS)
        mem = memory_at(np.float64(g), todo)
        hit = allowed & (mem["total"] <= mem["usable"])
        needed[todo[hit]] = g
        todo = todo[~hit]
    return needed
