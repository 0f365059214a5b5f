"""Memory of an inference deployment: weights, KV cache, activations, overhead.

Pure functions over numpy arrays (or scalars): the same call prices one scenario
or a million. All results are totals in bytes over all GPUs of the deployment,
and count what the workload needs, not what an engine pre-allocates.

Notation (README, "How the estimates work"): L layers, h hidden size, n_q query
heads, n_kv KV heads, d head dim, V vocabulary, E routed experts, k experts per
token, TP tensor-parallel degree.
"""

from __future__ import annotations

import numpy as np

from . import defaults


def embedding_params(vocab_size, hidden_size):
    """Parameters of the input embedding table: V x h."""
    return np.asarray(vocab_size, dtype=float) * hidden_size


def output_params(vocab_size, hidden_size, tie_embeddings):
    """Parameters of the output projection (lm_head): V x h, or 0 when tied to the embedding."""
    return np.where(np.asarray(tie_embeddings, dtype=bool), 0.0,
                    np.asarray(vocab_size, dtype=float) * hidden_size)


def routed_expert_params(params, active_params, experts, experts_per_token):
    """Parameters in the routed experts of an MoE model (0 for dense models).

    Derived from the published totals: params - active = experts_params x (1 - k/E),
    since each token uses k of the E experts and every other weight. Mixtral-8x7B:
    (46.70 - 12.88) / (1 - 2/8) = 45.1 B, which is 32 x 8 x 3 x 4096 x 14336.
    """
    experts = np.asarray(experts, dtype=float)
    share = np.divide(experts_per_token, experts, out=np.zeros_like(experts), where=experts > 0)
    unused = np.asarray(params, dtype=float) - active_params
    return np.divide(unused, 1.0 - share, out=np.zeros_like(experts), where=(experts > 0) & (share < 1))


def tensor_shares(hidden_size, heads, kv_heads, head_dim, intermediate_size, experts, shared_experts):
    """Shares of a layer's linear weights in attn_v, ffn_down and attn_output: the tensors
    GGUF k-quant mixes store with more bits. Per layer: q and o are h x n_q d, k and v are
    h x n_kv d, and each of E' = E + shared (1 for dense) MLPs has gate, up and down of
    h x ffn. Without intermediate_size, the Llama-2-7B shares stand in."""
    h = np.asarray(hidden_size, dtype=float)
    q = np.asarray(heads, dtype=float) * head_dim * h
    kv = np.asarray(kv_heads, dtype=float) * head_dim * h
    mlps = np.maximum(np.asarray(experts, dtype=float) + shared_experts, 1.0)
    down = np.asarray(intermediate_size, dtype=float) * h * mlps
    total = 2 * q + 2 * kv + 3 * down
    known = down > 0
    safe = np.where(known, total, 1.0)
    s_v = np.where(known, kv / safe, defaults.LLAMA2_7B_SHARES[0])
    s_down = np.where(known, down / safe, defaults.LLAMA2_7B_SHARES[1])
    s_o = np.where(known, q / safe, defaults.LLAMA2_7B_SHARES[2])
    return s_v, s_down, s_o


def body_bits_per_weight(bits, attn_v_bits, ffn_down_bits, attn_output_bits, upgraded_layer_share,
                         s_v, s_down, s_o):
    """Mean bits of the body weights under a mix: ``upgraded_layer_share`` of the layers keep
    attn_v and ffn_down at their own bits, every layer keeps attn_output at its bits, the rest
    is at ``bits``. Plain formats give all four the same bits."""
    bits = np.asarray(bits, dtype=float)
    return (bits + upgraded_layer_share * (s_v * (attn_v_bits - bits) + s_down * (ffn_down_bits - bits))
            + s_o * (attn_output_bits - bits))


def weights_bytes(params, emb_params, out_params, body_bits, embedding_bits, output_bits):
    """Bytes of all weights (every expert is resident, even those a token does not use).

    The body (all but embedding and output) at ``body_bits`` per weight, quantisation
    scales included (Q4_0: 18 bytes per 32 weights = 4.5 bits); norms and biases are a
    rounding error and sit in the body.
    """
    body = np.asarray(params, dtype=float) - emb_params - out_params
    return (body * body_bits + emb_params * embedding_bits + out_params * output_bits) / 8.0


def stored_kv_heads(kv_heads, tp):
    """KV heads held over all GPUs: each of TP GPUs holds ceil(n_kv / TP) heads, so heads
    are replicated once TP exceeds n_kv (Llama-3-70B, 8 KV heads, on 16 GPUs holds 16)."""
    tp = np.asarray(tp, dtype=float)
    return np.ceil(np.asarray(kv_heads, dtype=float) / tp) * tp


def kv_bytes_per_token_layer(is_mla, kv_heads_stored, head_dim, kv_lora_rank, qk_rope_head_dim,
                             kv_bytes, mla_copies):
    """KV-cache bytes one token occupies in one layer, summed over GPUs.

    Standard attention stores K and V: 2 x n_kv x d x b. MLA (DeepSeek-V2/V3) stores the
    compressed latent and the rope key: (kv_lora_rank + qk_rope_head_dim) x b, one copy
    on every tensor-parallel GPU (``mla_copies``)."""
    std = 2.0 * np.asarray(kv_heads_stored, dtype=float) * head_dim * kv_bytes
    mla = (np.asarray(kv_lora_rank, dtype=float) + qk_rope_head_dim) * kv_bytes * mla_copies
    return np.where(np.asarray(is_mla, dtype=bool), mla, std)


def tokens_held(context_tokens, block_tokens):
    """Tokens a paged engine holds for a sequence: the context rounded up to whole blocks
    (vLLM: 16-token blocks)."""
    return np.ceil(np.asarray(context_tokens, dtype=float) / block_tokens) * block_tokens


def kv_cache_bytes_per_sequence(per_token_layer, layers, context_tokens, block_tokens,
                                sliding_window, sliding_window_layers, window_saves):
    """KV bytes one sequence of ``context_tokens`` holds. Sliding-window layers hold at
    most the window (when the engine frees what falls out of it)."""
    full = tokens_held(context_tokens, block_tokens)
    window = np.asarray(sliding_window, dtype=float)
    has_window = (window > 0) & np.asarray(window_saves, dtype=bool)
    windowed = np.where(has_window,
                        tokens_held(np.minimum(context_tokens, np.where(window > 0, window, 1.0)),
                                    block_tokens), full)
    swa_layers = np.where(has_window, sliding_window_layers, 0.0)
    return per_token_layer * ((np.asarray(layers, dtype=float) - swa_layers) * full + swa_layers * windowed)


def activation_factor(tp, is_moe):
    """AIConfigurator's peak-activation multiplier c(TP) (dense or MoE); TP > 8 uses TP 8."""
    tp = np.asarray(tp, dtype=float)

    def by_tp(table):
        sizes = sorted(table)
        return np.select([tp <= k for k in sizes[:-1]], [table[k] for k in sizes[:-1]], table[sizes[-1]])

    return np.where(np.asarray(is_moe, dtype=bool), by_tp(defaults.ACTIVATION_FACTOR_MOE),
                    by_tp(defaults.ACTIVATION_FACTOR_DENSE))


def activations_bytes(pass_tokens, heads, head_dim, tp, is_moe, sequences, vocab_size):
    """Peak activation memory of one forward pass, over all GPUs.

    Scales with the tokens in a pass (the engine's max batched tokens caps it), not with
    the context: TP x 2 bytes x T x (n_q x d) x c(TP), plus fp32 logits for every
    sequence sampled in the step (sequences x V x 4 bytes)."""
    per_gpu = (defaults.ACTIVATION_BYTES * np.asarray(pass_tokens, dtype=float)
               * np.asarray(heads, dtype=float) * head_dim * activation_factor(tp, is_moe))
    logits = np.asarray(sequences, dtype=float) * vocab_size * defaults.LOGIT_BYTES
    return np.asarray(tp, dtype=float) * per_gpu + logits


def overhead_bytes(gpus, engine_overhead_gib, is_cuda, uses_nccl):
    """Runtime memory outside weights, KV and activations, over all GPUs: the engine's own
    (CUDA graphs, allocator slack), the CUDA context on NVIDIA/AMD GPUs, NCCL buffers when
    tensor parallelism spans several GPUs."""
    per_gpu = (np.asarray(engine_overhead_gib, dtype=float)
               + np.where(is_cuda, defaults.CUDA_CONTEXT_GIB, 0.0)
               + np.where(uses_nccl, defaults.NCCL_BUFFERS_GIB, 0.0))
    return np.asarray(gpus, dtype=float) * per_gpu * 2.0**30


def usable_bytes(device_bytes, memory_rule_is_free, memory_fraction, static_bytes):
    """Memory the engine lets the workload use, over all GPUs.

    vLLM-style engines take ``memory_fraction`` of the device (gpu_memory_utilization);
    TensorRT-LLM takes everything its weights and buffers need, then that fraction of
    what is free for the KV cache (kv_cache_free_gpu_mem_fraction)."""
    of_total = memory_fraction * device_bytes
    of_free = static_bytes + memory_fraction * np.maximum(device_bytes - static_bytes, 0.0)
    return np.where(np.asarray(memory_rule_is_free, dtype=bool), of_free, of_total)


def max_sequences(per_sequence_bytes, activation_bytes_per_token, prompt_tokens, max_batched_tokens,
                  budget_bytes):
    """Largest B with  B x p + q x min(B x P, T_max) <= R  (memory rises with B).

    ``per_sequence_bytes`` (p) is what each sequence adds (KV + logits), ``activation_bytes_per_token``
    (q) the activation peak per prompt token in a pass, ``budget_bytes`` (R) what is left
    for them. Solved in closed form for both regimes, so a million rows cost one pass."""
    p = np.asarray(per_sequence_bytes, dtype=float)
    q = np.asarray(activation_bytes_per_token, dtype=float)
    prompt = np.maximum(np.asarray(prompt_tokens, dtype=float), 1.0)
    cap = np.asarray(max_batched_tokens, dtype=float)
    budget = np.asarray(budget_bytes, dtype=float)
    b_cross = cap / prompt  # beyond this many sequences the pass is full
    saturated = budget - q * cap >= b_cross * p  # f(b_cross) <= R
    with np.errstate(divide="ignore", invalid="ignore"):
        b_sat = np.floor((budget - q * cap) / p)
        b_small = np.floor(budget / (p + q * prompt))
    b = np.where(saturated, b_sat, np.minimum(b_small, np.floor(b_cross)))
    return np.maximum(np.where(np.isfinite(b), b, 0.0), 0.0)
