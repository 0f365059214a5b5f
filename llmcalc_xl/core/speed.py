"""Speed: time to first token (prefill) and time per output token (decode).

A roofline with calibrated efficiencies: each phase takes the longer of its arithmetic time
(FLOPs / (dense peak x MFU)) and its memory time (bytes / (bandwidth x MBU)), plus
tensor-parallel communication and the engine's fixed per-step cost. Pure functions of numpy
arrays, written with the operations the workbook can also write as formulas (see ``memory``);
times in seconds, rates in FLOP/s and bytes/s.
"""

from __future__ import annotations

import numpy as np

from .arrays import where

from .defaults import ASSUMPTIONS


def attended_pairs(tokens, window):
    """Query-key pairs of causal attention over ``tokens`` (sum of min(i, window) for
    i = 1..tokens): tokens^2 / 2 without a window; window 0 means none."""
    full = tokens * tokens / 2.0
    return where(window > 0, where(tokens <= window, full, window * window / 2.0 + (tokens - window) * window),
                    full)


def chunked_pairs(tokens, chunk):
    """Query-key pairs of chunked local attention (Llama 4): each query sees its own chunk only, so
    n = tokens // chunk whole chunks give n x chunk^2 / 2 and the rest r^2 / 2; chunk 0 means none."""
    size = where(chunk > 0, chunk, 1.0)
    whole = np.floor(tokens / size)
    rest = tokens - whole * size
    return where(chunk > 0, whole * size * size / 2.0 + rest * rest / 2.0, tokens * tokens / 2.0)


def attention_flops(pairs_full, pairs_windowed, pairs_chunked, full_layers, window_layers, chunk_layers, heads,
                    head_dim):
    """FLOPs of QK^T and PV: 4 x n_q x d per query-key pair per layer (2 for each product)."""
    return 4.0 * heads * head_dim * (full_layers * pairs_full + window_layers * pairs_windowed
                                     + chunk_layers * pairs_chunked)


def indexer_flops(pairs, indexed_layers, indexer_heads, indexer_head_dim):
    """DeepSeek sparse attention's indexer scores every earlier key for each query: 2 x heads x dim
    FLOPs a pair (one product) in each layer it serves."""
    return 2.0 * indexer_heads * indexer_head_dim * pairs * indexed_layers


def linear_attention_flops(tokens, linear_layers, state_elements):
    """A linear-attention layer updates and reads its state once a token: about 4 FLOPs per state
    element (a multiply-add into the state, one to read it out)."""
    return 4.0 * state_elements * tokens * linear_layers


def experts_touched_share(experts, experts_per_token, tokens):
    """Expected share of routed experts a step reads: 1 - (1 - k/E)^tokens per layer, with
    tokens routed independently. 1 token reads k/E; a large batch reads them all. Where
    (k/E) x tokens > 40 the power is below 1E-17 and the share is 1 (spreadsheets give an error
    rather than 0 when that power underflows)."""
    share = where(experts > 0, experts_per_token / where(experts > 0, experts, 1.0), 0.0)
    return where(experts > 0, where(share * tokens > 40, 1.0, 1.0 - (1.0 - share) ** tokens), 0.0)


def tree_depth(gpus):
    """ceil(log2(gpus)) for 1 to 1024 GPUs, written with comparisons only (a spreadsheet formula
    can write them; np.log2 is not in the operations the workbook shares)."""
    depth = where(gpus > 1.0, 1.0, 0.0)
    for k in range(1, 10):
        depth = depth + where(gpus > 2.0 ** k, 1.0, 0.0)
    return depth


def allreduce_s(tp, layers, tokens, hidden_size, link_bytes_per_s, c=ASSUMPTIONS):
    """Tensor-parallel communication of one forward pass: two all-reduces per layer of tokens x h
    16-bit values. Each moves 2 (n-1)/n x the message over the link (the ring's bandwidth term)
    and waits one latency per level of a reduction tree, up and down: 2 ceil(log2 n) hops. Small
    messages, as in decode, are latency-bound, and NCCL reduces them along trees (double binary
    trees since NCCL 2.4: latency logarithmic in the number of GPUs) rather than rings (latency
    linear in it). The hop latency is fitted (defaults.py)."""
    message = tokens * hidden_size * c.activation_bytes
    per = 2.0 * tree_depth(tp) * c.allreduce_hop_latency_s + 2.0 * (tp - 1.0) / tp * message / link_bytes_per_s
    return where(tp > 1, 2.0 * layers * per, 0.0)


def in_domain(gpus, domain):
    """GPUs of a group that share one NVLink domain: all of them, or the domain's where the group is
    wider (``domain`` 0: not stated, never crossed)."""
    return where((domain > 0) & (gpus > domain), domain, gpus)


def allreduce_one_s(gpus, tokens, hidden_size, link_bytes_per_s, scale_out_bytes_per_s=1.0, domain=0.0,
                    c=ASSUMPTIONS):
    """One all-reduce of tokens x h 16-bit values over ``gpus`` GPUs (0 on one GPU): 2 ceil(log2 n)
    tree hops of latency, and 2 (g-1)/g x the message over the NVLink of the g GPUs of a domain
    (``allreduce_s``). Wider than one domain, the m = n / g domains then all-reduce their shares, a
    g-th of the message for each GPU, over the network between nodes: 2 (m-1)/m x message / g at
    the scale-out link (NCCL's hierarchical all-reduce: each GPU of a node drives its own NIC)."""
    message = tokens * hidden_size * c.activation_bytes
    local = in_domain(gpus, domain)
    nodes = gpus / local
    return where(gpus > 1, 2.0 * tree_depth(gpus) * c.allreduce_hop_latency_s
                 + 2.0 * (local - 1.0) / local * message / link_bytes_per_s
                 + where(nodes > 1, 2.0 * (nodes - 1.0) / nodes * message / local / scale_out_bytes_per_s, 0.0),
                 0.0)


def alltoall_s(ep, tokens_per_gpu, experts_per_token, hidden_size, link_bytes_per_s, scale_out_bytes_per_s=1.0,
               domain=0.0, c=ASSUMPTIONS):
    """Expert parallelism's all-to-all in one MoE layer: dispatch each token's hidden state to the GPUs
    of its k experts, then combine their outputs back, two calls of a latency each. A GPU sends
    tokens_per_gpu x k x h 16-bit values per call, (ep - 1) / ep of them to other GPUs (its own
    experts' share stays): (g - 1) / ep over the NVLink of its domain of g GPUs, (ep - g) / ep over
    the network to other nodes, both at once (the longer counts). 0 when ep is 1."""
    message = tokens_per_gpu * experts_per_token * hidden_size * c.activation_bytes
    local = in_domain(ep, domain)
    wire = np.maximum((local - 1.0) / ep * message / link_bytes_per_s,
                      (ep - local) / ep * message / scale_out_bytes_per_s)
    return where(ep > 1, 2.0 * (c.alltoall_latency_s + wire), 0.0)


def layout_comm_s(tp, gpus, ep, layers, moe_layers, tokens, rank_tokens, hidden_size, experts_per_token,
                  link_bytes_per_s, scale_out_bytes_per_s=1.0, domain=0.0, c=ASSUMPTIONS):
    """Communication of one forward pass under a parallel layout of dp attention ranks of tp GPUs
    (gpus = tp x dp), the routed experts in ep groups:

    - attention: each rank all-reduces its own ``rank_tokens`` over its tp GPUs, once a layer;
    - MLP: one all-reduce of all ``tokens`` over all GPUs a layer (with dp > 1 the gather of every
      rank's tokens before the MLP and the scatter after it, an all-gather and a reduce-scatter: an
      all-reduce's traffic). With one rank (dp = 1) every GPU already holds every token after the
      attention's all-reduce, so expert parallelism changes only which experts a GPU computes, and
      the MLP's all-reduce combines them (TensorRT-LLM's and vLLM's MoE under attention TP).
    - with dp > 1 and ep > 1 each MoE layer instead sends its tokens to their experts and back
      (``alltoall_s``: DeepEP under SGLang's and TensorRT-LLM's attention DP), each GPU the tokens
      of its rank's share, rank_tokens / tp.

    With dp = 1 (within one NVLink domain) this is two all-reduces a layer over all GPUs: ``allreduce_s``.
    Collectives over more GPUs than one domain holds cross nodes (``allreduce_one_s``, ``alltoall_s``)."""
    attention = layers * allreduce_one_s(tp, rank_tokens, hidden_size, link_bytes_per_s, scale_out_bytes_per_s,
                                         domain, c)
    mlp = allreduce_one_s(gpus, tokens, hidden_size, link_bytes_per_s, scale_out_bytes_per_s, domain, c)
    experts = alltoall_s(ep, rank_tokens / tp, experts_per_token, hidden_size, link_bytes_per_s,
                         scale_out_bytes_per_s, domain, c)
    return attention + where((ep > 1) & (gpus > tp), moe_layers * experts + (layers - moe_layers) * mlp, layers * mlp)


def pipeline_hops_s(gpus, tokens, hidden_size, link_bytes_per_s, c=ASSUMPTIONS):
    """Layer split across GPUs: activations hop from one GPU to the next (n - 1 times)."""
    hop = tokens * hidden_size * c.activation_bytes / link_bytes_per_s
    return np.maximum(gpus - 1.0, 0.0) * (hop + c.allreduce_latency_s)


def roofline_s(flops, flops_per_s, bytes_moved, bytes_per_s):
    """The longer of arithmetic time and memory time."""
    return np.maximum(flops / flops_per_s, bytes_moved / bytes_per_s)
