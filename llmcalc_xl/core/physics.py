"""The estimate's arithmetic, stated once: from a resolved scenario to every output.

Each stage is a function of array-like values written with numpy's operators and functions only
(the rules in ``memory``), so that two callers get the same arithmetic:

- the core (``estimate``) passes numpy arrays, a million scenarios in one pass;
- the quote workbook passes formula symbols (``workbook/symbolic.py``) and gets, for every
  quantity named with ``let``, the Excel formula of one Calc column.

``let(name, value)`` names an intermediate quantity: the core keeps the value, the workbook
writes a Calc column and refers to its cell from then on. ``LABELS`` says what each is.

What stays outside: turning typed names into catalog rows, the search for the fewest GPUs that
fit (the core tries counts on the rows still open; the workbook has a column per count, each
calling :func:`memory_at`), the checks of each input, and the notes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Protocol

import numpy as np

from . import cost as _cost
from . import memory as _mem
from . import queueing as _queue
from . import speed as _speed
from .arrays import where
from .defaults import ASSUMPTIONS, Assumptions
from ..units import BYTES_PER_GB, BYTES_PER_GIB, TERA

Let = Callable[[str, Any], Any]


def keep(name: str, value: Any) -> Any:
    """The core's ``let``: a named quantity is just its value."""
    return value


def given(x: Any) -> Any:
    """Where a number was given (not NaN: not blank, not missing from the catalog)."""
    return ~np.isnan(x)


def capped_share(mbu: Any, cap_gb_s: Any, bandwidth_gb_s: Any) -> Any:
    """The share of the bandwidth a decode step streams the weights at: the engine's MBU, but at most
    its decode_bandwidth_cap_gb_s over the device's bandwidth where both are given (kernels that keep a
    bounded number of bytes in flight read no faster than that, however fast the memory: HBM's 2-8 TB/s
    are out of a lone sequence's reach)."""
    return where(given(cap_gb_s) & given(bandwidth_gb_s), np.minimum(mbu, cap_gb_s / bandwidth_gb_s), mbu)


def or_default(x: Any, default: Any) -> Any:
    """x where given, else ``default``."""
    return where(np.isnan(x), default, x)


class Lookup(Protocol):
    """Where a stage reads a scenario's catalog rows and inputs (numpy arrays in the core,
    formula symbols in the workbook). Numbers are NaN where missing or not applicable."""

    is_api: Any       # an API model (priced per token, runs on the provider's hardware)
    has_hw: Any       # a catalog device or a custom one is given
    custom_only: Any  # a device described by memory_gib, bandwidth_gb_s and tflops only
    on_apple: Any     # an Apple GPU
    is_cuda: Any      # an NVIDIA/AMD-class GPU (no device named counts as one)
    pricing_given: Any  # pricing is given (a rental tier or owned; empty or "auto" is not)
    pricing_owned: Any  # pricing is given as owned
    pricing_reserved_1y: Any  # pricing is given as reserved-1y (a 1-year commitment)
    pricing_reserved_3y: Any  # pricing is given as reserved-3y
    pricing_spot: Any         # pricing is given as spot
    provider_given: Any       # a provider is named: its published price of the tier, not the tier's default
    experts_only: Any   # the precision covers the routed experts only (the model's native one, so scoped)
    attention_kept: Any  # the precision covers all but the attention blocks (a checkpoint scoped so)
    autoscale: Any      # autoscale is yes: rented replicas follow the day's load
    batch_max: Any      # the batch is "max": the largest that fits, capped by the engine's own maximum
    large_gpu_excluded: Any  # the device's name holds the engine's large_gpu_excludes (it keeps max_batch_cap)

    def model(self, field: str) -> Any: ...
    def hardware(self, field: str) -> Any: ...
    def engine(self, field: str, missing: float = np.nan) -> Any: ...
    def calibrated(self, field: str) -> Any: ...  # a calibration sets the field for the engine on the device
    def precision(self, field: str, missing: float = np.nan) -> Any: ...
    def kv_precision(self, field: str) -> Any: ...
    def flag(self, group: str, field: str, value: str) -> Any: ...
    def yes(self, group: str, field: str) -> Any: ...
    def option(self, name: str) -> Any: ...
    def number(self, name: str) -> Any: ...
    def offer(self, field: str) -> Any: ...  # the named provider's published price of the tier (NaN: none)


@dataclass(frozen=True)
class Scenario:
    """A scenario resolved against the catalogs, with the caller's overrides applied: what every
    stage reads. Each field is an array over scenarios (core) or a formula symbol (workbook)."""

    # flags
    is_api: Any
    has_hw: Any
    custom_only: Any
    is_cuda: Any
    # workload
    sequences: Any  # the batch: sequences served at once (1 where it is "max", until :func:`serving` sets it)
    batch_max: Any  # the batch is "max"
    prompt: Any
    output: Any
    cached: Any
    context: Any
    latency_given: Any
    requests: Any
    util: Any
    peak_ratio: Any  # peak traffic over the average
    spares: Any      # spare replicas (N+k)
    autoscaled: Any  # rented replicas follow the day's load (autoscale yes; not reserved: a commitment is paid all day)
    peak_hours: Any  # hours a day at the peak (peak_hours_per_day)
    arrivals: Any    # open-loop arrivals a second at one deployment (requests_per_s; NaN: none)
    # parallel layout (NaN where not given: tp = gpus / dp, dp = 1, ep = 1)
    tp_set: Any
    dp_ranks: Any
    ep_groups: Any
    # model
    params: Any
    active: Any
    layers: Any
    hidden: Any
    heads: Any
    kv_heads: Any
    head_dim: Any
    vocab: Any
    tie: Any
    experts: Any
    k_active: Any
    shared_experts: Any
    window: Any
    window_layers: Any
    lora: Any
    rope: Any
    ffn: Any
    chunk_layers: Any
    chunk: Any
    linear_layers: Any
    linear_state: Any
    mlp_only: Any
    top_k: Any
    indexer_heads: Any
    indexer_dim: Any
    attn_params: Any  # parameters of the attention blocks (0 where the catalog does not give them)
    global_kv_heads: Any  # KV heads of the full-attention layers (kv_heads unless the catalog says otherwise)
    csa_layers: Any   # compressed sparse attention (DeepSeek V4): one KV entry per csa_tokens, top_k of them read
    csa_tokens: Any
    hca_layers: Any   # heavily compressed attention: one KV entry per hca_tokens, all of them read
    hca_tokens: Any
    global_head_dim: Any  # their head dim
    # precision of the weights and of the KV cache
    experts_only: Any  # the precision covers the routed experts; the rest of the body keeps emb_bits
    attention_kept: Any  # the precision covers all but attention; attention keeps emb_bits
    bits: Any
    emb_bits: Any
    out_bits: Any
    v_bits: Any
    down_bits: Any
    o_bits: Any
    up_share: Any
    gguf: Any
    kv_bytes: Any
    # engine
    tensor: Any
    rule_free: Any
    fraction: Any
    block: Any
    max_tokens: Any
    engine_overhead: Any
    window_saves: Any
    mfu_prefill: Any
    mfu_decode: Any
    mbu_decode: Any
    mbu_attention: Any
    half_tokens: Any
    prefill_fixed: Any
    step_fixed: Any
    cpu_floor: Any
    batch_cap: Any  # the most sequences the engine runs at once by default (NaN: no cap of its own)
    continuous: Any
    wait_steps: Any
    wave_share: Any
    loaded_prefill: Any
    dequantizes: Any
    # error bands: measured / estimated at the 10th and 90th percentile of the engine's residuals
    ttft_ratio_p10: Any
    ttft_ratio_p90: Any
    tpot_ratio_p10: Any
    tpot_ratio_p90: Any
    throughput_ratio_p10: Any
    throughput_ratio_p90: Any
    # hardware
    mem_gib: Any
    mem_fraction: Any
    bandwidth: Any
    peak: Any
    peak_attention: Any
    gemm_factor: Any
    link: Any
    collective_share: Any  # share of the links' bandwidth the engine's tensor-parallel collectives reach
    domain: Any     # GPUs one NVLink domain holds (0: not stated, never crossed)
    scale_out: Any  # B/s per GPU between nodes
    price: Any
    # owned hardware
    owned: Any      # GPU time priced as owned hardware
    capex: Any      # USD per GPU
    power_w: Any    # W per GPU
    own_price: Any  # USD per GPU-hour of owned hardware
    rental: Any     # USD per GPU-hour of the catalog's rental price of the tier (the named provider's)
    # API model
    api_ttft: Any
    api_tokens_per_s: Any
    input_price: Any
    cached_price: Any
    output_price: Any

    def rows(self, index: Any) -> Any:
        return RowView(self, index)


class RowView:
    """Some rows of a stage's arrays, cut when a field is read (single values stay as they are)."""

    def __init__(self, whole: Any, index: Any):
        self._whole, self._index = whole, index

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._whole, name)
        return value[self._index] if np.ndim(value) else value


def _peak_tflops(look: Lookup) -> tuple[Any, Any, Any]:
    """Dense TFLOPS at the precision's compute type, at 16 bits, and whether the device has units
    of the precision's type. A type the device lacks runs at the 16-bit rate (FP8 weights on an
    A100 and FP4 weights on an H100 are dequantised and computed in 16-bit); BF16 runs at
    tflops_bf16 where the device states one (GeForce cards run BF16, which accumulates in FP32, at
    half their FP16-accumulate rate), else at the 16-bit rate."""
    def rate(name):
        x = look.hardware(name)
        return where(x > 0, x, np.nan)

    fp16 = rate("tflops_fp16")
    tflops = fp16
    native = look.flag("precisions", "compute", "fp16")
    for compute in ("fp32", "bf16", "fp8", "int8", "fp4"):
        kind = look.flag("precisions", "compute", compute)
        tflops = where(kind, or_default(rate(f"tflops_{compute}"), fp16), tflops)
        native = native | (kind & given(rate(f"tflops_{compute}")))
    return tflops, fp16, native


def scenario(look: Lookup, let: Let = keep, c: Assumptions = ASSUMPTIONS) -> Scenario:
    """Read a scenario's catalog rows and inputs into the quantities the stages use."""
    def zero_if_missing(x):
        return or_default(x, 0.0)

    prompt = let("prompt", look.number("input_tokens"))
    output = let("output", look.number("output_tokens"))
    context_given = look.option("context_tokens")
    v = dict(
        is_api=look.is_api, has_hw=look.has_hw, custom_only=look.custom_only, is_cuda=look.is_cuda,
        sequences=look.number("batch"), prompt=prompt, output=output, cached=look.number("cached_input_tokens"),
        batch_max=look.batch_max,
        context=let("context", or_default(context_given, prompt + output)),
        latency_given=look.option("latency_s"), requests=look.option("requests_per_month"),
        util=look.number("utilization"), peak_ratio=look.number("peak_to_average"), spares=look.number("redundancy"),
        autoscaled=look.autoscale & ~(look.pricing_reserved_1y | look.pricing_reserved_3y),
        peak_hours=look.number("peak_hours_per_day"), arrivals=look.option("requests_per_s"),
        tp_set=look.option("tp"), dp_ranks=or_default(look.option("dp"), 1.0),
        ep_groups=or_default(look.option("ep"), 1.0),
        params=look.model("params_b") * 1e9, active=look.model("active_params_b") * 1e9,
        layers=look.model("layers"), hidden=look.model("hidden_size"), heads=look.model("heads"),
        kv_heads=look.model("kv_heads"), head_dim=look.model("head_dim"), vocab=look.model("vocab_size"),
        tie=look.yes("models", "tie_embeddings"),
        experts=zero_if_missing(look.model("experts")), k_active=zero_if_missing(look.model("experts_per_token")),
        shared_experts=zero_if_missing(look.model("shared_experts")),
        window=zero_if_missing(look.model("sliding_window")),
        window_layers=zero_if_missing(look.model("sliding_window_layers")),
        lora=zero_if_missing(look.model("kv_lora_rank")), rope=zero_if_missing(look.model("qk_rope_head_dim")),
        ffn=zero_if_missing(look.model("intermediate_size")),
        chunk_layers=zero_if_missing(look.model("chunked_attention_layers")),
        chunk=zero_if_missing(look.model("attention_chunk_tokens")),
        linear_layers=zero_if_missing(look.model("linear_attention_layers")),
        linear_state=zero_if_missing(look.model("linear_state_elements")),
        mlp_only=zero_if_missing(look.model("mlp_only_layers")),
        top_k=zero_if_missing(look.model("sparse_attention_top_k")),
        indexer_heads=zero_if_missing(look.model("indexer_heads")),
        indexer_dim=zero_if_missing(look.model("indexer_head_dim")),
        attn_params=zero_if_missing(look.model("attention_params_b")) * 1e9,
    )
    global_kv, global_dim = look.model("global_kv_heads"), look.model("global_head_dim")
    v.update(csa_layers=zero_if_missing(look.model("compressed_attention_layers")),
             csa_tokens=zero_if_missing(look.model("kv_compression_tokens")),
             hca_layers=zero_if_missing(look.model("heavily_compressed_layers")),
             hca_tokens=zero_if_missing(look.model("heavy_compression_tokens")))
    v.update(global_kv_heads=where(global_kv > 0, global_kv, v["kv_heads"]),
             global_head_dim=where(global_dim > 0, global_dim, v["head_dim"]))
    # named now: the stages below read them (a name given twice is the same column: ``let`` keeps it)
    v = {k: let(k, x) for k, x in v.items()}

    # precision: GGUF k-quant mixes keep some tensors at more bits
    bits = let("bits", look.precision("bits_per_weight"))
    mix = {name: or_default(look.precision(name), bits)
           for name in ("attn_v_bits", "ffn_down_bits", "attn_output_bits")}
    v_bits_gqa4 = look.precision("attn_v_bits_gqa4")
    v.update(
        experts_only=look.experts_only, attention_kept=look.attention_kept,
        bits=bits, emb_bits=look.precision("embedding_bits"), out_bits=look.precision("output_bits"),
        v_bits=where((v["heads"] >= 4 * v["kv_heads"]) & given(v_bits_gqa4), v_bits_gqa4, mix["attn_v_bits"]),
        down_bits=mix["ffn_down_bits"], o_bits=mix["attn_output_bits"],
        up_share=look.precision("upgraded_layer_share", 1.0),
        gguf=look.flag("precisions", "family", "gguf"), kv_bytes=look.kv_precision("kv_bytes"),
    )

    # the layers that run a sparse-attention indexer (DeepSeek sparse attention: every full-attention
    # layer of a model with a top k; compressed sparse attention: its CSA layers)
    indexed_layers = (where(v["top_k"] > 0, v["layers"] - v["linear_layers"] - v["mlp_only"] - v["window_layers"]
                            - v["chunk_layers"], 0.0) + v["csa_layers"])

    # engine, with the caller's overrides; Apple GPUs reach other shares of their peak
    def override(name, base):
        return or_default(look.option(name), base)

    def efficiency(name):
        apple = look.engine("apple_" + name)
        return where(look.on_apple & given(apple), apple, look.engine(name, 0.0))

    # the share of the bandwidth a decode step streams the weights at (capped_share). A calibration's MBU
    # is what the device reached: the cap, a prior for devices not measured, leaves it.
    bandwidth_gb_s = override("bandwidth_gb_s", look.hardware("bandwidth_gb_s"))
    engine_mbu = let("engine_mbu", efficiency("decode_mbu"))
    stream_share = let("stream_share", where(look.calibrated("decode_mbu"), engine_mbu, capped_share(
        engine_mbu, look.engine("decode_bandwidth_cap_gb_s"), bandwidth_gb_s)))
    v.update(
        tensor=look.flag("engines", "parallelism", "tensor"),
        rule_free=look.flag("engines", "memory_rule", "fraction_of_free"),
        fraction=override("memory_fraction", look.engine("memory_fraction")),
        block=look.engine("kv_block_tokens", 1.0), max_tokens=look.engine("max_batched_tokens", 1.0),
        engine_overhead=override("overhead_gib", look.engine("overhead_gib")),
        window_saves=look.yes("engines", "sliding_window_saves_memory"),
        mfu_prefill=override("prefill_mfu", efficiency("prefill_mfu")),
        mfu_decode=override("decode_mfu", look.engine("decode_mfu")),
        mbu_decode=override("decode_mbu", stream_share),
        # attention's KV read reaches its own share of the bandwidth (decode_mbu where none is given)
        mbu_attention=or_default(look.engine("decode_attention_mbu"), override("decode_mbu", stream_share)),
        half_tokens=efficiency("prefill_half_tokens"),
        prefill_fixed=override("prefill_overhead_s", look.engine("prefill_overhead_s")),
        step_fixed=(override("decode_step_overhead_s", look.engine("decode_step_overhead_s"))
                    + v["layers"] * look.engine("decode_overhead_s_per_layer", 0.0)
                    # a sparse-attention layer's indexer runs a chain of small kernels each decode step
                    + indexed_layers * look.engine("sparse_attention_overhead_s_per_layer", 0.0)),
        # an engine that dispatches each layer from Python cannot step faster than its CPU does
        cpu_floor=v["layers"] * look.engine("cpu_floor_s_per_layer", 0.0),
        continuous=look.yes("engines", "continuous_batching"),
        # under load: the steps a new request waits before its prompt's, and the share of a wave of
        # prompts a client waits behind (speed(), "Under load")
        wait_steps=look.engine("ttft_wait_steps", 0.0), wave_share=look.engine("wave_share", 0.0),
        loaded_prefill=look.engine("loaded_prefill_factor", 1.0),
        # error bands (engines.toml, benchmarks/fit_bands.py): NaN where the engine has none
        **{f"{metric}_ratio_{p}": look.engine(f"{metric}_ratio_{p}")
           for metric in ("ttft", "tpot", "throughput") for p in ("p10", "p90")},
        # llama.cpp's CUDA path expands GGUF weights to 16-bit for cuBLAS; Metal multiplies them in-kernel
        dequantizes=look.yes("engines", "prefill_dequantizes") & look.is_cuda
        & look.flag("precisions", "family", "gguf"),
    )

    # hardware, with the caller's overrides (a custom device gives all three numbers)
    custom_tflops = look.option("tflops")
    tflops_at_precision, tflops_16, native = _peak_tflops(look)
    tflops = where(look.custom_only, custom_tflops, tflops_at_precision)
    peak = let("peak", where(given(custom_tflops) & ~look.custom_only, custom_tflops, tflops) * TERA)
    # a GPU-hour: price_per_hour where given; else what owned hardware costs (pricing "owned", or no rental
    # price but a known purchase price and power); else the catalog's rental price of the tier (the named
    # provider's, or the tier's default)
    tier_price = where(look.pricing_spot, look.hardware("price_spot_usd_per_hour"),
                          where(look.pricing_reserved_3y, look.hardware("price_reserved_3y_usd_per_hour"),
                                   where(look.pricing_reserved_1y, look.hardware("price_reserved_1y_usd_per_hour"),
                                            look.hardware("price_usd_per_hour"))))
    rental = let("rental", where(look.provider_given, look.offer("usd_per_gpu_hour"), tier_price))
    capex = let("capex", or_default(look.option("capex_usd_per_gpu"), look.hardware("capex_usd_per_gpu")))
    power_w = let("power_w", or_default(look.option("power_w_per_gpu"), look.hardware("tdp_w")))
    owned = let("owned", where(look.pricing_given, look.pricing_owned,
                                  ~(rental > 0) & given(capex) & given(power_w)))
    owning = {k: let(k, look.number(name)) for k, name in _OWNING.items()}
    own_parts = (
        let("own_capital", _cost.capital_usd_per_hour(capex, owning["years"], owning["residual"], owning["rate"],
                                                     c.hours_per_month)),
        let("own_power", _cost.power_usd_per_hour(power_w, owning["pue_ratio"], owning["electricity"])),
        let("own_hosting", _cost.hosting_usd_per_hour(power_w, owning["hosting_rate"], c.hours_per_month)),
        let("own_maintenance", _cost.maintenance_usd_per_hour(capex, owning["upkeep"], c.hours_per_month)),
    )
    own_price = let("own_price", own_parts[0] + own_parts[1] + own_parts[2] + own_parts[3])
    price = or_default(look.option("price_per_hour"),
                       where(owned, own_price, where(look.custom_only, np.nan, rental)))
    v.update(owned=owned, capex=capex, power_w=power_w, own_price=own_price, rental=rental)
    mem_gib = let("mem_gib", override("memory_gib", look.hardware("memory_gib")))
    # the engine's own cap on sequences at once; vLLM's depends on the device (arg_utils.py: GPUs of 70 GiB or
    # more, other than A100s, run 1024, the others 256)
    large_gpu = given(look.engine("max_batch_cap_large_gpu")) & (mem_gib >= look.engine("large_gpu_min_gib")) \
        & ~look.large_gpu_excluded
    v.update(
        batch_cap=where(large_gpu, look.engine("max_batch_cap_large_gpu"), look.engine("max_batch_cap")),
        mem_gib=mem_gib,
        mem_fraction=where(look.custom_only, 1.0, look.hardware("memory_fraction")),
        bandwidth=override("bandwidth_gb_s", look.hardware("bandwidth_gb_s")) * BYTES_PER_GB,
        peak=peak,
        # attention multiplies activations and the KV cache, in 16-bit whatever the weights' format
        # (FP32 weights: at the FP32 rate); a device described by one tflops figure runs all at it
        peak_attention=where(given(custom_tflops), peak, np.minimum(peak, or_default(tflops_16 * TERA, peak))),
        # a weight format's matrix-product kernels on its own units reach this share of what 16-bit
        # kernels reach, in arithmetic and in streaming the weights (precisions.toml, gemm_efficiency);
        # dequantised to 16-bit on a device without those units, it runs the 16-bit kernels' way
        gemm_factor=where(native, look.precision("gemm_efficiency", 1.0), 1.0),
        link=or_default(look.hardware("interconnect_gb_s"), c.default_link_gb_s) * BYTES_PER_GB,
        # the engine's all-reduce and all-to-all kernels move their bytes at this share of the links
        # (NVLink and between nodes; engines.toml, allreduce_bandwidth_share; 1 where not given)
        collective_share=or_default(look.engine("allreduce_bandwidth_share"), 1.0),
        # a deployment wider than one NVLink domain reaches the GPUs of other nodes over their network links
        domain=or_default(look.hardware("nvlink_domain_gpus"), 0.0),
        scale_out=or_default(look.hardware("scale_out_gb_s"), c.default_scale_out_gb_s) * BYTES_PER_GB,
        price=where(look.has_hw, price, np.nan),
        api_ttft=look.model("ttft_s"), api_tokens_per_s=look.model("output_tokens_per_s"),
        input_price=look.model("input_usd_per_mtok"), cached_price=look.model("cached_input_usd_per_mtok"),
        output_price=look.model("output_usd_per_mtok"),
    )
    return Scenario(**{k: let(k, x) for k, x in v.items()})


#: The numbers of owned hardware's cost: Calc column -> option.
_OWNING = {"years": "depreciation_years", "residual": "residual_share", "rate": "cost_of_capital", "pue_ratio": "pue",
           "electricity": "electricity_usd_per_kwh", "hosting_rate": "hosting_usd_per_kw_month",
           "upkeep": "maintenance_share_per_year"}

@dataclass(frozen=True)
class Weights:
    emb: Any
    out_p: Any
    weights: Any
    expert_share: Any
    expert_params: Any
    expert_bytes: Any
    dense_read: Any
    linear: Any
    expert_linear: Any

    def rows(self, index: Any) -> Any:
        return RowView(self, index)


def weights(s: Scenario, let: Let = keep, c: Assumptions = ASSUMPTIONS) -> Weights:
    """Bytes of the weights, and what a step reads and multiplies."""
    emb = let("emb", _mem.embedding_params(s.vocab, s.hidden))
    out_p = let("out_p", _mem.output_params(s.vocab, s.hidden, s.tie))
    s_v, s_down, s_o = _mem.tensor_shares(s.hidden, s.heads, s.kv_heads, s.head_dim, s.ffn, s.experts,
                                          s.shared_experts, c)
    body_bits = let("body_bits", _mem.body_bits_per_weight(s.bits, s.v_bits, s.down_bits, s.o_bits, s.up_share,
                                                           let("s_v", s_v), let("s_down", s_down), let("s_o", s_o)))
    share = let("expert_share", _mem.safe_ratio(s.k_active, s.experts))
    expert_params = let("expert_params", _mem.routed_expert_params(s.params, s.active, s.experts, s.k_active))
    # a precision that covers the experts only (or all but attention) leaves the rest of the body
    # (or the attention blocks) at the bits the format keeps unquantised tensors in (its embedding bits: 16)
    kept = let("kept_params", _mem.kept_params(s.params, emb, out_p, expert_params, s.attn_params, s.experts_only,
                                               s.attention_kept))
    total = let("weights", _mem.scoped_weights_bytes(s.params, emb, out_p, kept, body_bits, s.emb_bits, s.emb_bits,
                                                     s.out_bits))
    expert_bytes = let("expert_bytes", expert_params * body_bits / 8.0)
    # a step reads every weight but the embedding table (only its looked-up rows), unless tied
    dense_read = let("dense_read", total - expert_bytes - where(s.tie, 0.0, emb * s.emb_bits / 8.0))
    return Weights(emb=emb, out_p=out_p, weights=total, expert_share=share, expert_params=expert_params,
                   expert_bytes=expert_bytes, dense_read=dense_read,
                   linear=let("linear", s.active - emb - out_p),  # matmul parameters a token passes through
                   expert_linear=let("expert_linear", expert_params * share))


@dataclass(frozen=True)
class Held:
    """What the KV cache holds per sequence, in tokens per layer of each kind (whatever the batch)."""
    full: Any
    window: Any
    window_layers: Any
    chunk: Any
    chunk_layers: Any
    full_layers: Any
    csa: Any  # compressed entries a compressed-sparse-attention layer holds (beside its window)
    hca: Any  # those of a heavily compressed layer

    def rows(self, index: Any) -> Any:
        return RowView(self, index)


def held(s: Scenario, let: Let = keep) -> Held:
    """Sliding-window layers hold at most the window and chunked-attention layers at most one chunk,
    when the engine frees what falls out of it; linear-attention and MLP-only layers hold no KV."""
    full = let("full_held", _mem.tokens_held(s.context, s.block))
    has_window = let("has_window", (s.window > 0) & s.window_saves)
    window = let("win_held", where(has_window, _mem.tokens_held(np.minimum(s.context, where(s.window > 0, s.window, 1.0)),
                                                                     s.block), full))
    has_chunk = (s.chunk > 0) & s.window_saves
    chunk = let("chunk_held", where(has_chunk, _mem.tokens_held(np.minimum(s.context, where(s.chunk > 0, s.chunk, 1.0)),
                                                                     s.block), full))
    window_layers = let("swa_layers", where(has_window, s.window_layers, 0.0))
    chunk_layers = let("chunk_layers_held", where(has_chunk, s.chunk_layers, 0.0))
    return Held(full=full, window=window, window_layers=window_layers, chunk=chunk, chunk_layers=chunk_layers,
                full_layers=let("full_layers_held", s.layers - s.linear_layers - s.mlp_only - window_layers
                                - chunk_layers),
                csa=let("csa_held", _mem.compressed_entries(s.context, s.csa_tokens)),
                hca=let("hca_held", _mem.compressed_entries(s.context, s.hca_tokens)))


@dataclass(frozen=True)
class PerSequence:
    """Memory on ``gpus`` GPUs that does not depend on the batch: what each sequence's KV cache
    takes, and what the device and the engine's overhead are."""
    tp: Any
    width: Any  # GPUs that run one step side by side: gpus under tensor parallelism, 1 under layer splitting
    ranks: Any  # attention data-parallel ranks (dp), 1 under layer splitting
    held: Any   # weight bytes over all GPUs: each rank holds its own copy of all but the routed experts
    per_tok_layer: Any
    per_tok_full: Any
    kv_seq: Any
    act_factor: Any
    ovh: Any
    device: Any


@dataclass(frozen=True)
class Memory(PerSequence):
    kv_total: Any
    act: Any
    usable: Any
    total: Any


def per_sequence(s: Scenario, w: Weights, h: Held, gpus: Any, let: Let = keep,
                 c: Assumptions = ASSUMPTIONS) -> PerSequence:
    """The memory of the workload on ``gpus`` GPUs that the batch does not change."""
    # the layout: dp ranks of tp GPUs each (gpus = tp x dp); each rank holds the attention and dense weights
    # and the KV cache of its own sequences, the routed experts are spread over all GPUs
    tp = let("attn_tp", where(s.tensor, or_default(s.tp_set, gpus / s.dp_ranks), 1.0))
    width = let("width", where(s.tensor, gpus, 1.0))
    ranks = let("ranks", where(s.tensor, s.dp_ranks, 1.0))
    held_w = let("weights_held", w.weights + (ranks - 1.0) * (w.weights - w.expert_bytes))
    heads_stored = let("heads_stored", _mem.stored_kv_heads(s.kv_heads, tp))
    per_tok_layer = let("per_tok_layer", _mem.kv_bytes_per_token_layer(s.lora > 0, heads_stored, s.head_dim, s.lora,
                                                                       s.rope, s.kv_bytes, tp))
    # full-attention layers may keep other KV heads than the window or chunk layers (Gemma 4)
    per_tok_full = let("per_tok_full", _mem.kv_bytes_per_token_layer(
        s.lora > 0, _mem.stored_kv_heads(s.global_kv_heads, tp), s.global_head_dim, s.lora, s.rope, s.kv_bytes, tp))
    global_layers = s.layers - s.linear_layers - s.mlp_only - s.window_layers - s.chunk_layers
    kv_seq = let("kv_seq", _mem.kv_cache_bytes_per_sequence(per_tok_layer, h.full_layers, h.full, h.window,
                                                            h.window_layers, h.chunk, h.chunk_layers, per_tok_full,
                                                            global_layers)
                 + _mem.state_bytes_per_sequence(s.linear_layers, s.linear_state, c)
                 + _mem.indexer_bytes_per_sequence(where((s.top_k > 0) & ~(s.csa_layers > 0), h.full_layers, 0.0),
                                                   s.indexer_dim, h.full, c)
                 # compressed layers hold their entries beside the window, CSA also one indexer key an entry
                 + per_tok_layer * (s.csa_layers * h.csa + s.hca_layers * h.hca)
                 + _mem.indexer_bytes_per_sequence(s.csa_layers, s.indexer_dim, h.csa, c))
    factor = let("act_factor", _mem.activation_factor(tp, s.experts > 0, c))
    ovh = let("ovh", _mem.overhead_bytes(gpus, s.engine_overhead, s.is_cuda, s.tensor & (gpus > 1), c))
    device = let("device", gpus * s.mem_gib * BYTES_PER_GIB * s.mem_fraction)
    return PerSequence(tp=tp, width=width, ranks=ranks, held=held_w, per_tok_layer=per_tok_layer,
                       per_tok_full=per_tok_full, kv_seq=kv_seq, act_factor=factor, ovh=ovh, device=device)


def memory_at(s: Scenario, w: Weights, h: Held, gpus: Any, let: Let = keep, c: Assumptions = ASSUMPTIONS,
              base: PerSequence | None = None) -> Memory:
    """Memory of the workload on ``gpus`` GPUs, and what the engine lets it use. ``base``: its
    :func:`per_sequence` part, where already known (the same GPUs, another batch)."""
    b = per_sequence(s, w, h, gpus, let, c) if base is None else base
    pass_tokens = let("pass_tokens", np.maximum(np.minimum(s.sequences * np.maximum(s.prompt, 1.0), s.max_tokens),
                                                1.0))
    kv_total = let("kv_total", s.sequences * b.kv_seq)
    # each rank runs its own pass
    act = let("act", _mem.activations_bytes(pass_tokens, b.ranks * _mem.activation_bytes_per_token(
        b.tp, s.heads, s.head_dim, b.act_factor, c), s.sequences, s.vocab, c))
    static = let("static", b.held + act + b.ovh)
    usable = let("usable", _mem.usable_bytes(b.device, s.rule_free, s.fraction, static))
    return Memory(tp=b.tp, width=b.width, ranks=b.ranks, held=b.held, per_tok_layer=b.per_tok_layer, per_tok_full=b.per_tok_full, kv_seq=b.kv_seq,
                  act_factor=b.act_factor, ovh=b.ovh, device=b.device, kv_total=kv_total, act=act, usable=usable,
                  total=let("total", static + kv_total))


def largest_batch(s: Scenario, w: Weights, m: PerSequence, let: Let = keep, c: Assumptions = ASSUMPTIONS) -> Any:
    """The most sequences that fit on the requested GPUs: B x p + q x min(B x P, T_max) <= R."""
    logit_per_seq = s.vocab * c.logit_bytes
    act_per_token = let("act_tok", m.ranks * _mem.activation_bytes_per_token(m.tp, s.heads, s.head_dim,
                                                                             m.act_factor, c))
    fixed = m.held + m.ovh
    p_seq = let("p_seq", where(s.rule_free, m.kv_seq + s.fraction * logit_per_seq, m.kv_seq + logit_per_seq))
    q_tok = let("q_tok", where(s.rule_free, s.fraction * act_per_token, act_per_token))
    budget = let("budget", where(s.rule_free, s.fraction * (m.device - fixed), s.fraction * m.device - fixed))
    return let("max_batch", _mem.max_sequences(p_seq, q_tok, s.prompt, s.max_tokens, budget))


def serving(s: Scenario, max_batch: Any, let: Let = keep) -> Scenario:
    """The scenario at the batch it serves. A batch given as a number is served as it is; batch "max" is
    the largest batch that fits (``max_batch``, :func:`largest_batch` on the GPUs resolved at one
    sequence) capped by the engine's own maximum (``batch_cap``; no cap where it has none), and at
    least 1: where not even one sequence fits, the deployment is priced at one, which does not fit."""
    capped = where(given(s.batch_cap), np.minimum(max_batch, s.batch_cap), max_batch)
    served = let("served_batch", where(s.batch_max, np.maximum(capped, 1.0), s.sequences))
    return replace(s, sequences=served)


@dataclass(frozen=True)
class Speed:
    ttft: Any
    tpot: Any
    latency: Any
    busy: Any
    prefill_rate: Any
    decode_rate: Any
    throughput: Any


def speed(s: Scenario, w: Weights, m: Memory, gpus: Any, let: Let = keep, c: Assumptions = ASSUMPTIONS) -> Speed:
    """Time to first token, time per output token, latency and busy time per batch.

    ``batch`` (B) is the number of requests in flight: B clients in a closed loop, each sending its
    next request when its previous one ends. TTFT and TPOT are the means they see in steady state
    under the engine's default scheduler.

    Static batching (HF transformers, ``continuous_batching = false``): the B prompts are prefilled
    together, then B sequences decode in lockstep: TTFT = prefill of all B prompts, TPOT = the
    decode step of B sequences (T_dec).

    Continuous batching with chunked prefill (vLLM, SGLang) and in-flight batching (TensorRT-LLM):
    a new request's prompt is processed in the same steps as the running decodes.

    - A new request first waits for the step that is running when it arrives (half a step on
      average), then its prompt goes through in k = ceil(P / max_batched_tokens) steps, then it
      decodes for N - 1 steps: each client's cycle is N + k - 1/2 steps (k + 1/2 for an answer of
      one token or none), so each of the B - 1 others starts a new request once a cycle:
      (B - 1) / (N + k - 1/2) prompts join an average step. A step reads the weights once for all its tokens, so what a joining
      prompt adds is its arithmetic, C_1 (the compute time of one lone prompt's prefill), and under
      tensor parallelism its P tokens in the step's collectives, X_1 (their bandwidth terms for P
      tokens; the step pays the latency already): C_1 + X_1. The
      prompts ahead of this request in a wave (below: phi x (B - 1) / 2 of them a cycle) run before
      its first token, in its TTFT, not in its decode steps:
      TPOT = T_dec + (1 - phi / 2) x (B - 1) / (N + k - 1/2) x (C_1 + X_1).
    - Over one client's cycle the others' prompts add (1 - phi / 2) x (B - 1) x C_1 to its decode
      steps, whatever N: the latency, and the GPU time a request costs, grow with N.

    TTFT under load (u = min(B - 1, 1): 0 for a lone request, 1 with others in flight) is the mean
    over a closed-loop run as benchmarks measure it, in three parts:

    - A scattered request waits for the running step (1/2) and its prompt's k steps, each as long
      as a loaded step, and the engine's own w steps (``ttft_wait_steps``: admission between steps,
      the first token leaving a step later), each a step of decodes T_dec: u x ((1/2 + k) x TPOT +
      w x T_dec). (Charging the engine's wait at the loaded step would count the others' prompts
      again in each waited step: the GPU time of a request would then fall as its answer grows.)
    - Its prefill takes f x F_1 (``loaded_prefill_factor``; F_1 = a lone prompt's prefill). This
      is time the request waits, not GPU work for the others: charged to the decode steps as well
      it would make TensorRT-LLM's TPOT 36% too high on the calibration rows (fit_serving.py).
    - A wave: a run starts all B clients at once and, with equal lengths, they stay together
      until their first tokens scatter them (each finishes a step after the one before it). In a
      wave the i-th prompt waits behind the i - 1 before it, each costing C_1 + X_1 and its
      share P / max_batched_tokens of a step's decodes T_dec: (B - 1) / 2 x (C_1 + X_1 + P / M x T_dec)
      on average. A run of r requests per client sees a wave in about 1 / r of them, more where the
      scheduler keeps waves together: ``wave_share`` phi (fitted; 0.1 for vLLM and TensorRT-LLM
      matches the usual 10 requests per client of serving benchmarks). AIConfigurator's
      aggregated-serving model corrects its TTFT for the same first round (github:ai-dynamo/
      aiconfigurator, sdk/backends/trtllm_backend.py, run_agg: "assume we have requests 10x of
      concurrency ... to mitigate the impact of first round latency").

    TTFT = F_1 x (1 + u x (f - 1)) + u x ((1/2 + k) x TPOT + w x T_dec) + phi x (B - 1) / 2 x (C_1 + X_1 + P / M x T_dec).

    - At B = 1 nothing else runs: u = 0 and B - 1 = 0, so TTFT = F_1 and TPOT = T_dec, the
      single-request figures.
    - A deployment serves B requests at once, each for TTFT + (N - 1) x TPOT: throughput =
      B x N / (TTFT + (N - 1) x TPOT).
    """
    bw_eff = let("bw_eff", s.bandwidth * m.width)
    flops_eff = let("flops_eff", s.peak * m.width * s.gemm_factor)
    attn_eff = let("attn_flops_eff", s.peak_attention * m.width)
    gemm_bw_eff = let("gemm_bw_eff", bw_eff * s.gemm_factor)
    head_flops = let("head_flops", 2.0 * s.vocab * s.hidden)  # lm_head, once per sampled token
    attention_layers = s.layers - s.linear_layers - s.mlp_only
    full_layers = let("full_attention_layers", attention_layers - s.window_layers - s.chunk_layers)
    # the KV written per prompt token (every attention layer), and the indexer keys of sparse attention
    csa_share = _mem.safe_ratio(1.0, s.csa_tokens)  # compressed entries a token adds
    hca_share = _mem.safe_ratio(1.0, s.hca_tokens)
    kv_token_all_layers = let("kv_token_all_layers", m.per_tok_layer * (attention_layers - full_layers)
                              + m.per_tok_full * full_layers + where(
        s.top_k > 0, full_layers * s.indexer_dim * c.indexer_bytes_per_value, 0.0)
        + m.per_tok_layer * (s.csa_layers * csa_share + s.hca_layers * hca_share)
        + s.csa_layers * csa_share * s.indexer_dim * c.indexer_bytes_per_value)
    attn_flops_prompt = let("attn_flops_prompt", _speed.attention_flops(
        _speed.attended_pairs(s.prompt, s.top_k), _speed.attended_pairs(s.prompt, s.window),
        _speed.chunked_pairs(s.prompt, s.chunk), full_layers, s.window_layers, s.chunk_layers, s.heads, s.head_dim)
        + _speed.indexer_flops(_speed.attended_pairs(s.prompt, 0.0), where(s.top_k > 0, full_layers, 0.0),
                               s.indexer_heads, s.indexer_dim)
        + _speed.linear_attention_flops(s.prompt, s.linear_layers, s.linear_state)
        # a query attends to min(i / r, top k) compressed entries of a CSA layer, i / r of an HCA layer; the
        # CSA indexer scores all i / r
        + 4.0 * s.heads * s.head_dim * (s.csa_layers * _speed.attended_pairs(s.prompt, s.top_k * s.csa_tokens)
                                        * csa_share + s.hca_layers * _speed.attended_pairs(s.prompt, 0.0) * hca_share)
        + _speed.indexer_flops(_speed.attended_pairs(s.prompt, 0.0) * csa_share, s.csa_layers, s.indexer_heads,
                               s.indexer_dim))

    def gemm_efficiency(rows):
        """Share of peak a GEMM with ``rows`` tokens reaches: rows / (rows + half-efficiency rows)."""
        return rows / (rows + s.half_tokens)

    def comm(tokens, rank_tokens):
        """Under tensor parallelism the layout's collectives (``speed.layout_comm_s``: the attention's
        all-reduce in each rank, the MLP's all-reduce or gather over all GPUs, or the experts'
        all-to-all); under layer splitting activation hops between GPUs. ``rank_tokens``: the tokens
        one attention rank holds."""
        return where(s.tensor, _speed.layout_comm_s(m.tp, m.width, s.ep_groups, s.layers, where(s.experts > 0, s.layers, 0.0),
                                                    tokens, rank_tokens, s.hidden, s.k_active, s.link * s.collective_share,
                                                    s.scale_out * s.collective_share,
                                                    s.domain, c),
                     _speed.pipeline_hops_s(gpus, tokens, s.hidden, s.link, c))

    def prefill_s(prompts, suffix, spread):
        """``spread``: the attention ranks the prompts are spread over (a lone prompt runs its attention
        and dense weights on one rank's tp GPUs, 1 / dp of them; the experts on all GPUs)."""
        share = spread / m.ranks
        tokens = let(f"pf_tokens_{suffix}", prompts * s.prompt)
        pass_rows = let(f"pf_rows_{suffix}", np.maximum(np.minimum(tokens, s.max_tokens), 1.0))
        # dense weights see every token of a pass; each routed expert only its share (k/E)
        peak = flops_eff * s.mfu_prefill
        compute = let(f"pf_compute_{suffix}",
                      prompts * (2.0 * (w.linear - w.expert_linear) * s.prompt + head_flops)
                      / (peak * share * gemm_efficiency(pass_rows))
                      + prompts * attn_flops_prompt / (attn_eff * share * s.mfu_prefill * gemm_efficiency(pass_rows))
                      + prompts * 2.0 * w.expert_linear * s.prompt
                      / (peak * gemm_efficiency(np.maximum(pass_rows * w.expert_share, 1.0))))
        moved = let(f"pf_moved_{suffix}", (w.dense_read + tokens * kv_token_all_layers) / share
                    + w.expert_bytes * _speed.experts_touched_share(s.experts, s.k_active, tokens))
        # llama.cpp expands GGUF weights into 16-bit copies (write + read: 4 bytes a weight) for
        # each micro-batch of prompt tokens, in kernels of their own before each product
        passes = np.ceil(np.maximum(tokens, 1.0) / s.max_tokens)
        dequant = let(f"pf_dequant_{suffix}", where(s.dequantizes, passes * (s.params - w.emb) * 4.0
                                                        / (bw_eff * s.mbu_decode), 0.0))
        return compute, let(f"prefill_s_{suffix}", np.maximum(compute, moved / (bw_eff * s.mbu_decode)) + dequant
                            + comm(tokens, tokens / spread) + s.prefill_fixed)

    # with continuous batching a new request's prompt is prefilled on its own; a static batch
    # (HF generate) prefills all B prompts before the first token of any
    compute_one, prefill_one = prefill_s(1.0, "1", 1.0)
    _, prefill_batch = prefill_s(s.sequences, "b", m.ranks)

    # decode: one token for each of B sequences per step, at the mean context P + N/2
    mean_ctx = let("mean_ctx", s.prompt + s.output / 2.0)
    # tokens each layer kind attends to at the mean context: all (sparse: the top k), the window, the
    # part of the current chunk (half a chunk on average once the context passes one)
    ctx_full = where(s.top_k > 0, np.minimum(mean_ctx, where(s.top_k > 0, s.top_k, 1.0)), mean_ctx)
    ctx_win = where(s.window > 0, np.minimum(mean_ctx, where(s.window > 0, s.window, 1.0)), mean_ctx)
    ctx_chunk = where(mean_ctx < s.chunk, mean_ctx, s.chunk / 2.0)
    # entries a compressed layer reads beside its window: the top k of the CSA ones, all the HCA ones
    ctx_csa = np.minimum(mean_ctx * csa_share, where(s.top_k > 0, s.top_k, mean_ctx))
    ctx_compressed = s.csa_layers * ctx_csa + s.hca_layers * mean_ctx * hca_share
    attn_ctx = let("attn_ctx", full_layers * ctx_full + s.window_layers * ctx_win + s.chunk_layers * ctx_chunk
                   + ctx_compressed)
    # the KV bytes a step reads per sequence: full layers at their own KV width
    kv_read = let("kv_read", m.per_tok_full * full_layers * ctx_full
                  + m.per_tok_layer * (s.window_layers * ctx_win + s.chunk_layers * ctx_chunk + ctx_compressed))
    # the indexer scores every key (a CSA layer's: every compressed entry)
    indexed = let("indexed_keys", where(s.top_k > 0, full_layers * mean_ctx, 0.0) + s.csa_layers * mean_ctx * csa_share)
    state = _mem.state_bytes_per_sequence(s.linear_layers, s.linear_state, c)
    # a decode step runs two kinds of kernels one after the other, each on its own roofline: the
    # matrix products (GEMMs) stream the weights once for all B tokens and turn compute-bound as B
    # grows, while attention reads every sequence's KV cache at bandwidth whatever B is. One
    # max(flops, bytes) over both would let the KV read hide under the GEMMs' arithmetic.
    gemm_bytes = let("dec_gemm_bytes", w.dense_read * m.ranks + w.expert_bytes * _speed.experts_touched_share(
        s.experts, s.k_active, s.sequences))
    gemm_flops = let("dec_gemm_flops", s.sequences * (2.0 * w.linear + head_flops))
    attn_bytes = let("dec_attn_bytes", s.sequences * (kv_read
                                                      + indexed * s.indexer_dim * c.indexer_bytes_per_value
                                                      + 2.0 * state))  # a linear layer reads and writes its state
    attn_flops = let("dec_attn_flops", s.sequences * (4.0 * s.heads * s.head_dim * attn_ctx
                                                      + 2.0 * s.indexer_heads * s.indexer_dim * indexed
                                                      + _speed.linear_attention_flops(1.0, s.linear_layers,
                                                                                      s.linear_state)))
    gemm_s = let("dec_gemm_s", _speed.roofline_s(gemm_flops, flops_eff * s.mfu_decode, gemm_bytes,
                                                 gemm_bw_eff * s.mbu_decode))
    attn_s = let("dec_attn_s", _speed.roofline_s(attn_flops, attn_eff * s.mfu_decode, attn_bytes,
                                                 bw_eff * s.mbu_attention))
    tpot_alone = let("tpot_core", np.maximum(gemm_s + attn_s, s.cpu_floor) + comm(s.sequences, s.sequences / m.ranks)
                     + s.step_fixed)
    # continuous batching: the other clients' prompts share the decode steps (docstring)
    others = let("other_clients", np.maximum(s.sequences - 1.0, 0.0))
    prompt_steps = let("prompt_steps", np.ceil(np.maximum(s.prompt, 1.0) / s.max_tokens))
    cycle = let("cycle_steps", np.maximum(s.output - 1.0, 0.0) + prompt_steps + 0.5)
    # a prompt ahead of this request in a wave runs before its first token (TTFT's wave below), not in
    # its decode steps: phi x (B - 1) / 2 of the others' B - 1 prompts a cycle
    joining = let("joining_prompts", where(s.continuous, others / cycle * (1.0 - s.wave_share / 2.0), 0.0))
    # what a joining prompt adds to a step: its arithmetic, and its tokens in the step's collectives (the
    # traffic of P more tokens; the step pays the collectives' latency already)
    prompt_comm = let("prompt_comm_s", comm(s.prompt, s.prompt) - comm(0.0, 0.0))
    prompt_cost = let("prompt_step_s", compute_one + prompt_comm)
    tpot_hosted = let("tpot_loaded", tpot_alone + joining * prompt_cost)
    # TTFT under load (docstring): the lone prefill, slower under load; the running step, the engine's
    # wait and the prompt's steps; and the share of a wave of B prompts, (B - 1) / 2 of them ahead on
    # average, each its arithmetic and its share (P / max_batched_tokens) of a step's decodes
    ahead = let("prompts_ahead", others / 2.0)
    wave_s = let("wave_wait_s", ahead * (prompt_cost + s.prompt / s.max_tokens * tpot_alone))
    busy_engine = let("under_load", np.minimum(others, 1.0))  # 0 for a lone request, 1 with others in flight
    ttft_loaded = let("ttft_loaded", prefill_one * (1.0 + busy_engine * (s.loaded_prefill - 1.0))
                      + busy_engine * ((0.5 + prompt_steps) * tpot_hosted + s.wait_steps * tpot_alone)
                      + s.wave_share * wave_s)

    # API models: the provider's published speed
    ttft = let("ttft", where(s.is_api, s.api_ttft,
                                where(s.has_hw, where(s.continuous, ttft_loaded, prefill_batch), np.nan)))
    tpot = let("tpot", where(s.is_api, 1.0 / s.api_tokens_per_s, where(s.has_hw, tpot_hosted, np.nan)))
    steps = let("steps", np.maximum(s.output - 1.0, 0.0))
    latency_est = ttft + steps * tpot
    latency = let("latency", or_default(s.latency_given, latency_est))
    # time the deployment is busy with one batch of B requests: a static batch prefills all B prompts,
    # then the steps; under continuous batching the B requests run side by side, each for its latency
    busy = let("busy", or_default(s.latency_given, where(
        s.is_api, latency_est, where(s.has_hw, where(s.continuous, ttft, prefill_batch), np.nan) + steps * tpot)))
    return Speed(ttft=ttft, tpot=tpot, latency=latency, busy=busy,
                 prefill_rate=where(s.is_api, np.nan, s.prompt / ttft), decode_rate=1.0 / tpot,
                 throughput=s.sequences * s.output / busy)


#: Passes of the fixed point that gives the concurrency an arrival rate implies (a constant: the
#: workbook writes each pass as columns of its own).
RATE_PASSES = 2
#: The rate view's percentiles: key suffix, share, the standard normal quantile of the share.
PERCENTILES = (("p90", 0.90, 1.2815515655446004), ("p99", 0.99, 2.3263478740408408))


@dataclass(frozen=True)
class Rate:
    served: Any        # requests a second the deployment serves with all its batch slots busy
    utilization: Any   # arrivals over served
    concurrency: Any   # requests in the deployment on average, queue included (Little's law)
    wait: Any          # mean wait in the queue, s
    ttft: Any          # mean TTFT, queue included, s
    tpot: Any          # mean TPOT, s
    ttft_p: dict       # "p90" -> s, "p99" -> s
    tpot_p: dict


def _pass_let(let: Let, i: int) -> Let:
    return lambda name, value: let(f"r{i}_{name}", value)


def label(name: str) -> str:
    """What a named quantity is: ``LABELS``, and for the rate view's passes of the speed (``r1_ttft``)
    the quantity's label with the pass."""
    head, _, rest = name.partition("_")
    if head[:1] == "r" and head[1:].isdigit() and rest in LABELS:
        return f"{LABELS[rest]} (rate, pass {head[1:]})"
    return LABELS.get(name, name)


def at_rate(s: Scenario, w: Weights, m: Memory, gpus: Any, sp: Speed, let: Let = keep,
            c: Assumptions = ASSUMPTIONS) -> Rate:
    """The request-rate view: open-loop arrivals at ONE deployment (replica), ``requests_per_s``
    lambda a second arriving at random (a Poisson process), served by its ``batch`` B slots.

    - Served: B / S_B requests a second, S_B = a request's time in the engine with all B slots busy
      (``busy``); utilisation rho = lambda S_B / B (1 or more: no figure, the row's error).
    - Concurrency: an arrival finds lambda S others in service on average (arrivals see time
      averages, PASTA), so it runs among n = 1 + lambda S(n) requests, S(n) being its time in the
      engine at concurrency n (``speed`` with batch n). A fixed point, found by RATE_PASSES passes
      from above: n_0 = B, n_(i+1) = min(1 + lambda S(n_i), B). S grows with n, so each pass stays
      at or above the fixed point (the figures err slow, never fast); at lambda -> 0, n -> 1 and
      the figures are the lone request's.
    - Queue: M/M/c with c = B slots and S_B per request (``queueing``: Sakasegawa's Erlang C,
      exponential wait). Mean TTFT = TTFT(n) + mean wait; TPOT = TPOT(n).
    - Percentiles: the others in service are about Poisson with mean n - 1 (none at the p-quantile
      while exp(-(n - 1)) >= p, else its normal approximation; at most B - 1); at its p-quantile q the speed is the chord between n and B (S is convex in
      the batch, so the chord errs slow): TPOT_p = TPOT(n) + (TPOT_B - TPOT(n)) (q + 1 - n) / (B - n),
      TTFT_p likewise plus the wait's p-quantile. A sum of quantiles bounds the sum's from above.
    - Concurrency reported: lambda x (mean wait + S(n)), Little's law L = lambda W.
    """
    lam = s.arrivals
    slots = s.sequences
    serving = let("rate_given", s.has_hw & ~s.is_api & given(lam))
    served = let("rate_served", slots / sp.busy)
    rho = let("rate_rho", _queue.utilization(lam, served))
    n, pass_speed = slots, sp
    for i in range(1, RATE_PASSES + 1):
        n = let(f"rate_n{i}", np.minimum(1.0 + lam * pass_speed.busy, slots))
        pass_speed = speed(replace(s, sequences=n), w, m, gpus, _pass_let(let, i), c)
    ok = serving & (rho < 1.0)
    p_wait = let("rate_p_wait", where(ok, _queue.wait_probability(rho, slots), np.nan))
    wait = let("rate_wait_s", _queue.mean_wait_s(p_wait, lam, served))
    others = n - 1.0
    span = slots - n
    ttft_p, tpot_p = {}, {}
    for key, share, z in PERCENTILES:
        q = let(f"rate_others_{key}", _queue.others_quantile(others, slots, share, z))
        toward_b = where(span > 0.0, (q - others) / where(span > 0.0, span, 1.0), 0.0)
        tpot_p[key] = let(f"rate_tpot_{key}", where(ok, pass_speed.tpot + (sp.tpot - pass_speed.tpot) * toward_b,
                                                     np.nan))
        ttft_p[key] = let(f"rate_ttft_{key}", pass_speed.ttft + (sp.ttft - pass_speed.ttft) * toward_b
                          + _queue.wait_quantile_s(p_wait, lam, served, share))
    return Rate(served=where(serving, served, np.nan), utilization=where(serving, rho, np.nan),
                concurrency=let("rate_concurrency", lam * (wait + pass_speed.busy)), wait=wait,
                ttft=let("rate_ttft", pass_speed.ttft + wait), tpot=where(ok, pass_speed.tpot, np.nan),
                ttft_p=ttft_p, tpot_p=tpot_p)


@dataclass(frozen=True)
class Costs:
    token_cost: Any
    infra: Any
    per_request: Any
    per_mtok: Any
    deployment: Any
    capacity: Any
    replicas: Any
    paid: Any
    monthly: Any
    effective: Any
    rented: Any   # the fleet at the catalog's rental price of the tier, a month
    owned: Any    # the fleet as owned hardware, a month


def api_token_cost(s: Scenario, let: Let = keep) -> Any:
    """USD a request's tokens cost at the API model's prices (0 for a self-hosted model)."""
    return let("token_cost", where(s.is_api, _cost.token_cost_usd(
        s.prompt, s.cached, s.output, s.input_price, s.cached_price, s.output_price), 0.0))


def costs(s: Scenario, sp: Speed, gpus: Any, let: Let = keep, c: Assumptions = ASSUMPTIONS) -> Costs:
    """What a request costs, what a deployment costs a month, and what the month's traffic costs."""
    token_cost = api_token_cost(s, let)
    infra = let("infra", where(s.has_hw, _cost.infra_cost_usd(gpus, s.price, sp.busy, s.sequences, s.util),
                                  where(s.is_api, 0.0, np.nan)))
    per_request = let("per_request", token_cost + infra)
    # always-on replicas price self-hosted models only; an API model is paid per request (its
    # tokens, and the GPU time of the caller's own device where one is given)
    hosted = let("hosted", s.has_hw & ~s.is_api)
    deployment = let("deployment", where(hosted, _cost.fixed_monthly_usd(gpus, s.price, c.hours_per_month), np.nan))
    capacity = let("capacity", where(hosted, _cost.capacity_requests_per_month(
        s.sequences, sp.busy, s.util, c.hours_per_month), np.nan))
    replicas = let("replicas", where(hosted & given(s.requests),
                                        _cost.replicas_needed(s.requests, capacity, s.peak_ratio, s.spares), np.nan))
    # replicas paid for: those the peak needs, all day; with autoscale, rented ones follow the day
    # (owned hardware and reserved capacity are paid for whether they run or not). The rented fleet is
    # also the quote's Rent column, whatever the scenario's pricing
    serving = hosted & given(s.requests)
    rented_replicas = let("rented_replicas", where(serving, _cost.paid_replicas(
        s.requests, capacity, s.peak_ratio, s.spares, s.autoscaled, s.peak_hours), np.nan))
    paid = let("paid", where(s.owned, replicas, rented_replicas))
    monthly = let("monthly", where(s.is_api, s.requests * per_request, s.requests * token_cost
                                      + paid * deployment))
    # the same fleet rented at the catalog's price of the tier (following the day with autoscale), and
    # owned (paid all day), whatever the scenario's own pricing: the quote's own / rent / API columns
    rented = let("rented", rented_replicas * _cost.fixed_monthly_usd(gpus, s.rental, c.hours_per_month))
    bought = let("owned_monthly", where(serving, replicas * _cost.fixed_monthly_usd(gpus, s.own_price, c.hours_per_month),
                                       np.nan))
    # what a request costs with the idle time of always-on replicas: the month over its requests
    effective = where(s.requests > 0, monthly / where(s.requests > 0, s.requests, 1.0), np.nan)
    return Costs(token_cost=token_cost, infra=infra, per_request=per_request,
                 per_mtok=_cost.cost_per_mtok_usd(per_request, s.output), deployment=deployment, capacity=capacity,
                 replicas=replicas, paid=paid, monthly=monthly, effective=effective, rented=rented, owned=bought)


#: The request-rate view's outputs (``at_rate``): NaN unless requests_per_s is given.
RATE_KEYS = ("served_requests_per_s", "utilization_at_rate", "concurrency_at_rate", "queue_wait_s", "ttft_at_rate_s",
             "ttft_at_rate_p90_s", "ttft_at_rate_p99_s", "tpot_at_rate_s", "tpot_at_rate_p90_s", "tpot_at_rate_p99_s")


def bands(s: Scenario, sp: Speed, co: Costs, gpus: Any, let: Let = keep,
          c: Assumptions = ASSUMPTIONS) -> dict[str, Any]:
    """P10 and P90 of TTFT, TPOT, throughput and the costs that follow from them.

    Each engine stores, per metric, the 10th and 90th percentiles of measured / estimated over
    published measurements (engines.toml ``*_ratio_p10`` / ``*_ratio_p90``, written by
    benchmarks/fit_bands.py): a band is the estimate times those ratios. The costs follow the
    throughput's band: a deployment r times as fast is busy 1/r as long per request (GPU time) and
    serves r times the requests (fewer replicas), so the low cost (P10) is the fast side (the
    throughput's P90) and the high cost (P90) the slow side. API models: no speed band (the
    provider's published figures), and their cost is the price list's; a latency given as an
    input fixes the busy time, so the costs have no band either.
    """
    fixed = s.is_api | given(s.latency_given)
    out = {}
    for p in ("p10", "p90"):
        ttft_r = getattr(s, f"ttft_ratio_{p}")
        tpot_r = getattr(s, f"tpot_ratio_{p}")
        out[f"ttft_s_{p}"] = let(f"ttft_{p}", where(s.is_api, np.nan, sp.ttft * ttft_r))
        out[f"tpot_s_{p}"] = let(f"tpot_{p}", where(s.is_api, np.nan, sp.tpot * tpot_r))
        out[f"throughput_tokens_per_s_{p}"] = let(f"throughput_{p}", where(
            s.is_api, np.nan, sp.throughput * where(given(s.latency_given), 1.0, getattr(s, f"throughput_ratio_{p}"))))
    for p, q in (("p10", "p90"), ("p90", "p10")):  # a cost's low side is the throughput's high side
        speedup = let(f"speedup_{p}", where(fixed, 1.0, getattr(s, f"throughput_ratio_{q}")))
        per_request = let(f"per_request_{p}", co.token_cost + co.infra / speedup)
        capacity = let(f"capacity_{p}", co.capacity * speedup)
        serving = ~s.is_api & s.has_hw & given(s.requests)
        replicas = let(f"replicas_{p}", where(serving, _cost.replicas_needed(s.requests, capacity, s.peak_ratio,
                                                                                s.spares), np.nan))
        rented = _cost.paid_replicas(s.requests, capacity, s.peak_ratio, s.spares, s.autoscaled, s.peak_hours)
        paid = let(f"paid_{p}", where(serving, where(s.owned, replicas, rented), np.nan))
        out[f"cost_per_mtok_usd_{p}"] = let(f"per_mtok_{p}", _cost.cost_per_mtok_usd(per_request, s.output))
        out[f"monthly_cost_usd_{p}"] = let(f"monthly_{p}", where(s.is_api, s.requests * per_request,
                                                                    s.requests * co.token_cost + paid * co.deployment))
    return out


#: The band outputs (``bands``), in display order.
BAND_KEYS = tuple(f"{key}_{p}" for key in ("ttft_s", "tpot_s", "throughput_tokens_per_s", "cost_per_mtok_usd",
                                           "monthly_cost_usd") for p in ("p10", "p90"))

#: What a deployment that does not fit cannot have: it cannot run, so no speed and no cost.
NOT_RUNNING_KEYS = (
    "ttft_s", "tpot_s", "latency_s", "prefill_tokens_per_s", "decode_tokens_per_s", "throughput_tokens_per_s",
    "infra_cost_usd", "cost_per_request_usd", "cost_per_mtok_usd", "deployment_usd_per_month",
    "capacity_requests_per_month", "replicas_needed", "average_replicas", "monthly_cost_usd",
    "effective_cost_per_request_usd", "rented_monthly_cost_usd", "owned_monthly_cost_usd",
) + RATE_KEYS + BAND_KEYS


def fits(m: Memory) -> Any:
    return m.total <= m.usable


def cannot_run(s: Scenario, m: Memory) -> Any:
    """A self-hosted deployment that does not fit: it has no speed and no cost (``NOT_RUNNING_KEYS``)."""
    return ~(s.is_api | ~s.has_hw) & ~fits(m)


def outputs(s: Scenario, w: Weights, m: Memory, max_batch: Any, gpus_needed: Any, sp: Speed,
            co: Costs, r: Rate, band: dict[str, Any] | None = None, stopped_are_nan: bool = False) -> dict[str, Any]:
    """Every output (NaN where it does not apply: memory of API models, fit and speed without
    hardware, and speed and cost of a deployment that does not fit). ``stopped_are_nan``: the
    caller computed speed and costs on the rows that can run alone, NaN on the others, so that
    they need no masking here."""
    na_mem = s.is_api
    na_fit = s.is_api | ~s.has_hw
    nan = np.nan
    out = {
        # held over all GPUs: attention data-parallel ranks each hold a copy of all but the routed experts
        "weights_gib": where(na_mem, nan, m.held / BYTES_PER_GIB),
        "kv_cache_gib": where(na_mem, nan, m.kv_total / BYTES_PER_GIB),
        "activations_gib": where(na_mem, nan, m.act / BYTES_PER_GIB),
        "overhead_gib": where(na_mem, nan, m.ovh / BYTES_PER_GIB),
        "total_memory_gib": where(na_mem, nan, m.total / BYTES_PER_GIB),
        "usable_memory_gib": where(na_fit, nan, m.usable / BYTES_PER_GIB),
        "fits": where(na_fit, nan, fits(m)),
        "gpus_needed": where(na_fit, nan, gpus_needed),
        "max_batch": where(na_fit, nan, max_batch),
        "ttft_s": sp.ttft, "tpot_s": sp.tpot, "latency_s": sp.latency,
        "prefill_tokens_per_s": sp.prefill_rate, "decode_tokens_per_s": sp.decode_rate,
        "throughput_tokens_per_s": sp.throughput,
        "token_cost_usd": co.token_cost, "infra_cost_usd": co.infra, "cost_per_request_usd": co.per_request,
        "cost_per_mtok_usd": co.per_mtok, "deployment_usd_per_month": co.deployment,
        "capacity_requests_per_month": co.capacity, "replicas_needed": co.replicas, "average_replicas": co.paid,
        "monthly_cost_usd": co.monthly, "effective_cost_per_request_usd": co.effective,
        "rented_monthly_cost_usd": co.rented, "owned_monthly_cost_usd": co.owned,
        "served_requests_per_s": r.served, "utilization_at_rate": r.utilization,
        "concurrency_at_rate": r.concurrency, "queue_wait_s": r.wait, "ttft_at_rate_s": r.ttft,
        "ttft_at_rate_p90_s": r.ttft_p["p90"], "ttft_at_rate_p99_s": r.ttft_p["p99"], "tpot_at_rate_s": r.tpot,
        "tpot_at_rate_p90_s": r.tpot_p["p90"], "tpot_at_rate_p99_s": r.tpot_p["p99"],
        **(band or {}),
    }
    # a self-hosted deployment that does not fit cannot run: no speed, no cost (even with latency_s given)
    # (the rate view and the bands run on every row: their keys are masked even when speed and costs were not)
    stopped = cannot_run(s, m)
    for key in RATE_KEYS + BAND_KEYS if stopped_are_nan else NOT_RUNNING_KEYS:
        if key in out:
            out[key] = where(stopped, nan, out[key])
    return out


#: What each named quantity is (the Calc sheet's headers).
LABELS = {
    "prompt": "Input tokens", "output": "Output tokens", "context": "Context tokens",
    "is_api": "API model?", "has_hw": "Hardware given?", "custom_only": "Device described by its numbers?",
    "is_cuda": "CUDA-class GPU?", "sequences": "Batch typed (1 for max)", "batch_max": "Batch max?",
    "batch_cap": "Engine's cap on sequences at once", "served_batch": "Batch (sequences at once)", "cached": "Cached input tokens",
    "latency_given": "Latency s given", "requests": "Requests per month", "util": "Utilization",
    "peak_ratio": "Peak to average", "spares": "Spare replicas",
    "autoscaled": "Autoscale?", "peak_hours": "Peak hours a day",
    "rental": "Rental USD per GPU-hour (tier, provider)", "capex": "Capex USD per GPU", "power_w": "Power W per GPU", "owned": "Priced as owned?",
    "own_capital": "Owned: capital USD per GPU-hour", "own_power": "Owned: power USD per GPU-hour",
    "own_hosting": "Owned: hosting USD per GPU-hour", "own_maintenance": "Owned: maintenance USD per GPU-hour",
    "own_price": "Owned: USD per GPU-hour", "years": "Depreciation years", "residual": "Residual share",
    "rate": "Cost of capital a year", "pue_ratio": "PUE", "electricity": "Electricity USD per kWh",
    "hosting_rate": "Hosting USD per kW-month", "upkeep": "Maintenance share a year",
    "params": "Parameters", "active": "Active parameters", "layers": "Layers", "hidden": "Hidden size",
    "heads": "Query heads", "kv_heads": "KV heads", "head_dim": "Head dim", "vocab": "Vocabulary",
    "tie": "Tied embeddings?", "experts": "Routed experts", "k_active": "Experts per token",
    "shared_experts": "Shared experts", "window": "Sliding window tokens", "window_layers": "Sliding-window layers",
    "lora": "MLA kv_lora_rank", "rope": "MLA rope dim", "ffn": "Intermediate size",
    "bits": "Bits per weight", "emb_bits": "Embedding bits", "out_bits": "Output bits", "v_bits": "attn_v bits",
    "down_bits": "ffn_down bits", "o_bits": "attn_output bits", "up_share": "Upgraded layer share",
    "gguf": "GGUF weights?", "kv_bytes": "KV bytes per value", "experts_only": "Precision covers experts only?",
    "attention_kept": "Precision covers all but attention?", "attn_params": "Attention parameters",
    "kept_params": "Body parameters kept at 16 bits",
    "tensor": "Tensor parallel?", "rule_free": "KV from free memory?", "fraction": "Memory fraction",
    "block": "KV block tokens", "max_tokens": "Max batched tokens", "engine_overhead": "Engine overhead GiB/GPU",
    "window_saves": "Window frees memory?", "mfu_prefill": "Prefill MFU", "mfu_decode": "Decode MFU",
    "engine_mbu": "Engine's decode MBU on the device", "stream_share": "Decode MBU under the engine's bandwidth cap",
    "mbu_decode": "Decode MBU", "mbu_attention": "Decode attention MBU", "half_tokens": "Half-efficiency tokens", "prefill_fixed": "Prefill fixed s",
    "step_fixed": "Decode fixed s per step", "cpu_floor": "CPU floor s per step",
    "continuous": "Continuous batching?", "dequantizes": "Dequantises GGUF for prefill?",
    "wait_steps": "Steps a new request waits under load", "wave_share": "Share of a wave waited behind",
    "loaded_prefill": "Prefill under load / lone prefill",
    "mem_gib": "Memory GiB per GPU", "mem_fraction": "Allocatable share", "bandwidth": "Bandwidth B/s",
    "peak": "Peak FLOP/s per GPU", "link": "Link B/s", "collective_share": "Share of the link the collectives reach", "price": "USD per GPU-hour",
    "api_ttft": "API TTFT s", "api_tokens_per_s": "API output tokens/s", "input_price": "API input USD/Mtok",
    "cached_price": "API cached input USD/Mtok", "output_price": "API output USD/Mtok",
    "emb": "Embedding parameters", "out_p": "Output parameters", "s_v": "attn_v share", "s_down": "ffn_down share",
    "s_o": "attn_output share", "body_bits": "Body bits per weight", "weights": "Weights B",
    "expert_share": "Active expert share", "expert_params": "Routed expert parameters",
    "expert_bytes": "Routed expert B", "dense_read": "Weights read per step B",
    "linear": "Matmul parameters per token", "expert_linear": "Expert parameters per token",
    "full_held": "Tokens held (full layers)", "has_window": "Window layers hold less?",
    "win_held": "Tokens held (window layers)", "swa_layers": "Layers holding the window",
    "pass_tokens": "Tokens per pass", "attn_tp": "Tensor-parallel GPUs per attention rank",
    "tp_set": "Tensor parallel (tp) given", "dp_ranks": "Attention data-parallel ranks (dp)",
    "ep_groups": "Expert-parallel degree (ep)", "width": "GPUs running a step side by side", "ranks": "Attention ranks",
    "weights_held": "Weights held over all GPUs B", "domain": "GPUs per NVLink domain (0: not stated)",
    "scale_out": "Link between nodes B/s per GPU", "heads_stored": "KV heads held",
    "per_tok_layer": "KV B per token per layer", "per_tok_full": "KV B per token per full-attention layer",
    "kv_read": "KV B read per sequence a step", "csa_layers": "Compressed sparse attention layers",
    "csa_tokens": "Tokens per CSA entry", "hca_layers": "Heavily compressed layers", "hca_tokens": "Tokens per HCA entry",
    "csa_held": "CSA entries held per layer", "hca_held": "HCA entries held per layer", "global_kv_heads": "KV heads of full-attention layers",
    "global_head_dim": "Head dim of full-attention layers", "kv_seq": "KV B per sequence", "kv_total": "KV cache B",
    "act_factor": "Activation factor c(TP)", "act": "Activations B", "ovh": "Overhead B",
    "device": "Device memory B", "static": "Weights + activations + overhead B", "usable": "Usable B",
    "total": "Total B", "act_tok": "Activation B per token", "p_seq": "B per sequence",
    "q_tok": "B per prompt token", "budget": "Budget B", "max_batch": "Largest batch",
    "bw_eff": "Bandwidth B/s (all GPUs)", "flops_eff": "GEMM peak FLOP/s (all GPUs, format's share)",
    "attn_flops_eff": "Attention peak FLOP/s (all GPUs)", "gemm_bw_eff": "GEMM weight streaming B/s (all GPUs)",
    "peak_attention": "Attention peak FLOP/s per GPU", "gemm_factor": "GEMM efficiency of the format",
    "head_flops": "lm_head FLOPs per token", "kv_token_all_layers": "KV B per token",
    "attn_flops_prompt": "Prompt attention FLOPs",
    "pf_tokens_1": "Prefill tokens (one prompt)", "pf_rows_1": "Tokens per matrix product (one prompt)",
    "pf_compute_1": "Prefill arithmetic s (one prompt)", "pf_moved_1": "Prefill bytes moved (one prompt)",
    "pf_dequant_1": "GGUF dequantisation s (one prompt)", "prefill_s_1": "Prefill s (one prompt)",
    "pf_tokens_b": "Prefill tokens (batch)", "pf_rows_b": "Tokens per matrix product (batch)",
    "pf_compute_b": "Prefill arithmetic s (batch)", "pf_moved_b": "Prefill bytes moved (batch)",
    "pf_dequant_b": "GGUF dequantisation s (batch)", "prefill_s_b": "Prefill s (batch)",
    "mean_ctx": "Mean context", "attn_ctx": "Attended tokens x layers",
    "dec_gemm_bytes": "Decode weights read per step B", "dec_gemm_flops": "Decode GEMM FLOPs per step",
    "dec_attn_bytes": "Decode KV read per step B", "dec_attn_flops": "Decode attention FLOPs per step",
    "dec_gemm_s": "Decode GEMMs s per step", "dec_attn_s": "Decode attention s per step", "tpot_core": "Decode s per step (own hardware)",
    "other_clients": "Other requests in flight", "cycle_steps": "Steps of a client's cycle", "joining_prompts": "Prompts joining a decode step",
    "prompt_comm_s": "A joining prompt's collectives traffic s", "prompt_step_s": "What a joining prompt adds to a step s",
    "tpot_loaded": "Decode s per step with prompts joining", "prompt_steps": "Steps a prompt takes",
    "prompts_ahead": "Prompts ahead in a wave", "wave_wait_s": "Wait behind a wave's prompts s",
    "under_load": "Others in flight?", "ttft_loaded": "TTFT s under load",
    "ttft": "TTFT s", "tpot": "TPOT s", "steps": "Decode steps after the first token", "latency": "Latency s",
    "busy": "Busy s per batch", "token_cost": "API token USD", "infra": "GPU time USD",
    "per_request": "Cost per request USD", "hosted": "Self-hosted model on a device?",
    "deployment": "Deployment USD per month", "capacity": "Requests per month capacity", "replicas": "Replicas", "paid": "Replicas paid for on average", "rented_replicas": "Replicas paid for on average, rented",
    "rented": "Rented fleet USD per month", "owned_monthly": "Owned fleet USD per month",
    "monthly": "Monthly USD",
    "arrivals": "Requests per second at one deployment", "rate_given": "Rate view?",
    "rate_served": "Requests/s served, all slots busy", "rate_rho": "Utilisation at the rate",
    "rate_n1": "Concurrency, pass 1", "rate_n2": "Concurrency, pass 2", "rate_p_wait": "Probability of waiting (Erlang C)",
    "rate_wait_s": "Mean queue wait s", "rate_others_p90": "Others in service, p90",
    "rate_others_p99": "Others in service, p99", "rate_tpot_p90": "TPOT at the rate, p90 s", "rate_tpot_p99": "TPOT at the rate, p99 s",
    "rate_ttft_p90": "TTFT at the rate, p90 s", "rate_ttft_p99": "TTFT at the rate, p99 s", "rate_concurrency": "Requests in flight at the rate",
    "rate_ttft": "TTFT at the rate s",
    "ttft_ratio_p10": "TTFT measured / estimated, P10", "ttft_ratio_p90": "TTFT measured / estimated, P90",
    "tpot_ratio_p10": "TPOT measured / estimated, P10", "tpot_ratio_p90": "TPOT measured / estimated, P90",
    "throughput_ratio_p10": "Throughput measured / estimated, P10",
    "throughput_ratio_p90": "Throughput measured / estimated, P90",
    "ttft_p10": "TTFT s, P10", "ttft_p90": "TTFT s, P90", "tpot_p10": "TPOT s, P10", "tpot_p90": "TPOT s, P90",
    "throughput_p10": "Throughput tokens/s, P10", "throughput_p90": "Throughput tokens/s, P90",
    "speedup_p10": "Speed over the estimate, low-cost side", "speedup_p90": "Speed over the estimate, high-cost side",
    "per_request_p10": "Cost per request USD, P10", "per_request_p90": "Cost per request USD, P90",
    "capacity_p10": "Requests per month capacity, low-cost side",
    "capacity_p90": "Requests per month capacity, high-cost side",
    "replicas_p10": "Replicas, low-cost side", "replicas_p90": "Replicas, high-cost side",
    "paid_p10": "Replicas paid for on average, low-cost side", "paid_p90": "Replicas paid for on average, high-cost side",
    "per_mtok_p10": "USD per million output tokens, P10", "per_mtok_p90": "USD per million output tokens, P90",
    "monthly_p10": "Monthly USD, P10", "monthly_p90": "Monthly USD, P90",
}
