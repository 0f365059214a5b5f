"""A Hugging Face ``config.json`` as a model catalog entry, with the exact parameter count.

Pure: a config dict in, a dict of catalog fields out; no network, no torch. The count is what
the checkpoint stores for the language model: embeddings (and the output layer unless tied),
attention (MLA projections, q/k norms, biases, sinks, DeepSeek's sparse-attention indexer),
the dense MLP, MoE routed and shared experts with their router (and its score-correction bias,
which checkpoints store), Gated DeltaNet and Mamba2 mixers, and every norm. Left out, as the
catalog header says: DeepSeek-style multi-token-prediction layers (``num_nextn_predict_layers``,
``mtp_*``), the vision or audio encoder of a multimodal model (its ``text_config`` is what is
counted), and non-trainable buffers such as rotary frequencies.

Each architecture was checked against the reference implementation (Hugging Face transformers
5.24.0, every model built on the meta device and its parameters summed); tests compare the counts
with the totals the publishers state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidValueError

#: model_type (of the text model) -> family name in the catalog
FAMILIES = {
    "llama": "llama", "mistral": "mistral", "mixtral": "mistral", "qwen2": "qwen", "qwen3": "qwen",
    "qwen3_moe": "qwen", "qwen3_vl_text": "qwen", "qwen3_vl_moe_text": "qwen", "qwen3_5_text": "qwen",
    "qwen3_5_moe_text": "qwen", "gpt_oss": "gpt-oss", "deepseek_v3": "deepseek", "deepseek_v32": "deepseek",
    "kimi_k2": "kimi", "glm_moe_dsa": "glm", "llama4_text": "llama", "minimax_m2": "minimax",
    "nemotron_h": "nemotron",
}


@dataclass(frozen=True)
class ParameterCount:
    """Parameters of a language model, counted from its config."""

    total: int
    routed_experts: int      # all routed-expert weights (every MoE layer, every expert)
    experts: int             # routed experts per MoE layer
    experts_per_token: int
    attention: int = 0       # the attention blocks of every layer (self_attn: projections, their norms, any
                             # indexer; linear-attention and Mamba2 mixers too): what an NVFP4 checkpoint
                             # that excludes self_attn* keeps at 16 bits

    @property
    def active(self) -> int:
        """Parameters one token passes through: all but the routed experts it is not sent to."""
        if not self.experts:
            return self.total
        idle = self.routed_experts * (self.experts - self.experts_per_token) // self.experts
        return self.total - idle


def _text(config: dict) -> dict:
    """The language model's config: ``text_config`` of a multimodal model (the outer keys fill gaps)."""
    if not isinstance(config, dict):
        raise InvalidValueError("config.json must hold a JSON object (a Hugging Face model config).")
    inner = config.get("text_config")
    if isinstance(inner, dict):
        merged = {k: v for k, v in config.items() if k not in ("text_config", "vision_config", "audio_config")}
        merged.update({k: v for k, v in inner.items() if v is not None or k not in merged})
        merged["_outer_model_type"] = config.get("model_type")
        if "tie_word_embeddings" in config and "tie_word_embeddings" not in inner:
            merged["tie_word_embeddings"] = config["tie_word_embeddings"]
        return merged
    return dict(config)


def _model_type(cfg: dict) -> str:
    mt = str(cfg.get("model_type") or "")
    if mt in ("qwen3_vl", "qwen3_vl_moe", "qwen3_5", "qwen3_5_moe", "llama4"):
        mt += "_text"
    if mt == "kimi_k25":
        mt = "kimi_k2"
    return mt


def _need(cfg: dict, key: str, *alts: str) -> int:
    for k in (key, *alts):
        v = cfg.get(k)
        if isinstance(v, bool):
            continue
        if isinstance(v, int) and v >= 0:
            return v
        if isinstance(v, float) and v.is_integer() and v >= 0:
            return int(v)
    raise InvalidValueError(f"config.json has no usable '{key}' (a whole number >= 0 is needed for this "
                            f"{cfg.get('model_type') or 'model'} architecture). Check that it is the model's own "
                            "config.json.")


def _get(cfg: dict, key: str, default: int) -> int:
    v = cfg.get(key)
    if v is None or isinstance(v, bool):
        return default
    return _need(cfg, key)


def _flag(cfg: dict, key: str, default: bool = False) -> bool:
    v = cfg.get(key, default)
    return default if v is None else bool(v)


# --- building blocks (parameter counts) ---------------------------------------------------------

def _linear(n_in: int, n_out: int, bias: bool = False) -> int:
    return n_in * n_out + (n_out if bias else 0)


def _gqa(h: int, nq: int, nkv: int, d: int, *, bias: bool = False, o_bias: bool | None = None,
         qk_norm: str = "", sinks: bool = False, output_gate: bool = False, v_dim: int | None = None) -> int:
    """Grouped-query attention: q, k, v, o projections; q/k norms per head ("head") or over all heads
    ("layer"); learned sinks; Qwen3.5's output gate (the q projection twice as wide)."""
    dv = d if v_dim is None else v_dim
    o_bias = bias if o_bias is None else o_bias
    n = _linear(h, nq * d * (2 if output_gate else 1), bias) + _linear(h, nkv * d, bias) + _linear(h, nkv * dv, bias)
    n += _linear(nq * dv, h, o_bias)
    if qk_norm == "head":
        n += 2 * d
    elif qk_norm == "layer":
        n += nq * d + nkv * d
    return n + (nq if sinks else 0)


def _mla(cfg: dict, h: int) -> int:
    """DeepSeek multi-head latent attention (q LoRA optional), with its two latent norms."""
    nq = _need(cfg, "num_attention_heads")
    nope, rope, dv = _need(cfg, "qk_nope_head_dim"), _need(cfg, "qk_rope_head_dim"), _need(cfg, "v_head_dim")
    r_kv = _need(cfg, "kv_lora_rank")
    r_q = cfg.get("q_lora_rank")
    bias = _flag(cfg, "attention_bias")
    if r_q:
        n = _linear(h, r_q, bias) + r_q + _linear(r_q, nq * (nope + rope))
    else:
        n = _linear(h, nq * (nope + rope))
    n += _linear(h, r_kv + rope, bias) + r_kv + _linear(r_kv, nq * (nope + dv))
    return n + _linear(nq * dv, h, bias)


def _indexer(cfg: dict, h: int) -> int:
    """DeepSeek sparse attention's lightning indexer: wq_b, wk, a LayerNorm with bias, weights_proj."""
    n_heads, d = _need(cfg, "index_n_heads"), _need(cfg, "index_head_dim")
    r_q = _need(cfg, "q_lora_rank")
    return _linear(r_q, n_heads * d) + _linear(h, d) + 2 * d + _linear(h, n_heads)


def _gated_mlp(h: int, i: int, bias: bool = False) -> int:
    return 2 * _linear(h, i, bias) + _linear(i, h, bias)


def _gated_delta_net(cfg: dict, h: int) -> tuple[int, int]:
    """Qwen3.5 / Qwen3-Next Gated DeltaNet: (parameters, state elements per sequence).

    State: the recurrent matrix per value head (key_dim x value_dim) plus the short convolution's
    last kernel-1 inputs of the q, k and v channels."""
    nk, nv = _need(cfg, "linear_num_key_heads"), _need(cfg, "linear_num_value_heads")
    dk, dv = _need(cfg, "linear_key_head_dim"), _need(cfg, "linear_value_head_dim")
    kernel = _need(cfg, "linear_conv_kernel_dim")
    key_dim, value_dim = nk * dk, nv * dv
    conv_dim = 2 * key_dim + value_dim
    n = _linear(h, conv_dim) + _linear(h, value_dim) + 2 * _linear(h, nv)   # in_proj_qkv, z, b, a
    n += conv_dim * kernel + 2 * nv + dv + _linear(value_dim, h)           # conv1d, dt_bias, A_log, norm, out
    state = nv * dk * dv + (kernel - 1) * conv_dim
    return n, state


def _mamba2(cfg: dict, h: int) -> tuple[int, int]:
    """Nemotron-H Mamba2 mixer: (parameters, state elements per sequence).

    State: heads x head_dim x ssm_state_size, plus the convolution's last kernel-1 inputs of the
    x, B and C channels."""
    heads, hd = _need(cfg, "mamba_num_heads"), _need(cfg, "mamba_head_dim")
    ngroups, state_size = _need(cfg, "n_groups"), _need(cfg, "ssm_state_size")
    kernel = _need(cfg, "conv_kernel")
    inner = heads * hd
    conv_dim = inner + 2 * ngroups * state_size
    bias = _flag(cfg, "use_bias")
    n = _linear(h, inner + conv_dim + heads, bias) + conv_dim * kernel + (conv_dim if _flag(cfg, "use_conv_bias", True) else 0)
    n += 3 * heads + inner + _linear(inner, h, bias)                       # dt_bias, A_log, D, norm, out_proj
    return n, heads * hd * state_size + (kernel - 1) * conv_dim


# --- per architecture ------------------------------------------------------------------------------

@dataclass
class _Shape:
    """What the catalog entry needs besides the counts."""

    layers: int
    sliding_layers: int = 0
    sliding_window: int = 0
    chunked_layers: int = 0
    chunk_tokens: int = 0
    linear_layers: int = 0
    linear_state: int = 0
    mlp_only_layers: int = 0
    head_dim: int = 0
    kv_heads: int = 0
    heads: int = 0
    intermediate_size: int = 0
    experts: int = 0
    experts_per_token: int = 0
    shared_experts: int = 0


def _moe_pattern(cfg: dict, layers: int) -> list[bool]:
    """Which layers are MoE: mlp_layer_types, mlp_only_layers, first_k_dense_replace, moe_layer_freq
    (a step or a per-layer list), decoder_sparse_step, interleave_moe_layer_step."""
    types = cfg.get("mlp_layer_types")
    if isinstance(types, list) and len(types) == layers:
        return [t == "sparse" for t in types]
    freq = cfg.get("moe_layer_freq")
    if isinstance(freq, list) and len(freq) == layers:
        return [bool(f) for f in freq]
    first_dense = _get(cfg, "first_k_dense_replace", 0)
    step = _get(cfg, "moe_layer_freq", 1) or 1
    sparse_step = _get(cfg, "decoder_sparse_step", 1) or 1
    dense_only = set(cfg.get("mlp_only_layers") or [])
    out = []
    for i in range(layers):
        moe = i >= first_dense and (i - first_dense) % step == 0 and (i + 1) % sparse_step == 0 and i not in dense_only
        out.append(moe)
    return out


def _count(cfg: dict) -> tuple[ParameterCount, _Shape]:
    mt = _model_type(cfg)
    if mt not in FAMILIES:
        known = ", ".join(sorted({k.removesuffix("_text") for k in FAMILIES} | {"kimi_k25"}))
        given = cfg.get("_outer_model_type") or cfg.get("model_type")
        raise InvalidValueError(f"model_type '{given}' is not an architecture add-model can count (it counts: "
                                f"{known}). Write the entry by hand from the model card, in the format of the "
                                "models.toml header.")
    h = _need(cfg, "hidden_size")
    vocab = _need(cfg, "vocab_size")
    if mt == "nemotron_h":
        _nemotron_pattern(cfg)
    layers = _need(cfg, "num_hidden_layers")
    tied = _flag(cfg, "tie_word_embeddings")
    nq = _need(cfg, "num_attention_heads")
    nkv = _get(cfg, "num_key_value_heads", nq)
    d = _get(cfg, "head_dim", h // nq if nq else 0) or h // nq
    total = vocab * h * (1 if tied else 2) + h   # embeddings, output layer, final norm
    shape = _Shape(layers=layers, heads=nq, kv_heads=nkv, head_dim=d)
    routed = attention = 0

    experts = _get(cfg, "n_routed_experts", 0) or _get(cfg, "num_local_experts", 0) or _get(cfg, "num_experts", 0)
    top_k = _get(cfg, "num_experts_per_tok", 0) if experts else 0
    shape.experts, shape.experts_per_token = experts, top_k
    moe_i = _get(cfg, "moe_intermediate_size", 0) or _get(cfg, "intermediate_size", 0)

    if mt == "nemotron_h":
        pattern = str(cfg.get("hybrid_override_pattern") or "")
        if len(pattern) != layers or set(pattern) - set("M*-E"):
            raise InvalidValueError(f"hybrid_override_pattern '{pattern[:80]}' must have one of M, *, -, E for each "
                                    f"of the {layers} layers. Check the config.json.")
        mamba_n, state = _mamba2(cfg, h)
        latent = _get(cfg, "moe_latent_size", 0)
        e_in = latent or h
        shared_i = _get(cfg, "moe_shared_expert_intermediate_size", 0)
        bias = _flag(cfg, "mlp_bias")
        for block in pattern:
            total += h  # the block's norm
            if block == "M":
                total += mamba_n
                attention += mamba_n
            elif block == "*":
                total += _gqa(h, nq, nkv, d)
                attention += _gqa(h, nq, nkv, d)
            elif block == "-":
                i = _need(cfg, "intermediate_size")
                total += _linear(h, i, bias) + _linear(i, h, bias)  # relu2 MLP: up, down (no gate)
            else:
                per = 2 * e_in * moe_i
                routed += experts * per
                total += experts * per + experts * h + experts   # experts, router, score-correction bias
                total += _linear(h, shared_i, bias) + _linear(shared_i, h, bias)
                if latent:
                    total += _linear(h, latent, bias) + _linear(latent, h, bias)
        shape.linear_layers, shape.linear_state = pattern.count("M"), state
        shape.mlp_only_layers = pattern.count("-") + pattern.count("E")
        shape.intermediate_size = moe_i
        shape.shared_experts = _get(cfg, "n_shared_experts", 1 if shared_i else 0)
        return ParameterCount(total, routed, experts, top_k, attention), shape

    moe_layers = _moe_pattern(cfg, layers) if experts else [False] * layers
    if mt == "llama4_text":
        step = _get(cfg, "interleave_moe_layer_step", 1) or 1
        moe_ids: list[int] = list(cfg.get("moe_layers") or []) or list(range(step - 1, layers, step))
        moe_layers = [i in moe_ids for i in range(layers)]
    dense_i = _get(cfg, "intermediate_size", 0)
    if mt == "llama4_text":
        dense_i = _get(cfg, "intermediate_size_mlp", dense_i)

    layer_types = cfg.get("layer_types") if isinstance(cfg.get("layer_types"), list) else None
    if layer_types is not None and len(layer_types) != layers:
        raise InvalidValueError(f"layer_types has {len(layer_types)} entries for {layers} layers. Check the config.json.")

    shared_n = 0
    for i in range(layers):
        kind = layer_types[i] if layer_types else "full_attention"
        total += 2 * h  # input and post-attention norms
        before = total
        # mixer
        if mt in ("deepseek_v3", "deepseek_v32", "kimi_k2", "glm_moe_dsa"):
            total += _mla(cfg, h)
            if mt in ("deepseek_v32", "glm_moe_dsa"):
                indexer_types = cfg.get("indexer_types")
                if not (isinstance(indexer_types, list) and len(indexer_types) == layers):
                    indexer_types = _glm_indexer_types(cfg, layers) if mt == "glm_moe_dsa" else ["full"] * layers
                if indexer_types[i] == "full":
                    total += _indexer(cfg, h)
        elif kind == "linear_attention":
            n, state = _gated_delta_net(cfg, h)
            total += n
            shape.linear_layers += 1
            shape.linear_state = state
        else:
            qk_norm = ""
            if mt in ("qwen3", "qwen3_moe", "qwen3_vl_text", "qwen3_vl_moe_text", "qwen3_5_text", "qwen3_5_moe_text"):
                qk_norm = "head"
            elif mt == "minimax_m2" and _flag(cfg, "use_qk_norm"):
                qk_norm = "layer" if cfg.get("qk_norm_type", "per_layer") == "per_layer" else "head"
            bias = _flag(cfg, "attention_bias") or mt == "qwen2"
            o_bias = _flag(cfg, "attention_bias") if mt != "qwen2" else False
            total += _gqa(h, nq, nkv, d, bias=bias, o_bias=o_bias, qk_norm=qk_norm, sinks=mt == "gpt_oss",
                          output_gate=_flag(cfg, "attn_output_gate"))
            if kind == "sliding_attention":
                shape.sliding_layers += 1
                shape.sliding_window = _need(cfg, "sliding_window")
            elif kind == "chunked_attention":
                shape.chunked_layers += 1
                shape.chunk_tokens = _need(cfg, "attention_chunk_size")
        attention += total - before
        # MLP
        if moe_layers[i]:
            per = 3 * h * moe_i
            routed += experts * per
            total += experts * per + experts * h
            if mt == "gpt_oss":
                total += experts * (2 * moe_i + h) + experts     # expert biases, router bias
            if mt in ("deepseek_v3", "deepseek_v32", "kimi_k2", "glm_moe_dsa", "minimax_m2"):
                total += experts                                 # e_score_correction_bias (stored)
            shared_n, shared_total = _shared(cfg, mt, h, moe_i)
            total += shared_total
        else:
            total += _gated_mlp(h, dense_i)
    if mt == "llama4_text" and layer_types is None:
        rope_layers = cfg.get("no_rope_layers") or [int((i + 1) % _get(cfg, "no_rope_layer_interval", 4) != 0)
                                                    for i in range(layers)]
        if cfg.get("attention_chunk_size"):
            shape.chunked_layers = sum(1 for r in rope_layers if r)
            shape.chunk_tokens = _need(cfg, "attention_chunk_size")
    if mt == "mistral" and cfg.get("sliding_window") and layer_types is None:
        shape.sliding_layers, shape.sliding_window = layers, _need(cfg, "sliding_window")
    shape.intermediate_size = moe_i if experts else dense_i
    shape.shared_experts = shared_n
    return ParameterCount(total, routed, experts, top_k, attention), shape


def _shared(cfg: dict, mt: str, h: int, moe_i: int) -> tuple[int, int]:
    """(shared experts, their parameters incl. any gate) of one MoE layer."""
    if mt in ("qwen3_5_moe_text",):
        i = _need(cfg, "shared_expert_intermediate_size")
        return 1, _gated_mlp(h, i) + h           # shared expert and its sigmoid gate
    if mt == "llama4_text":
        return 1, _gated_mlp(h, moe_i)
    n = _get(cfg, "n_shared_experts", 0)
    if mt == "minimax_m2":
        i = _get(cfg, "shared_intermediate_size", 0)
        return (1, _gated_mlp(h, i)) if i else (0, 0)
    return n, (_gated_mlp(h, moe_i * n) if n else 0)


def _glm_indexer_types(cfg: dict, layers: int) -> list[str]:
    """GLM-5.x: the layers that run their own indexer (the others reuse the previous full layer's)."""
    pattern = cfg.get("index_topk_pattern")
    if isinstance(pattern, str) and len(pattern) == layers:
        return [{"F": "full", "S": "shared"}.get(c, "full") for c in pattern]
    freq = max(_get(cfg, "index_topk_freq", 1), 1)
    offset = _get(cfg, "index_skip_topk_offset", 2)
    return ["full" if max(i - offset + 1, 0) % freq == 0 else "shared" for i in range(layers)]


_BLOCKS = {"mamba": "M", "attention": "*", "mlp": "-", "moe": "E"}


def _nemotron_pattern(cfg: dict) -> None:
    """Nemotron-H names its blocks either as hybrid_override_pattern ("M*-E") or as layers_block_type
    (["mamba", "attention", "mlp", "moe"]); the count reads the first, so fill it from the second."""
    blocks = cfg.get("layers_block_type")
    if not cfg.get("hybrid_override_pattern") and isinstance(blocks, list):
        unknown = [b for b in blocks if b not in _BLOCKS]
        if unknown:
            raise InvalidValueError(f"layers_block_type has '{unknown[0]}', not one of {', '.join(_BLOCKS)}. "
                                    "Check the config.json.")
        cfg["hybrid_override_pattern"] = "".join(_BLOCKS[b] for b in blocks)
    if not cfg.get("num_hidden_layers") and cfg.get("hybrid_override_pattern"):
        cfg["num_hidden_layers"] = len(str(cfg["hybrid_override_pattern"]))


def parameter_count(config: dict) -> ParameterCount:
    """Exact parameters of the language model a Hugging Face config.json describes."""
    return _count(_text(config))[0]


#: quantization_config.quant_method (and its details) -> precision id of precisions.toml
def native_precision(config: dict) -> str:
    """The precision the checkpoint's quantization_config says its weights are stored in ('' = 16-bit)."""
    q = config.get("quantization_config")
    if not isinstance(q, dict):
        inner = config.get("text_config")
        q = inner.get("quantization_config") if isinstance(inner, dict) else None
    if not isinstance(q, dict):
        return ""
    method = str(q.get("quant_method", "")).lower()
    if method == "fp8":
        return "fp8"
    if method == "mxfp4":
        return "mxfp4"
    if method in ("modelopt",):
        algo = str(q.get("quant_algo", "")).upper()
        return {"NVFP4": "fp4", "FP8": "fp8"}.get(algo, "")
    if method == "compressed-tensors":
        groups = q.get("config_groups") or {}
        bits = {g.get("weights", {}).get("num_bits") for g in groups.values() if isinstance(g, dict)}
        types = {g.get("weights", {}).get("type") for g in groups.values() if isinstance(g, dict)}
        if bits == {4} and types == {"int"}:
            # symmetric groups of 32 with a 16-bit scale each (Kimi K2.5): 4.5 bits; else AWQ/GPTQ-like
            weights = [g.get("weights", {}) for g in groups.values() if isinstance(g, dict)]
            if all(w.get("group_size") == 32 and w.get("symmetric") for w in weights):
                return "int4-g32"
            return "int4"
        if bits == {8} and types == {"float"}:
            return "fp8"
    return ""


def native_precision_scope(config: dict) -> str:
    """Which weights the checkpoint's quantization_config quantises, from its ignore (or
    modules_to_not_convert) list: '' (every linear layer) where it keeps no attention; 'experts' where
    it keeps attention and the MLPs outside the routed experts (Kimi K2.5: shared experts and the dense
    layer; gpt-oss has none), or the model has no MLP but its routed experts; 'all-but-attention'
    where it keeps the attention only and the model has MLPs besides routed experts (a dense model,
    shared experts, dense layers)."""
    q = config.get("quantization_config")
    if not isinstance(q, dict):
        inner = config.get("text_config")
        q = inner.get("quantization_config") if isinstance(inner, dict) else None
    if not isinstance(q, dict):
        return ""
    kept = [str(x) for key in ("ignore", "modules_to_not_convert") for x in (q.get(key) or [])]
    if not any("self_attn" in k for k in kept):
        return ""
    # a router ("mlp.gate" alone) is no MLP
    if any("shared_expert" in k or ("mlp" in k and not re.search(r"mlp\.gate\W*$", k)) for k in kept):
        return "experts"
    cfg = _text(config)
    experts = _get(cfg, "n_routed_experts", 0) or _get(cfg, "num_local_experts", 0) or _get(cfg, "num_experts", 0)
    other_mlps = (_get(cfg, "n_shared_experts", 0) or _get(cfg, "shared_expert_intermediate_size", 0)
                  or _get(cfg, "shared_intermediate_size", 0) or _get(cfg, "first_k_dense_replace", 0))
    return "experts" if experts and not other_mlps else "all-but-attention"


def entry_from_config(config: dict, model_id: str, *, name: str = "", source: str = "", as_of: str = "",
                      aliases: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """A models.toml entry (a dict of its fields, in the header's order) from a config.json."""
    cfg = _text(config)
    count, shape = _count(cfg)
    mt = _model_type(cfg)
    mla = mt in ("deepseek_v3", "deepseek_v32", "kimi_k2", "glm_moe_dsa")
    context = _need(cfg, "max_position_embeddings")
    entry: dict[str, Any] = {
        "id": model_id,
        "name": name or model_id,
        "aliases": list(aliases),
        "family": FAMILIES[mt],
        "params_b": count.total / 1e9,
        "active_params_b": count.active / 1e9,
        "layers": shape.layers,
        "hidden_size": _need(cfg, "hidden_size"),
        "intermediate_size": shape.intermediate_size,
        "heads": shape.heads,
        "kv_heads": shape.heads if mla else shape.kv_heads,
        "head_dim": (_need(cfg, "qk_nope_head_dim") + _need(cfg, "qk_rope_head_dim")) if mla else shape.head_dim,
        "vocab_size": _need(cfg, "vocab_size"),
        "tie_embeddings": _flag(cfg, "tie_word_embeddings"),
        "experts": shape.experts,
        "experts_per_token": shape.experts_per_token,
        "shared_experts": shape.shared_experts,
        "context_length": context,
        "attention": "mla" if mla else ("mha" if shape.kv_heads == shape.heads else "gqa"),
        "sliding_window": shape.sliding_window if shape.sliding_layers else 0,
        "sliding_window_layers": shape.sliding_layers,
        "kv_lora_rank": _need(cfg, "kv_lora_rank") if mla else 0,
        "qk_rope_head_dim": _need(cfg, "qk_rope_head_dim") if mla else 0,
        "chunked_attention_layers": shape.chunked_layers,
        "attention_chunk_tokens": shape.chunk_tokens if shape.chunked_layers else 0,
        "linear_attention_layers": shape.linear_layers,
        "linear_state_elements": shape.linear_state if shape.linear_layers else 0,
        "mlp_only_layers": shape.mlp_only_layers,
        "sparse_attention_top_k": _get(cfg, "index_topk", 0) if mt in ("deepseek_v32", "glm_moe_dsa") else 0,
        "indexer_heads": _get(cfg, "index_n_heads", 0) if mt in ("deepseek_v32", "glm_moe_dsa") else 0,
        "indexer_head_dim": _get(cfg, "index_head_dim", 0) if mt in ("deepseek_v32", "glm_moe_dsa") else 0,
        "attention_params_b": count.attention / 1e9,
    }
    precision = native_precision(config)
    if precision:
        entry["native_precision"] = precision
        entry["native_precision_source"] = "config.json quantization_config"
        scope = native_precision_scope(config)
        if scope == "all-but-attention" or (scope == "experts" and shape.experts):
            entry["native_precision_scope"] = scope
    entry["source"] = source or "config.json"
    entry["as_of"] = as_of
    entry["notes"] = (f"Generated by llmcalc-xl catalog add-model from a "
                      f"{cfg.get('_outer_model_type') or cfg.get('model_type')} config.json: "
                      f"{count.total:,} parameters, {count.active:,} active per token (embeddings included; "
                      "multi-token-prediction layers and any vision encoder left out).")
    return entry


# --- the entry as TOML text ------------------------------------------------------------------------

#: The order of the models.toml header
FIELD_ORDER = ("id", "name", "aliases", "family", "params_b", "active_params_b", "layers", "hidden_size",
               "intermediate_size", "heads", "kv_heads", "head_dim", "vocab_size", "tie_embeddings", "experts",
               "experts_per_token", "shared_experts", "context_length", "attention", "sliding_window",
               "sliding_window_layers", "kv_lora_rank", "qk_rope_head_dim", "chunked_attention_layers",
               "attention_chunk_tokens", "linear_attention_layers", "linear_state_elements", "mlp_only_layers",
               "sparse_attention_top_k", "indexer_heads", "indexer_head_dim", "attention_params_b", "native_precision",
               "native_precision_source", "native_precision_scope", "checkpoints", "source", "as_of", "notes")
_OPTIONAL_ZERO = {"attention_params_b", "chunked_attention_layers", "attention_chunk_tokens", "linear_attention_layers",
                  "linear_state_elements", "mlp_only_layers", "sparse_attention_top_k", "indexer_heads",
                  "indexer_head_dim"}


def _toml_value(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


def entry_toml(entry: dict[str, Any]) -> str:
    """One ``[[models]]`` table, fields in the header's order (zero-valued optional fields left out)."""
    lines = ["[[models]]"]
    for key in FIELD_ORDER:
        if key not in entry or (key in _OPTIONAL_ZERO and not entry[key]):
            continue
        if key in ("native_precision", "native_precision_source", "checkpoints") and not entry[key]:
            continue
        lines.append(f"{key} = {_toml_value(entry[key])}")
    return "\n".join(lines) + "\n"


def _tables(text: str) -> list[str]:
    """A TOML file cut before each table header line ([x] or [[x]])."""
    chunks: list[str] = []
    current: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("[") and current:
            chunks.append("".join(current))
            current = []
        current.append(line)
    if current:
        chunks.append("".join(current))
    return chunks


def with_entry(text: str, entry: dict[str, Any], replace: bool = False) -> tuple[str, bool]:
    """``text`` (a catalog file) with the entry appended, or put in place of the ``[[models]]`` table
    of the same id when ``replace``. Returns (new text, whether a table was replaced)."""
    return with_table(text, "models", entry["id"], entry_toml(entry), replace,
                      f"Model id '{entry['id']}' is already in this catalog file. Choose another --id, "
                      "or add --force to replace it.")


def with_table(text: str, kind: str, entry_id: str, table: str, replace: bool, taken: str) -> tuple[str, bool]:
    """``text`` (a catalog file) with ``table`` (one ``[[kind]]`` table) appended, or put in place of
    the ``[[kind]]`` table of id ``entry_id`` when ``replace`` (else that id refused with ``taken``).
    Returns (new text, whether a table was replaced); the result must load as TOML."""
    import re
    import tomllib

    pattern = re.compile(r'^\s*id\s*=\s*["\']' + re.escape(entry_id) + r'["\']\s*(#.*)?$', re.M)
    chunks = _tables(text)
    hits = [i for i, c in enumerate(chunks) if c.lstrip().startswith(f"[[{kind}]]") and pattern.search(c)]
    if hits and not replace:
        raise InvalidValueError(taken)
    if hits:
        chunks[hits[0]] = table + ("\n" if hits[0] < len(chunks) - 1 else "")
        for i in reversed(hits[1:]):
            del chunks[i]
        out = "".join(chunks)
    else:
        out = text.rstrip("\n") + ("\n\n" if text.strip() else "") + table
    tomllib.loads(out)  # the result must stay one valid TOML file
    return out, bool(hits)
