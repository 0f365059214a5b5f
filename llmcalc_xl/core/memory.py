"""Memory of an inference deployment: weights, KV cache, activations, overhead.

Pure functions of numpy arrays (or scalars): the same call prices one scenario or a million.
They use only numpy's operators, ``np.where``, ``np.maximum``, ``np.minimum``, ``np.ceil`` and
``np.floor``, so that the quote workbook derives its Excel formulas from these very functions
(``workbook/symbolic.py``). All results are totals in bytes over all GPUs of the deployment,
and count what the workload needs, not what an engine pre-allocates.

Notation (README, "How the estimates work"): L layers, h hidden size, n_q query heads, n_kv KV
heads, d head dim, V vocabulary, E routed experts, k experts per token, TP tensor-parallel degree.
Constants come from ``c`` (:class:`~llmcalc_xl.core.defaults.Assumptions`).
"""

from __future__ import annotations

import numpy as np

from .arrays import where

from .defaults import ASSUMPTIONS


def embedding_params(vocab_size, hidden_size):
    """Parameters of the input embedding table: V x h."""
    return vocab_size * hidden_size * 1.0


def output_params(vocab_size, hidden_size, tie_embeddings):
    """Parameters of the output projection (lm_head): V x h, or 0 when tied to the embedding."""
    return where(tie_embeddings, 0.0, vocab_size * hidden_size * 1.0)


def safe_ratio(numerator, denominator):
    """numerator / denominator, 0 where the denominator is not above 0."""
    positive = denominator > 0
    return where(positive, numerator / where(positive, denominator, 1.0), 0.0)


def routed_expert_params(params, active_params, experts, experts_per_token):
    """Parameters in the routed experts of an MoE model (0 for dense models).

    Derived from the published totals: params - active = experts_params x (1 - k/E),
    since each token uses k of the E experts and every other weight. Mixtral-8x7B:
    (46.70 - 12.88) / (1 - 2/8) = 45.1 B, which is 32 x 8 x 3 x 4096 x 14336.
    """
    share = safe_ratio(experts_per_token, experts)
    applies = (experts > 0) & (share < 1)
    return where(applies, (params - active_params) / where(applies, 1.0 - share, 1.0), 0.0)


def tensor_shares(hidden_size, heads, kv_heads, head_dim, intermediate_size, experts, shared_experts,
                  c=ASSUMPTIONS):
    """Shares of a layer's linear weights in attn_v, ffn_down and attn_output: the tensors
    GGUF k-quant mixes store with more bits. Per layer: q and o are h x n_q d, k and v are
    h x n_kv d, and each of E' = E + shared (1 for dense) MLPs has gate, up and down of
    h x ffn. Without intermediate_size, the Llama-2-7B shares stand in."""
    q = heads * head_dim * hidden_size * 1.0
    kv = kv_heads * head_dim * hidden_size * 1.0
    mlps = np.maximum(experts + shared_experts, 1.0)
    down = intermediate_size * hidden_size * mlps
    total = 2 * q + 2 * kv + 3 * down
    known = down > 0
    safe = where(known, total, 1.0)
    return (where(known, kv / safe, c.share_v_default), where(known, down / safe, c.share_down_default),
            where(known, q / safe, c.share_o_default))


def body_bits_per_weight(bits, attn_v_bits, ffn_down_bits, attn_output_bits, upgraded_layer_share,
                         s_v, s_down, s_o):
    """Mean bits of the body weights under a mix: ``upgraded_layer_share`` of the layers keep
    attn_v and ffn_down at their own bits, every layer keeps attn_output at its bits, the rest
    is at ``bits``. Plain formats give all four the same bits."""
    return (bits + upgraded_layer_share * (s_v * (attn_v_bits - bits) + s_down * (ffn_down_bits - bits))
            + s_o * (attn_output_bits - bits))


def weights_bytes(params, emb_params, out_params, body_bits, embedding_bits, output_bits):
    """Bytes of all weights (every expert is resident, even those a token does not use).

    The body (all but embedding and output) at ``body_bits`` per weight, quantisation
    scales included (Q4_0: 18 bytes per 32 weights = 4.5 bits); norms and biases are a
    rounding error and sit in the body.
    """
    body = params - emb_params - out_params
    return (body * body_bits + emb_params * embedding_bits + out_params * output_bits) / 8.0


def kept_params(params, emb_params, out_params, expert_params, attention_params, experts_only, attention_kept):
    """Body parameters a checkpoint keeps at 16 bits while its format covers the rest: all but the
    routed experts when the format covers the experts only (Kimi K2.5: INT4 experts; gpt-oss: MXFP4
    experts), the attention blocks when it covers all but attention (nvidia/GLM-5-NVFP4: every MLP
    and expert in NVFP4, self_attn in BF16), else none."""
    return where(experts_only, params - emb_params - out_params - expert_params,
                 where(attention_kept, attention_params, 0.0))


def scoped_weights_bytes(params, emb_params, out_params, kept_params_, body_bits, kept_bits, embedding_bits,
                         output_bits):
    """Bytes of all weights when ``kept_params_`` of the body stay at ``kept_bits`` (16: the format's
    embedding bits) and the rest of the body is at ``body_bits``. GLM-5 NVFP4 by hand: 13.60 B
    attention at 16 bits, 728.41 B other body weights at 4.5 bits, 1.90 B tables at 16: 440.7 GB."""
    body = params - emb_params - out_params
    return ((body - kept_params_) * body_bits + kept_params_ * kept_bits + emb_params * embedding_bits
            + out_params * output_bits) / 8.0


def stored_kv_heads(kv_heads, tp):
    """KV heads held over all GPUs: each of TP GPUs holds ceil(n_kv / TP) heads, so heads
    are replicated once TP exceeds n_kv (Llama-3-70B, 8 KV heads, on 16 GPUs holds 16)."""
    return np.ceil(kv_heads / tp) * tp


def kv_bytes_per_token_layer(is_mla, kv_heads_stored, head_dim, kv_lora_rank, qk_rope_head_dim,
                             kv_bytes, mla_copies):
    """KV-cache bytes one token occupies in one layer, summed over GPUs.

    Standard attention stores K and V: 2 x n_kv x d x b. MLA (DeepSeek-V2/V3) stores the
    compressed latent and the rope key: (kv_lora_rank + qk_rope_head_dim) x b, one copy
    on every tensor-parallel GPU (``mla_copies``)."""
    return where(is_mla, (kv_lora_rank + qk_rope_head_dim) * kv_bytes * mla_copies,
                    2.0 * kv_heads_stored * head_dim * kv_bytes)


def tokens_held(context_tokens, block_tokens):
    """Tokens a paged engine holds for a sequence: the context rounded up to whole blocks
    (vLLM: 16-token blocks)."""
    return np.ceil(context_tokens / block_tokens) * block_tokens


def kv_cache_bytes_per_sequence(per_token_layer, full_layers, full_held, window_held, window_layers_held,
                                chunk_held=0.0, chunk_layers_held=0.0, per_token_global_layer=0.0,
                                global_layers=0.0):
    """KV bytes one sequence holds: ``full_layers`` hold every token (``full_held``); the
    ``window_layers_held`` sliding-window layers hold at most the window (``window_held``); the
    ``chunk_layers_held`` chunked-attention layers (Llama 4) at most one chunk (``chunk_held``).
    ``global_layers`` of the full layers (the full-attention ones, not window layers an engine keeps
    whole) take ``per_token_global_layer`` instead: Gemma 4's global layers keep 2 KV heads of 512
    where its sliding layers keep 8 of 256."""
    return (per_token_layer * ((full_layers - global_layers) * full_held + window_layers_held * window_held
                               + chunk_layers_held * chunk_held)
            + per_token_global_layer * global_layers * full_held)


def compressed_entries(context_tokens, tokens_per_entry):
    """KV entries a compressed-attention layer holds beside its window (DeepSeek V4: one entry pools
    4 tokens in CSA layers, 128 in HCA ones): the context over the tokens an entry pools, rounded up;
    0 where the layer kind is absent (``tokens_per_entry`` 0)."""
    pools = tokens_per_entry > 0
    return where(pools, np.ceil(context_tokens / where(pools, tokens_per_entry, 1.0)), 0.0)


def state_bytes_per_sequence(linear_layers, state_elements, c=ASSUMPTIONS):
    """The fixed-size recurrent state of linear-attention (Gated DeltaNet) or state-space (Mamba2)
    layers: it does not grow with the context. Qwen3.5-27B-style 48 such layers of 2.2 M elements
    at 2 bytes: 211 MB a sequence."""
    return linear_layers * state_elements * c.state_bytes


def indexer_bytes_per_sequence(indexed_layers, indexer_head_dim, tokens_held_, c=ASSUMPTIONS):
    """DeepSeek sparse attention keeps, beside the KV cache, one fp8 indexer key per token per layer
    (index_head_dim values and their scale)."""
    return indexed_layers * indexer_head_dim * c.indexer_bytes_per_value * tokens_held_


def activation_factor(tp, is_moe, c=ASSUMPTIONS):
    """AIConfigurator's peak-activation multiplier c(TP) (dense or MoE); TP > 8 uses TP 8."""
    def by_tp(f1, f2, f4, f8):
        return where(tp <= 1, f1, where(tp <= 2, f2, where(tp <= 4, f4, f8)))

    return where(is_moe, by_tp(c.act_moe_tp1, c.act_moe_tp2, c.act_moe_tp4, c.act_moe_tp8),
                    by_tp(c.act_dense_tp1, c.act_dense_tp2, c.act_dense_tp4, c.act_dense_tp8))


def activation_bytes_per_token(tp, heads, head_dim, act_factor, c=ASSUMPTIONS):
    """Peak activation bytes per token in a pass, over all GPUs: TP x 2 bytes x (n_q x d) x c(TP)."""
    return tp * c.activation_bytes * heads * head_dim * act_factor


def activations_bytes(pass_tokens, per_token, sequences, vocab_size, c=ASSUMPTIONS):
    """Peak activation memory of one forward pass, over all GPUs.

    Scales with the tokens in a pass (the engine's max batched tokens caps it), not with
    the context, plus fp32 logits for every sequence sampled in the step (sequences x V x 4 bytes)."""
    return per_token * pass_tokens + sequences * vocab_size * c.logit_bytes


def overhead_bytes(gpus, engine_overhead_gib, is_cuda, uses_nccl, c=ASSUMPTIONS):
    """Runtime memory outside weights, KV and activations, over all GPUs: the engine's own
    (CUDA graphs, allocator slack), the CUDA context on NVIDIA/AMD GPUs, NCCL buffers when
    tensor parallelism spans several GPUs."""
    per_gpu = (engine_overhead_gib + where(is_cuda, c.cuda_context_gib, 0.0)
               + where(uses_nccl, c.nccl_buffers_gib, 0.0))
    return gpus * per_gpu * 2.0**30


def usable_bytes(device_bytes, memory_rule_is_free, memory_fraction, static_bytes):
    """Memory the engine lets the workload use, over all GPUs.

    vLLM-style engines take ``memory_fraction`` of the device (gpu_memory_utilization);
    TensorRT-LLM takes everything its weights and buffers need, then that fraction of
    what is free for the KV cache (kv_cache_free_gpu_mem_fraction)."""
    return where(memory_rule_is_free, static_bytes + memory_fraction * np.maximum(device_bytes - static_bytes, 0.0),
                    memory_fraction * device_bytes)


def max_sequences(per_sequence_bytes, activation_bytes_per_token, prompt_tokens, max_batched_tokens,
                  budget_bytes):
    """Largest B with  B x p + q x min(B x P, T_max) <= R  (memory rises with B).

    ``per_sequence_bytes`` (p) is what each sequence adds (KV + logits), ``activation_bytes_per_token``
    (q) the activation peak per prompt token in a pass, ``budget_bytes`` (R) what is left
    for them. Solved in closed form for both regimes, so a million rows cost one pass."""
    p, q, cap, budget = per_sequence_bytes, activation_bytes_per_token, max_batched_tokens, budget_bytes
    prompt = np.maximum(prompt_tokens, 1.0)
    b_cross = cap / prompt  # beyond this many sequences the pass is full
    saturated = budget - q * cap >= b_cross * p  # f(b_cross) <= R
    b = where(saturated, np.floor((budget - q * cap) / p),
                 np.minimum(np.floor(budget / (p + q * prompt)), np.floor(b_cross)))
    return np.maximum(where(np.isfinite(b), b, 0.0), 0.0)
