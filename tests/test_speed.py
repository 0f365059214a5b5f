"""Speed: roofline physics, decode and prefill behaviour, against hand arithmetic."""

import pytest

from llmcalc_xl import estimate
from llmcalc_xl.core import speed
from llmcalc_xl.errors import CatalogError

from .engine_files import engine_variant

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
    # per all-reduce 2 x 1/2 x 200e3 / 100e9 = 2 us on the wire, and a tree of depth 1 = 2 hops of
    # 7 us; 2 all-reduces per layer
    assert speed.allreduce_s(2, 10, 100, 1000, 100e9) == pytest.approx(20 * (2e-6 + 2 * 7e-6))
    # 8 GPUs: depth 3 (6 hops), 2 x 7/8 x 200e3 / 100e9 = 3.5 us
    assert speed.allreduce_s(8, 10, 100, 1000, 100e9) == pytest.approx(20 * (3.5e-6 + 6 * 7e-6))
    assert speed.allreduce_s(1, 10, 100, 1000, 100e9) == 0


@pytest.mark.parametrize("gpus, depth", [(1, 0), (2, 1), (3, 2), (4, 2), (8, 3), (9, 4), (72, 7), (1024, 10)])
def test_tree_depth_is_ceil_log2(gpus, depth):
    assert speed.tree_depth(gpus) == depth


# toy-dense (1e9 parameters, 1e6 of them embedding and 1e6 lm_head, 10 layers, 10 heads of 100,
# 2 KV heads, fp16) on toy-gpu (100 TFLOPS, 1000 GB/s), vLLM with MFU = MBU = 0.5 and no fixed
# costs; a 256-token prompt, so each matrix product of the prompt runs at g = 256 / (256 + 256)
# = 0.5 of the MFU (vLLM's prefill_half_tokens is 256).
# C_1, the arithmetic of one prompt: (2 x 0.998e9 x 256 + 2e6 lm_head) FLOPs at 100e12 x 0.5 x 0.5
# = 0.02043912 s, plus attention 4 x 10 x 100 x 10 layers x 256^2 / 2 = 1.31072e9 FLOPs at the
# same rate = 5.24288e-5 s. It is longer than reading the weights (2e9 B at 0.5e12 = 4 ms), so a
# lone prompt's prefill F_1 = C_1.
TOY_LOOP = dict(catalog=[TINY], engine="vllm", input_tokens=256, decode_mfu=0.5, decode_mbu=0.5, prefill_mfu=0.5,
                decode_step_overhead_s=0.0, prefill_overhead_s=0.0)
TOY_C1 = 2 * 0.998e9 * 256 / 25e12 + 2e6 / 25e12 + 1.31072e9 / 25e12


@pytest.mark.parametrize("engine", ["vllm", "sglang"])  # TensorRT-LLM needs an NVIDIA GPU
def test_closed_loop_reduces_to_a_single_request_at_batch_1(engine):
    # batch 1: nothing else runs. TTFT = F_1; TPOT = the weights' read (1.998e9 B, the embedding
    # table is not read) + the KV read at the mean context 256 + 100 / 2 = 306 tokens:
    # 2 x 2 x 100 x 2 B x 10 layers x 306 = 2.448e6 B, both at 0.5e12 B/s. The engines' waits under
    # load (ttft_wait_steps, wave_share, loaded_prefill_factor) need others in flight.
    r = estimate("toy-dense", "toy-gpu", batch=1, output_tokens=100, **dict(TOY_LOOP, engine=engine))
    tpot = 1.998e9 / 0.5e12 + 2.448e6 / 0.5e12
    assert r.ttft_s == pytest.approx(TOY_C1, rel=1e-9)
    assert r.tpot_s == pytest.approx(tpot, rel=1e-9)
    assert r.latency_s == pytest.approx(TOY_C1 + 99 * tpot, rel=1e-9)
    assert r.throughput_tokens_per_s == pytest.approx(100 / (TOY_C1 + 99 * tpot), rel=1e-9)


def _toy_engine(tmp_path, **fields):
    """A user catalog with vLLM's entry under the id toy-engine, with ``fields`` changed (None: the field
    not given)."""
    return str(engine_variant(tmp_path / "engine.toml", "vllm", "toy-engine", "Toy engine", **fields))


# the decode step of 5 sequences on the toy: GEMMs 5 x 1.998e9 FLOPs at 50e12 = 0.2 ms under the
# weights' read of 3.996 ms; attention 5 x 2.448e6 B at 0.5e12 = 24.48 us (its 6.12e7 FLOPs take
# 1.2 us): T_dec = 4.02048 ms
TOY_T_DEC_5 = 3.996e-3 + 2.448e-5


@pytest.mark.parametrize("wait_steps, wave_share, factor", [(0.0, 0.0, 1.0), (2.0, 0.0, 1.0), (0.0, 1.0, 1.0),
                                                           (0.0, 0.0, 3.0), (2.0, 0.1, 1.5)])
def test_closed_loop_of_five_clients_by_hand(tmp_path, wait_steps, wave_share, factor):
    # batch 5, 100 output tokens, a 256-token prompt, chunks of 8192 tokens (vLLM's).
    # A request waits half a running step, its prompt takes ceil(256 / 8192) = 1 step, then it
    # decodes for 99: a cycle of 100.5 steps. 4 other clients each start a request once a cycle:
    # 4 / 100.5 prompts join a step and add their arithmetic, except those ahead of this request in
    # a wave (phi x 4 / 2 of the 4 a cycle), which run before its first token:
    # TPOT = T_dec + (1 - phi / 2) x 4 / 100.5 x C_1 (phi = 1: half of them).
    # TTFT: its own prefill, F_1 = C_1 here, times the engine's factor under load; the running
    # step and the prompt's own step, each a TPOT: (0.5 + 1) x TPOT; the engine's wait, w steps of
    # decodes: w x T_dec; and the share of a wave: (5 - 1) / 2 = 2 prompts ahead, each
    # C_1 + 256 / 8192 x T_dec.
    catalog = [TINY, _toy_engine(tmp_path, ttft_wait_steps=wait_steps, wave_share=wave_share,
                                 loaded_prefill_factor=factor)]
    r = estimate("toy-dense", "toy-gpu", batch=5, output_tokens=100, **dict(TOY_LOOP, catalog=catalog,
                                                                          engine="toy-engine"))
    tpot = TOY_T_DEC_5 + (1 - wave_share / 2) * 4 / 100.5 * TOY_C1
    ttft = (factor * TOY_C1 + (0.5 + 1) * tpot + wait_steps * TOY_T_DEC_5
            + wave_share * 2 * (TOY_C1 + 256 / 8192 * TOY_T_DEC_5))
    assert r.tpot_s == pytest.approx(tpot, rel=1e-9)
    assert r.ttft_s == pytest.approx(ttft, rel=1e-9)
    # the 5 requests run side by side, each for its latency
    assert r.throughput_tokens_per_s == pytest.approx(5 * 100 / (ttft + 99 * tpot), rel=1e-9)


@pytest.mark.parametrize("wave_share", [0.0, 1.0])
def test_joining_prompts_add_their_all_reduce_traffic(tmp_path, wave_share):
    # The closed loop of five above on 2 toy GPUs (tensor parallel 2, 10 layers, hidden 1000, link
    # 100 GB/s), against the same GPUs with a link 10,000 times as fast (1e6 GB/s): only the
    # collectives' bandwidth terms differ (their hop latencies are the same), by 1 - 1e-4 of the toy's. Each layer all-reduces
    # its tokens twice, each 2 (2 - 1) / 2 x tokens x 1000 x 2 B over 1e11 B/s:
    # - the decode step of 5 tokens: 2 x 10 x 5 x 2000 / 1e11 = 2e-6 s;
    # - a joining 256-token prompt adds its tokens to a step's all-reduces: 2 x 10 x 256 x 2000 / 1e11
    #   = 1.024e-4 s, as a lone prompt's prefill pays;
    # - (1 - phi / 2) x 4 / 100.5 prompts join a step; phi x 2 prompts ahead in a wave, each with its
    #   traffic and 256 / 8192 of a step's.
    fast = tmp_path / "fast.toml"
    fast.write_text('[[hardware]]\nid = "toy-gpu-fast-link"\nname = "Toy GPU, fast link"\nkind = "gpu"\n'
                    'memory_gib = 10\nbandwidth_gb_s = 1000\ntflops_fp16 = 100\ninterconnect_gb_s = 1e6\n'
                    'price_usd_per_hour = 2.0\nprice_source = "test"\nprice_as_of = "2026-01-01"\n'
                    'source = "test"\nas_of = "2026-01-01"\n')
    catalog = [TINY, str(fast), _toy_engine(tmp_path, ttft_wait_steps=0.0, wave_share=wave_share,
                                            loaded_prefill_factor=1.0, allreduce_bandwidth_share=None)]
    args = dict(TOY_LOOP, catalog=catalog, engine="toy-engine", gpus=2, batch=5, output_tokens=100)
    slow, quick = estimate("toy-dense", "toy-gpu", **args), estimate("toy-dense", "toy-gpu-fast-link", **args)
    step, prompt = 2e-6 * (1 - 1e-4), 1.024e-4 * (1 - 1e-4)
    d_tpot = step + (1 - wave_share / 2) * 4 / 100.5 * prompt
    assert slow.tpot_s - quick.tpot_s == pytest.approx(d_tpot, rel=1e-6)
    # TTFT: its own prefill's traffic, 1.5 loaded steps, and the wave's prompts ahead
    d_ttft = prompt + 1.5 * d_tpot + wave_share * 2 * (prompt + 256 / 8192 * step)
    assert slow.ttft_s - quick.ttft_s == pytest.approx(d_ttft, rel=1e-6)


@pytest.mark.parametrize("share", [0.5, 0.25])
def test_allreduce_bandwidth_share_divides_the_link_for_the_collectives(tmp_path, share):
    # The closed loop of five on 2 toy GPUs above (link 100 GB/s, wave_share 0), with the engine's
    # collectives at a share s of the link against the same engine at the whole link: every
    # collective's bytes take 1 / s times as long, so each bandwidth term above grows by (1 / s - 1)
    # of itself, and the hop latencies stay:
    # - the decode step of 5 tokens: 2 x 10 x 5 x 2000 / 1e11 = 2e-6 s at the whole link;
    # - a joining 256-token prompt: 2 x 10 x 256 x 2000 / 1e11 = 1.024e-4 s, 4 / 100.5 of one a step.
    def run(**fields):
        catalog = [TINY, _toy_engine(tmp_path, ttft_wait_steps=0.0, wave_share=0.0, loaded_prefill_factor=1.0,
                                     **fields)]
        return estimate("toy-dense", "toy-gpu", **dict(TOY_LOOP, catalog=catalog, engine="toy-engine", gpus=2,
                                                      batch=5, output_tokens=100))
    whole, part = run(allreduce_bandwidth_share=1.0), run(allreduce_bandwidth_share=share)
    assert run(allreduce_bandwidth_share=None).tpot_s == pytest.approx(whole.tpot_s, rel=1e-12)  # 1 if not given
    more = 1.0 / share - 1.0
    d_tpot = more * (2e-6 + 4 / 100.5 * 1.024e-4)
    assert part.tpot_s - whole.tpot_s == pytest.approx(d_tpot, rel=1e-6)
    # TTFT: its own prefill's traffic and 1.5 loaded steps
    assert part.ttft_s - whole.ttft_s == pytest.approx(more * 1.024e-4 + 1.5 * d_tpot, rel=1e-6)


def test_allreduce_bandwidth_share_over_one_is_a_load_error(tmp_path):
    with pytest.raises(CatalogError, match=r"'toy-engine': allreduce_bandwidth_share must be above 0 and at most 1 "
                                           r"\(a share of the link\), got 1\.5\. Fix the entry and load again\."):
        estimate("toy-dense", "toy-gpu", **dict(TOY_LOOP, catalog=[TINY, _toy_engine(
            tmp_path, allreduce_bandwidth_share=1.5)], engine="toy-engine"))


def test_single_sequence_decode_is_memory_bound_on_the_toy():
    # toy-dense: 1e9 params fp16 = 2e9 B; embedding 1e6 params not read -> 1.998e9 B per step
    # toy-gpu 1000 GB/s x vLLM MBU; engine fixed step cost added
    overrides = dict(decode_mbu=0.5, decode_step_overhead_s=0.0)
    r = estimate("toy-dense", "toy-gpu", catalog=[TINY], engine="vllm", input_tokens=10, output_tokens=10,
                 **overrides)
    weights_read = (1e9 - 1e6) * 2
    kv_read = 2 * 10 * 2 * 100 * 2 * (10 + 10 / 2)
    assert r.tpot_s == pytest.approx((weights_read + kv_read) / (1000e9 * 0.5), rel=1e-9)


def test_decode_step_is_two_rooflines_that_add():
    # toy-dense, fp16, batch 1000, 10 + 10 tokens (mean context 15), HF transformers (a static
    # batch: no prompt shares a decode step), one GPU (no communication), MFU = MBU = 0.5:
    # GEMMs: 1000 x (2 x (1e9 - 2 x 1e6) + 2 x 1e6 lm_head) = 1.998e12 FLOPs at 100e12 x 0.5
    #        = 39.96 ms, against 1.998e9 B of weights at 1000e9 x 0.5 = 4.0 ms: compute-bound
    # attention: KV read 1000 x 2 x 2 heads x 100 x 2 B x 10 layers x 15 = 1.2e8 B at 0.5e12
    #        = 0.24 ms, against 1000 x 4 x 10 x 100 x 150 = 6e8 FLOPs = 0.012 ms: memory-bound
    # the step is their sum; one max(FLOPs, bytes) over both would have been 39.972 ms
    r = estimate("toy-dense", "toy-gpu", catalog=[TINY], engine="transformers", batch=1000, input_tokens=10,
                 output_tokens=10, decode_mfu=0.5, decode_mbu=0.5, decode_step_overhead_s=0.0)
    assert r.tpot_s == pytest.approx(1.998e12 / 50e12 + 1.2e8 / 0.5e12, rel=1e-9)


def test_moe_decode_reads_more_experts_as_the_batch_grows():
    # long answers, so that the other clients' prompts (7 per 1000 steps) hardly share the steps
    one = estimate("mixtral-8x7b", "h100-sxm", gpus=2, batch=1, input_tokens=100, output_tokens=1000)
    many = estimate("mixtral-8x7b", "h100-sxm", gpus=2, batch=8, input_tokens=100, output_tokens=1000)
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
