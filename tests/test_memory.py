"""Memory: weights, KV cache, activations, overhead, fit. Expected values are worked out
by hand from the formulas' definitions or come from published measurements (cited)."""

import math

import numpy as np
import pytest

from llmcalc_xl import estimate
from llmcalc_xl.core import memory

GIB = 2**30


# KV bytes per token, 16-bit, from the architecture: 2 x L x n_kv x d x 2 bytes.
# Published check values: Llama-3-8B 131,072 B (128 KiB) and Llama-3-70B 327,680 B per token.
@pytest.mark.parametrize("model, layers, kv_heads, head_dim, expected", [
    ("llama-3-8b", 32, 8, 128, 131_072),      # GQA: 8 of 32 heads
    ("llama-3-70b", 80, 8, 128, 327_680),     # GQA: 8 of 64 heads
    ("llama-2-7b", 32, 32, 128, 524_288),     # MHA
])
def test_kv_bytes_per_token_uses_kv_heads_not_query_heads(model, layers, kv_heads, head_dim, expected):
    assert 2 * layers * kv_heads * head_dim * 2 == expected  # the arithmetic itself
    # one sequence of 16 tokens (one vLLM block), batch 1
    r = estimate(model, "h100-sxm", engine="vllm", input_tokens=8, output_tokens=8, gpus=8 if "70b" in model else 1)
    per_token = r.kv_cache_gib * GIB / 16
    assert per_token == pytest.approx(expected, rel=1e-12)


def test_kv_heads_are_replicated_when_gpus_exceed_kv_heads():
    # Llama-3-70B has 8 KV heads; on 16 GPUs each GPU holds ceil(8/16) = 1 head: 16 in all
    one = estimate("llama-3-70b", "h100-sxm", gpus=8, input_tokens=8, output_tokens=8).kv_cache_gib
    sixteen = estimate("llama-3-70b", "h100-sxm", gpus=16, input_tokens=8, output_tokens=8).kv_cache_gib
    assert sixteen == pytest.approx(2 * one, rel=1e-12)


def test_mla_caches_the_latent_once_per_gpu():
    # DeepSeek-V3: 61 layers x (512 + 64) x 2 bytes = 70,272 bytes per token per GPU copy
    r = estimate("deepseek-v3", "h200", gpus=8, precision="fp8", input_tokens=8, output_tokens=8)
    per_token = r.kv_cache_gib * GIB / 16
    assert per_token == pytest.approx(61 * 576 * 2 * 8, rel=1e-12)


def test_sliding_window_layers_hold_only_the_window():
    # gemma-2-9b: 42 layers, half of them with a 4096-token window; 8 KV heads x 256 x 2 x 2 B
    per_layer_token = 2 * 8 * 256 * 2
    long = estimate("gemma-2-9b", "h100-sxm", input_tokens=8000, output_tokens=192, engine="vllm")
    expected = per_layer_token * (21 * 8192 + 21 * 4096)  # 8192 = 8192 rounded to 16-token blocks
    assert long.kv_cache_gib * GIB == pytest.approx(expected, rel=1e-12)


def test_weights_reproduce_published_gguf_file_sizes():
    # llama-bench "size" column (GiB): LLaMA-7B Q4_0 3.56, Q4_K_M 3.80, Q8_0 6.67, F16 12.55
    # (ggml-org/llama.cpp PRs #3084/#4406, copied in benchmarks/data/calibration_measurements.csv)
    for precision, gib in (("q4_0", 3.56), ("q4_k_m", 3.80), ("q8_0", 6.67), ("fp16", 12.55)):
        assert estimate("llama-2-7b", precision=precision).weights_gib == pytest.approx(gib, abs=0.006)


def test_q2_k_mix_reproduces_llama_cpp_bits_per_weight():
    # llama.cpp tools/quantize/README.md: Llama-3.1-8B Q2_K = 3.1593 bits per weight
    r = estimate("llama-3.1-8b", precision="q2_k")
    bpw = r.weights_gib * GIB * 8 / 8.030261248e9
    assert bpw == pytest.approx(3.1593, abs=0.002)


def test_moe_keeps_every_expert_resident():
    # Mixtral-8x7B: 46.70 B parameters at 2 bytes, although only 12.9 B are active per token
    r = estimate("mixtral-8x7b", precision="fp16")
    assert r.weights_gib * GIB == pytest.approx(46.702792704e9 * 2, rel=1e-9)


def test_routed_expert_params_from_published_totals():
    # (46.70 - 12.88) / (1 - 2/8) = 45.09 B; 32 layers x 8 experts x 3 x 4096 x 14336 = 45.10 B
    experts = memory.routed_expert_params(46.702792704e9, 12.879925248e9, 8, 2)
    assert experts == pytest.approx(32 * 8 * 3 * 4096 * 14336, rel=2e-3)


def test_research_notes_model_table():
    # the research notes: a 7B model in fp16 needs about 16 GB, a 13B about 28 GB in all
    seven = estimate("llama-2-7b").total_memory_gib * GIB / 1e9
    thirteen = estimate("llama-2-13b").total_memory_gib * GIB / 1e9
    assert estimate("llama-2-7b", "a100-80gb").total_memory_gib * GIB / 1e9 == pytest.approx(seven)
    assert 14.5 <= seven <= 17.5
    assert 26 <= thirteen <= 30


@pytest.mark.parametrize("model, hardware, precision, fits", [
    ("llama-2-7b", "t4", "q4_k_m", True),        # 7B fits a T4 quantised
    ("llama-2-7b", "t4", "int4", True),
    ("llama-2-13b", "rtx-4090", "fp16", False),  # 13B fits an RTX 4090 only quantised
    ("llama-2-13b", "rtx-4090", "q4_k_m", True),
    ("llama-2-7b", "cpu-8gb", "fp16", False),    # an 8 GB CPU machine: only small or quantised
    ("llama-2-7b", "cpu-8gb", "q4_k_m", True),
    ("phi-3-mini", "cpu-8gb", "q4_k_m", True),
    ("llama-2-70b", "a100-80gb", "fp16", False),  # 70B in fp16 does not fit one A100
    ("llama-2-70b", "a100-40gb", "fp16", False),
])
def test_research_notes_hardware_table(model, hardware, precision, fits):
    assert estimate(model, hardware, precision=precision).fits is fits


def test_memory_parts_add_up_to_total():
    r = estimate("llama-3.1-70b", "h100-sxm", gpus=4, batch=8)
    parts = r.weights_gib + r.kv_cache_gib + r.activations_gib + r.overhead_gib
    assert r.total_memory_gib == pytest.approx(parts, rel=1e-12)


def test_usable_memory_follows_the_engine_rule(cat):
    h100 = cat.hardware("h100-sxm")
    vllm = cat.engine("vllm")
    r = estimate("llama-3-8b", "h100-sxm", engine="vllm", gpus=2)
    assert r.usable_memory_gib == pytest.approx(2 * h100.memory_gib * vllm.memory_fraction, rel=1e-12)
    # TensorRT-LLM: weights and buffers first, then 90 % of what is free
    t = estimate("llama-3-8b", "h100-sxm", engine="tensorrt-llm")
    static = t.weights_gib + t.activations_gib + t.overhead_gib
    assert t.usable_memory_gib == pytest.approx(static + 0.9 * (h100.memory_gib - static), rel=1e-12)


def test_max_batch_is_the_largest_that_fits():
    for model, hw, gpus in (("llama-3-8b", "l4", 1), ("llama-3.1-70b", "h100-sxm", 4), ("mixtral-8x7b", "a100-80gb", 2)):
        mb = estimate(model, hw, gpus=gpus).max_batch
        assert mb >= 1
        assert estimate(model, hw, gpus=gpus, batch=mb).fits is True
        assert estimate(model, hw, gpus=gpus, batch=mb + 1).fits is False


def test_gpus_needed_is_the_fewest_that_fit():
    r = estimate("llama-3.1-70b", "a100-80gb")
    assert r.fits is False
    n = r.gpus_needed
    assert estimate("llama-3.1-70b", "a100-80gb", gpus=n).fits is True
    assert estimate("llama-3.1-70b", "a100-80gb", gpus=n // 2).fits is False


def test_api_model_memory_is_not_applicable():
    r = estimate("gpt-4o")
    assert r.weights_gib is None and r.total_memory_gib is None and r.fits is None
    assert [n.kind for n in r.notes] == ["not_applicable"] and "not applicable" in r.notes[0].text


def test_paged_engines_round_the_context_up_to_whole_blocks():
    # vLLM 16-token blocks: 1,001 tokens hold 1,008 slots
    r = estimate("llama-3-8b", "h100-sxm", engine="vllm", input_tokens=1000, output_tokens=1)
    assert r.kv_cache_gib * GIB == pytest.approx(1008 * 131_072, rel=1e-12)
    assert math.isclose(memory.tokens_held(1001, 16), 1008)
    assert np.array_equal(memory.tokens_held(np.array([1, 16, 17]), 16), [16, 16, 32])


def test_activation_factor_follows_aiconfigurator_table():
    # c(TP) = 10/6/5/5 dense and 22/13/10/10 MoE for TP 1/2/4/8 (NVIDIA AIConfigurator)
    assert list(memory.activation_factor(np.array([1, 2, 4, 8, 16]), False)) == [10, 6, 5, 5, 5]
    assert list(memory.activation_factor(np.array([1, 2, 4, 8]), True)) == [22, 13, 10, 10]


def test_gpus_needed_is_the_first_count_that_fits_in_a_varied_book():
    # the search skips counts its bound rules out; the oracle tries every count in order:
    # gpus_needed must be the first count whose `fits` is true (NaN when none up to 64)
    from llmcalc_xl import estimate_many
    from llmcalc_xl.core import defaults

    rng = np.random.default_rng(7)
    models = ["llama-3-8b", "llama-3.1-70b", "llama-3.1-405b", "mixtral-8x7b", "deepseek-v3", "qwen3-235b-a22b",
              "gpt-oss-120b", "gemma-2-27b"]
    n = 300
    engine = rng.choice(["vllm", "tensorrt-llm", "llama.cpp"], n)
    book = dict(model=rng.choice(models, n), hardware=rng.choice(["l4", "a100-80gb", "h100-sxm", "rtx-4090", "h200"], n),
                engine=engine, batch=rng.integers(1, 200, n), input_tokens=rng.integers(1, 6000, n),
                output_tokens=rng.integers(1, 2000, n), memory_fraction=rng.choice([0.5, 0.9, 0.95], n),
                precision=np.where(engine == "llama.cpp", rng.choice(["fp16", "q8_0", "q4_k_m"], n),
                                   rng.choice(["fp16", "fp8", "int4"], n)))
    got = estimate_many(**book)
    ok = np.equal(got["error"], None)
    assert ok.sum() > 250
    for split, counts in ((True, defaults.TENSOR_GPU_COUNTS), (False, defaults.LAYER_GPU_COUNTS)):
        rows = ok & ((book["engine"] != "llama.cpp") == split)
        first = np.full(n, np.nan)
        for g in sorted(counts, reverse=True):  # the smallest count that fits is written last
            fit = estimate_many(**book, gpus=g)["fits"] == 1
            first = np.where(rows & fit, g, first)
        assert np.array_equal(got["gpus_needed"][rows], first[rows], equal_nan=True)
        assert (first[rows] > 2).sum() > 20  # rows the bound lets skip counts
    assert np.isnan(got["gpus_needed"][ok]).sum() > 5  # and rows no count holds
