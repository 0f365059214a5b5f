"""Speed: time to first token (prefill) and time per output token (decode).

A roofline with calibrated efficiencies: each phase takes the longer of its
arithmetic time (FLOPs / (dense peak x MFU)) and its memory time (bytes / (bandwidth
x MBU)), plus tensor-parallel communication and the engine's fixed per-step cost.
Pure functions over numpy arrays; times in seconds, rates in FLOP/s and bytes/s.
"""

from __future__ import annotations

import numpy as np

from . import defaults


def attended_pairs(tokens, window):
    """Query-key pairs of causal attention over ``tokens`` (sum of min(i, window) for
    i = 1..tokens): tokens^2 / 2 without a window; window 0 means none."""
    t = np.asarray(tokens, dtype=float)
    w = np.asarray(window, dtype=float)
    full = t * t / 2.0
    windowed = np.where(t <= w, full, w * w / 2.0 + (t - w) * w)
    return np.where(w > 0, windowed, full)


def attention_flops(pairs_full, pairs_windowed, layers, sliding_window_layers, heads, head_dim):
    """FLOPs of QK^T and PV: 4 x n_q x d per query-key pair per layer (2 for each product)."""
    per_pair = 4.0 * np.asarray(heads, dtype=float) * head_dim
    full_layers = np.asarray(layers, dtype=float) - sliding_window_layers
    return per_pair * (full_layers * pairs_full + np.asarray(sliding_window_layers) * pairs_windowed)


def experts_touched_share(experts, experts_per_token, tokens):
    """Expected share of routed experts a step reads: 1 - (1 - k/E)^tokens per layer, with
    tokens routed independently. 1 token reads k/E; a large batch reads them all."""
    e = np.asarray(experts, dtype=float)
    share = np.divide(experts_per_token, e, out=np.zeros_like(e), where=e > 0)
    return np.where(e > 0, 1.0 - (1.0 - share) ** np.asarray(tokens, dtype=float), 0.0)


def allreduce_s(tp, layers, tokens, hidden_size, link_bytes_per_s):
    """Tensor-parallel communication of one forward pass: two ring all-reduces per layer of
    tokens x h 16-bit values, 2 (n-1)/n x message / link bandwidth + fixed latency each."""
    tp = np.asarray(tp, dtype=float)
    message = np.asarray(tokens, dtype=float) * hidden_size * defaults.ACTIVATION_BYTES
    per = 2.0 * (tp - 1.0) / tp * message / link_bytes_per_s + defaults.ALLREDUCE_LATENCY_S
    return np.where(tp > 1, 2.0 * np.asarray(layers, dtype=float) * per, 0.0)


def pipeline_hops_s(gpus, tokens, hidden_size, link_bytes_per_s):
    """Layer split across GPUs: activations hop from one GPU to the next (n - 1 times)."""
    g = np.asarray(gpus, dtype=float)
    hop = np.asarray(tokens, dtype=float) * hidden_size * defaults.ACTIVATION_BYTES / link_bytes_per_s
    return np.maximum(g - 1.0, 0.0) * (hop + defaults.ALLREDUCE_LATENCY_S)


def roofline_s(flops, flops_per_s, bytes_moved, bytes_per_s):
    """The longer of arithmetic time and memory time."""
    return np.maximum(np.asarray(flops, dtype=float) / flops_per_s,
                      np.asarray(bytes_moved, dtype=float) / bytes_per_s)
