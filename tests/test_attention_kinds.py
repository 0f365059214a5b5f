"""Attention beyond full, sliding-window and MLA: linear-attention layers (a fixed state), chunked
local attention (Llama 4) and DeepSeek sparse attention (an indexer picks the top k keys).

Every expected number is worked out by hand below from the model's numbers; a synthetic model
keeps the arithmetic readable (one-layer differences show each term)."""

import pytest

from llmcalc_xl import estimate, load_catalog
from llmcalc_xl.core import speed
from llmcalc_xl.workbook import formulas as F
from llmcalc_xl.workbook.build import build_workbook, save_atomically

from .engine_files import engine_variant
from .spreadsheets import core_of, load_values, mismatches, needs_libreoffice, recalculate, scenario_outputs

BASE = """
[[models]]
id = "{id}"
name = "Test {id}"
params_b = 20.0
active_params_b = 20.0
layers = 48
hidden_size = 4096
intermediate_size = 12288
heads = 32
kv_heads = 4
head_dim = 128
vocab_size = 100000
context_length = 131072
source = "synthetic test model"
as_of = "2026-11-30"
{extra}
"""

MODELS = {
    "plain": "",
    "hybrid": "linear_attention_layers = 36\nlinear_state_elements = 1000000",
    "chunked": "chunked_attention_layers = 36\nattention_chunk_tokens = 1024",
    "sparse": "sparse_attention_top_k = 2048\nindexer_heads = 64\nindexer_head_dim = 128",
}
GIB = 2**30
# 2 (K and V) x 4 KV heads x 128 dims x 2 bytes (fp16 cache) per token per layer
PER_TOKEN_LAYER = 2 * 4 * 128 * 2


@pytest.fixture(scope="module")
def cat(tmp_path_factory):
    path = tmp_path_factory.mktemp("attention") / "models.toml"
    path.write_text("".join(BASE.format(id=k, extra=v) for k, v in MODELS.items()))
    return load_catalog([path])


def kv(cat, model, **kw):
    # 8,000 prompt tokens + 192 answer tokens: 8,192 in context, 512 vLLM blocks of 16
    return estimate(model, "h100-sxm", catalog=cat, input_tokens=8000, output_tokens=192, **kw)


def test_linear_attention_layers_hold_a_fixed_state_not_a_kv_cache(cat):
    # 12 attention layers x 8,192 tokens x 2,048 B, plus 36 layers x 1,000,000 elements x 2 B of state
    want = (12 * 8192 * PER_TOKEN_LAYER + 36 * 1_000_000 * 2) / GIB
    assert kv(cat, "hybrid").kv_cache_gib == pytest.approx(want, rel=1e-12)
    assert kv(cat, "plain").kv_cache_gib == pytest.approx(48 * 8192 * PER_TOKEN_LAYER / GIB, rel=1e-12)
    # the state does not grow with the context: 8,000 more tokens add KV to the 12 attention layers only
    longer = estimate("hybrid", "h100-sxm", catalog=cat, input_tokens=16000, output_tokens=192)
    assert (longer.kv_cache_gib - kv(cat, "hybrid").kv_cache_gib) * GIB == pytest.approx(
        12 * 8000 * PER_TOKEN_LAYER, rel=1e-12)


def test_chunked_attention_layers_hold_one_chunk(cat):
    # 12 global layers hold 8,192 tokens, 36 chunked layers 1,024 (vLLM frees what falls out of a chunk)
    want = (12 * 8192 + 36 * 1024) * PER_TOKEN_LAYER / GIB
    assert kv(cat, "chunked").kv_cache_gib == pytest.approx(want, rel=1e-12)
    # below one chunk of context, the chunked layers hold the whole context too
    short = estimate("chunked", "h100-sxm", catalog=cat, input_tokens=800, output_tokens=200)
    assert short.kv_cache_gib == pytest.approx(48 * 1008 * PER_TOKEN_LAYER / GIB, rel=1e-12)  # 63 blocks of 16


def test_sparse_attention_keeps_indexer_keys_beside_the_kv_cache(cat):
    # every token keeps its KV (sparse attention reads 2,048 of them) and a 128-value fp8 indexer key with
    # one fp32 scale: 132 bytes a token a layer
    want = 48 * 8192 * (PER_TOKEN_LAYER + 132) / GIB
    assert kv(cat, "sparse").kv_cache_gib == pytest.approx(want, rel=1e-12)


def test_sparse_attention_reads_fewer_keys_at_long_context(cat):
    """At 100,000 tokens of context each decode step reads 2,048 tokens of KV a layer instead of ~100,000
    (plus the small indexer keys of all of them), so a step is faster than the dense model's."""
    long = dict(input_tokens=100_000, output_tokens=1000, batch=8)
    sparse = estimate("sparse", "h100-sxm", catalog=cat, gpus=2, **long)
    dense = estimate("plain", "h100-sxm", catalog=cat, gpus=2, **long)
    assert sparse.tpot_s < dense.tpot_s
    short = dict(input_tokens=1000, output_tokens=100)  # below the top k, only the indexer is extra
    assert estimate("sparse", "h100-sxm", catalog=cat, **short).tpot_s >= estimate(
        "plain", "h100-sxm", catalog=cat, **short).tpot_s


def _sglang_with(tmp_path, seconds):
    """A user catalog with SGLang's shipped entry under the id sglang-test, its
    sparse_attention_overhead_s_per_layer set to ``seconds``."""
    return engine_variant(tmp_path / f"engine_{seconds}.toml", "sglang", "sglang-test", "SGLang test",
                          sparse_attention_overhead_s_per_layer=seconds)


@pytest.mark.parametrize("batch", [1, 8])
def test_sparse_attention_layers_add_the_engines_fixed_cost_to_each_decode_step(tmp_path, batch):
    """An engine's sparse_attention_overhead_s_per_layer is paid in every layer that runs an indexer, once a
    decode step, whatever the batch: the sparse model's 48 layers at 100 us each add 4.8 ms to TPOT; the dense
    model, with no indexer, pays nothing."""
    models = tmp_path / "models.toml"
    models.write_text("".join(BASE.format(id=k, extra=v) for k, v in MODELS.items()))
    work = dict(engine="sglang-test", input_tokens=1000, output_tokens=100, batch=batch, gpus=2)
    for model, added_s in (("sparse", 48 * 1e-4), ("plain", 0.0)):
        slow = estimate(model, "h100-sxm", catalog=[models, _sglang_with(tmp_path, 1e-4)], **work)
        fast = estimate(model, "h100-sxm", catalog=[models, _sglang_with(tmp_path, 0.0)], **work)
        assert slow.tpot_s - fast.tpot_s == pytest.approx(added_s, abs=1e-12)


@pytest.mark.parametrize("tokens, chunk, pairs", [
    (8000, 1024, 7 * 1024**2 / 2 + 832**2 / 2),  # 7 whole chunks and 832 tokens in the eighth
    (1000, 1024, 1000**2 / 2),  # less than one chunk: causal attention
    (2048, 1024, 2 * 1024**2 / 2),
    (500, 0, 500**2 / 2),  # no chunking
])
def test_chunked_attention_pairs(tokens, chunk, pairs):
    assert speed.chunked_pairs(tokens, chunk) == pytest.approx(pairs, rel=1e-12)


def test_indexer_and_linear_attention_flops():
    # 64 heads x 128 dims x 2 FLOPs a scored pair, 1,000 pairs, 3 layers
    assert speed.indexer_flops(1000, 3, 64, 128) == 2 * 64 * 128 * 1000 * 3
    # 4 FLOPs per state element per token: 10 tokens, 2 layers, 1e6 elements
    assert speed.linear_attention_flops(10, 2, 1e6) == 4 * 1e6 * 10 * 2


@needs_libreoffice
def test_the_workbook_computes_the_new_attention_kinds_like_the_core(cat, tmp_path):
    """The Calc sheet comes from the same physics: LibreOffice gives the core's numbers for each kind."""
    rows = [dict(scenario=m, model=m, hardware="h100-sxm", input_tokens=8000, output_tokens=192, batch=4)
            for m in MODELS] + [dict(scenario="long sparse", model="sparse", hardware="h100-sxm", gpus=2,
                                     input_tokens=100_000, output_tokens=1000, batch=8)]
    path = save_atomically(build_workbook(rows, catalog=cat), tmp_path / "kinds.xlsx")
    got = scenario_outputs(load_values(recalculate(path, tmp_path))["Scenarios"], len(rows))
    assert mismatches("LibreOffice", rows, core_of(rows, cat), got, F.OUTPUT_KEYS, "n/a",
                      no_fit="does not fit") == []
