"""Properties the arithmetic promises, checked with Hypothesis on random workloads."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from llmcalc_xl import estimate_many

MODELS = ["llama-3-8b", "llama-3.1-70b", "mixtral-8x7b", "gemma-2-9b", "deepseek-v3", "qwen2.5-7b"]
HARDWARE = ["h100-sxm", "a100-80gb", "l4", "rtx-4090", "mi300x"]
PRECISIONS = ["fp16", "fp8", "int4", "q4_k_m"]

workload = st.fixed_dictionaries({
    "model": st.sampled_from(MODELS),
    "hardware": st.sampled_from(HARDWARE),
    "precision": st.sampled_from(PRECISIONS),
    "input_tokens": st.integers(1, 4000),
    "output_tokens": st.integers(1, 2000),
    "batch": st.integers(1, 64),
    "gpus": st.sampled_from([1, 2, 4, 8]),
})


def _est(rows, **change):
    cols = {k: [dict(r, **change)[k] for r in rows] for k in rows[0]}
    return estimate_many(cols.pop("model"), cols.pop("hardware"), **cols)


@settings(max_examples=60, deadline=None)
@given(st.lists(workload, min_size=1, max_size=20))
def test_more_output_tokens_never_cost_less(rows):
    base = _est(rows)
    more = _est([dict(r, output_tokens=r["output_tokens"] + 100) for r in rows])
    ok = np.equal(base["error"], None) & np.equal(more["error"], None)
    # a deployment that does not fit cannot run: it has no cost and no latency
    for est in (base, more):
        no_fit = ok & (est["fits"] == 0)
        assert np.isnan(est["cost_per_request_usd"][no_fit]).all() and np.isnan(est["latency_s"][no_fit]).all()
    ok &= (base["fits"] == 1) & (more["fits"] == 1)
    assert np.all(more["cost_per_request_usd"][ok] >= base["cost_per_request_usd"][ok] * (1 - 1e-12))
    assert np.all(more["latency_s"][ok] > base["latency_s"][ok])


@settings(max_examples=60, deadline=None)
@given(st.lists(workload, min_size=1, max_size=20))
def test_more_gpus_never_fit_less(rows):
    base = _est(rows)
    doubled = _est([dict(r, gpus=r["gpus"] * 2) for r in rows])
    ok = np.equal(base["error"], None)
    assert np.all(doubled["fits"][ok & (base["fits"] == 1)] == 1)
    assert np.all(doubled["usable_memory_gib"][ok] > base["usable_memory_gib"][ok])


@settings(max_examples=60, deadline=None)
@given(st.lists(workload, min_size=1, max_size=20))
def test_memory_is_additive_and_grows_with_batch(rows):
    base = _est(rows)
    ok = np.equal(base["error"], None)
    parts = base["weights_gib"] + base["kv_cache_gib"] + base["activations_gib"] + base["overhead_gib"]
    assert np.allclose(parts[ok], base["total_memory_gib"][ok], rtol=1e-12)
    bigger = _est([dict(r, batch=r["batch"] + 1) for r in rows])
    assert np.all(bigger["total_memory_gib"][ok] > base["total_memory_gib"][ok])
    assert np.all(bigger["kv_cache_gib"][ok] > base["kv_cache_gib"][ok])


@settings(max_examples=40, deadline=None)
@given(st.lists(workload, min_size=1, max_size=10))
def test_fit_agrees_with_max_batch(rows):
    base = _est(rows)
    ok = np.equal(base["error"], None)
    assert np.all((base["batch"][ok] <= base["max_batch"][ok]) == (base["fits"][ok] == 1))


def test_a_short_answer_under_load_never_costs_more_than_a_longer_one():
    # the case a property run found: 44 clients of one-token answers cost more than of 101-token ones
    # when the engine's wait was charged at the loaded step (each waited step counting the others'
    # prompts again); every engine, the GPU time of a request grows with its answer
    from llmcalc_xl import estimate_many

    for engine in ("vllm", "sglang", "tensorrt-llm"):
        r = estimate_many("llama-3-8b", "h100-sxm", precision="fp16", input_tokens=1312, batch=44, engine=engine,
                          output_tokens=[1, 2, 11, 101, 1001])
        cost = r["cost_per_request_usd"]
        assert np.all(np.diff(cost) > 0), (engine, cost)
