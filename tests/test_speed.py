"""Speed: roofline physics, decode and prefill behaviour, against hand arithmetic."""

import pytest

from llmcalc_xl import estimate
from llmcalc_xl.core import speed

TINY = "tests/data/tiny.toml"


def test_causal_attention_pairs():
    # sum_{i=1..P} i ~ P^2 / 2; a window W caps each query at W keys
    assert speed.attended_pairs(1000, 0) == 500_000
    assert speed.attended_pairs(1000, 100) == 100 * 100 / 2 + 900 * 100
    assert speed.attended_pairs(50, 100) == 50 * 50 / 2


def test_expected_share_of_experts_touched():
    assert speed.experts_touched_share(8, 2, 1) == pytest.approx(0.25)
    assert speed.experts_touched_share(8, 2, 2) == pytest.approx(1 - 0.75**2)
    assert speed.experts_touched_share(256, 8, 1000) == pytest.approx(1.0, abs=1e-12)
    assert speed.experts_touched_share(0, 0, 5) == 0


def test_allreduce_cost():
    # 2 GPUs, 10 layers, 100 tokens x 1000 hidden x 2 B = 200 kB; 100 GB/s link:
    # per all-reduce 2 x 1/2 x 200e3 / 100e9 = 2 us + 8 us latency; 2 per layer
    assert speed.allreduce_s(2, 10, 100, 1000, 100e9) == pytest.approx(20 * (2e-6 + 8e-6))
    assert speed.allreduce_s(1, 10, 100, 1000, 100e9) == 0


def test_single_sequence_decode_is_memory_bound_on_the_toy():
    # toy-dense: 1e9 params fp16 = 2e9 B; embedding 1e6 params not read -> 1.998e9 B per step
    # toy-gpu 1000 GB/s x vLLM MBU; engine fixed step cost added
    overrides = dict(decode_mbu=0.5, decode_step_overhead_s=0.0)
    r = estimate("toy-dense", "toy-gpu", catalog=[TINY], engine="vllm", input_tokens=10, output_tokens=10,
                 **overrides)
    weights_read = (1e9 - 1e6) * 2
    kv_read = 2 * 10 * 2 * 100 * 2 * (10 + 10 / 2)
    assert r.tpot_s == pytest.approx((weights_read + kv_read) / (1000e9 * 0.5), rel=1e-9)


def test_moe_decode_reads_more_experts_as_the_batch_grows():
    one = estimate("mixtral-8x7b", "h100-sxm", gpus=2, batch=1, input_tokens=100, output_tokens=10)
    many = estimate("mixtral-8x7b", "h100-sxm", gpus=2, batch=8, input_tokens=100, output_tokens=10)
    # batch 8 touches ~90% of experts against 25%: per-step time grows, per-token time falls
    assert many.tpot_s > 1.5 * one.tpot_s
    assert many.throughput_tokens_per_s > 3 * one.throughput_tokens_per_s


def test_tensor_parallel_decode_is_faster_but_not_linear():
    one = estimate("llama-3-8b", "h100-sxm", gpus=1).tpot_s
    two = estimate("llama-3-8b", "h100-sxm", gpus=2).tpot_s
    assert one / 2 < two < one


def test_latency_is_ttft_plus_decode_steps():
    r = estimate("llama-3-8b", "a100-80gb", input_tokens=2000, output_tokens=300)
    assert r.latency_s == pytest.approx(r.ttft_s + 299 * r.tpot_s, rel=1e-12)
    assert r.decode_tokens_per_s == pytest.approx(1 / r.tpot_s, rel=1e-12)
    assert r.prefill_tokens_per_s == pytest.approx(2000 / r.ttft_s, rel=1e-12)


def test_dense_tflops_fallback_for_fp8_on_a100():
    # the A100 has no FP8 units: FP8 weights compute at the 16-bit rate, so a long prefill
    # takes about as long as in fp16 (it moves half the bytes, but it is compute-bound)
    fp8 = estimate("llama-3-8b", "a100-80gb", precision="fp8", input_tokens=8000, output_tokens=1).ttft_s
    fp16 = estimate("llama-3-8b", "a100-80gb", precision="fp16", input_tokens=8000, output_tokens=1).ttft_s
    assert fp8 == pytest.approx(fp16, rel=0.02)
    h_fp8 = estimate("llama-3-8b", "h100-sxm", precision="fp8", input_tokens=8000, output_tokens=1).ttft_s
    h_fp16 = estimate("llama-3-8b", "h100-sxm", precision="fp16", input_tokens=8000, output_tokens=1).ttft_s
    assert h_fp8 < 0.7 * h_fp16


def test_api_model_speed_from_catalog(cat):
    m = cat.model("gpt-4o")
    r = estimate("gpt-4o", input_tokens=100, output_tokens=101)
    assert r.ttft_s == pytest.approx(m.ttft_s)
    assert r.latency_s == pytest.approx(m.ttft_s + 100 / m.output_tokens_per_s)
