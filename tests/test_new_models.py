"""The 2026 open models added from their config.json: Gemma 4, MiMo-V2-Flash, MiniMax-M3 and
Step-3.7-Flash. Their parameter counts come from an independent counter (Hugging Face
transformers 5.24.0 building each model on the meta device, the `source` of each entry); the
routed experts and every memory figure are worked by hand here from the config."""

import pytest

from llmcalc_xl import estimate, load_catalog
from llmcalc_xl.workbook import formulas as F
from llmcalc_xl.workbook.build import build_workbook, save_atomically

from .spreadsheets import core_of, load_values, mismatches, needs_libreoffice, recalculate, scenario_outputs

GIB = 2**30

# (id, language-model parameters by transformers 5.24.0 (plus stored router biases where the entry
# says so), routed experts from the config by hand: MoE layers x experts x 3 x hidden x expert width,
# experts, experts per token)
COUNTS = [
    # 30 layers, all MoE, 128 experts of 704 over hidden 2816
    ("gemma-4-26b-a4b", 25_233_141_760, 30 * 128 * 3 * 2816 * 704, 128, 8),
    ("gemma-4-31b", 30_697_345_280, 0, 0, 0),
    # 47 MoE layers (the first is dense), 256 experts of 2048 over hidden 4096
    ("mimo-v2-flash", 308_778_768_832, 47 * 256 * 3 * 4096 * 2048, 256, 8),
    # 57 MoE layers (3 dense), 128 experts of 3072 over hidden 6144
    ("minimax-m3", 426_174_572_928, 57 * 128 * 3 * 6144 * 3072, 128, 4),
    # 42 MoE layers (3 dense), 288 experts of 1280 over hidden 4096
    ("step-3.7-flash", 195_844_508_736, 42 * 288 * 3 * 4096 * 1280, 288, 8),
    # every layer MoE: 43 x 256 experts of 2048 over hidden 4096; 61 x 384 of 3072 over 7168
    ("deepseek-v4-flash", 284_332_230_231, 43 * 256 * 3 * 4096 * 2048, 256, 6),
    ("deepseek-v4-pro", 1_572_997_179_491, 61 * 384 * 3 * 7168 * 3072, 384, 6),
]


@pytest.mark.parametrize("model_id, params, routed, experts, k", COUNTS, ids=[c[0] for c in COUNTS])
def test_counts_and_active_parameters(cat, model_id, params, routed, experts, k):
    m = cat.model(model_id)
    assert m.params_b * 1e9 == pytest.approx(params, abs=0.5)
    # a token passes through all but the routed experts it is not sent to
    active = params - (routed * (experts - k) // experts if experts else 0)
    assert m.active_params_b * 1e9 == pytest.approx(active, abs=0.5)


def test_published_rounded_counts(cat):
    # Gemma 4 26B-A4B: 25.2B total, 3.8B active; 31B: 30.7B; MiMo-V2-Flash: 309B / 15B
    assert round(cat.model("gemma-4-26b-a4b").params_b, 1) == 25.2
    assert round(cat.model("gemma-4-26b-a4b").active_params_b, 1) == 3.8
    assert round(cat.model("gemma-4-31b").params_b, 1) == 30.7
    assert round(cat.model("mimo-v2-flash").params_b) == 309 and round(cat.model("mimo-v2-flash").active_params_b) == 15


def test_gemma_4_global_layers_keep_their_own_kv_heads():
    # Gemma 4 31B on one GPU, fp16 KV, vLLM (16-token blocks), 32,000 + 768 tokens = 32,768 held:
    # 50 sliding layers hold the 1,024-token window at 2 x 16 heads x 256 x 2 bytes = 16,384 B a token,
    # 10 global layers hold all 32,768 tokens at 2 x 4 heads x 512 x 2 bytes = 8,192 B a token
    r = estimate("gemma-4-31b", "b200", gpus=1, engine="vllm", input_tokens=32_000, output_tokens=768,
                 kv_precision="fp16")
    want = 50 * 1024 * 16_384 + 10 * 32_768 * 8_192
    assert r.kv_cache_gib * GIB == pytest.approx(want, rel=1e-12)  # 3.5 GiB; 16 heads everywhere: 5.8


def test_gemma_4_global_heads_replicate_under_tensor_parallelism():
    # 26B-A4B on 4 GPUs: sliding layers 8 KV heads (2 a GPU), global layers 2 KV heads, one copy on
    # each of the 4 GPUs (ceil(2 / 4) x 4 = 4 held); 8,000 + 192 tokens = 8,192 held
    r = estimate("gemma-4-26b-a4b", "h100-sxm", gpus=4, engine="vllm", input_tokens=8_000, output_tokens=192,
                 kv_precision="fp16")
    want = 25 * 1024 * (2 * 8 * 256 * 2) + 5 * 8_192 * (2 * 4 * 512 * 2)
    assert r.kv_cache_gib * GIB == pytest.approx(want, rel=1e-12)


def test_window_layers_an_engine_keeps_whole_keep_their_own_heads(tmp_path):
    # an engine that does not free what leaves the window: the 50 sliding layers hold every token,
    # still at 16 heads of 256; the 10 global layers at 4 of 512
    path = tmp_path / "engine.toml"
    path.write_text('[[engines]]\nid = "vllm"\nsliding_window_saves_memory = false\nsource = "t"\n'
                    'as_of = "2026-11-30"\n')
    r = estimate("gemma-4-31b", "b200", gpus=1, engine="vllm", input_tokens=32_000, output_tokens=768,
                 kv_precision="fp16", catalog=load_catalog([path]))
    assert r.kv_cache_gib * GIB == pytest.approx(50 * 32_768 * 16_384 + 10 * 32_768 * 8_192, rel=1e-12)


def test_mimo_v2_flash_keys_of_192_and_values_of_128():
    # fp8 KV (1 byte), one GPU's worth of heads (TP 1), 64,000 tokens held:
    # 39 sliding layers hold 128 tokens x 8 heads x (192 + 128); 9 full layers 64,000 x 4 x (192 + 128)
    r = estimate("mimo-v2-flash", "b200", gpus=2, engine="vllm", input_tokens=63_000, output_tokens=1_000,
                 kv_precision="fp8")
    # TP 2: 8 heads stay 8, 4 heads stay 4 (both divisible)
    want = 39 * 128 * 8 * 320 + 9 * 64_000 * 4 * 320
    assert r.kv_cache_gib * GIB == pytest.approx(want, rel=1e-12)
    assert r.precision == "fp8"  # the checkpoint's native format


def test_gemma_4_nvfp4_checkpoints():
    # 31B: all but attention (8,477,772,800 parameters of self_attn by transformers 5.24.0) in NVFP4;
    # the tied table (262,144 x 5,376) at 16 bits
    table = 262_144 * 5_376
    params, attention = 30_697_345_280, 8_477_772_800
    r = estimate("nvidia/Gemma-4-31B-IT-NVFP4", "b200", gpus=1)
    assert r.precision == "fp4"
    assert r.weights_gib * GIB == pytest.approx((params - table - attention) * 4.5 / 8 + (attention + table) * 2,
                                                rel=1e-12)
    # 26B-A4B: the routed experts only in NVFP4
    table, params, routed = 262_144 * 2_816, 25_233_141_760, 30 * 128 * 3 * 2816 * 704
    r = estimate("nvidia/Gemma-4-26B-A4B-NVFP4", "b200", gpus=1)
    assert r.weights_gib * GIB == pytest.approx(routed * 4.5 / 8 + (params - routed) * 2, rel=1e-9)


def test_deepseek_v4_compressed_attention_holds_a_window_and_pooled_entries():
    # V4-Flash on 2 GPUs, fp16 KV, 99,000 + 1,000 = 100,000 tokens. One 512-value K=V entry a token,
    # a copy on each GPU: 512 x 2 bytes x 2 = 2,048 B. Every one of the 43 layers holds the 128-token
    # window; the 21 CSA layers also ceil(100,000 / 4) = 25,000 pooled entries, each with an fp8 indexer
    # key of 128 values (+ an fp32 scale per 128: 132 bytes); the 20 HCA layers ceil(100,000 / 128) = 782
    r = estimate("deepseek-v4-flash", "b200", gpus=2, engine="vllm", input_tokens=99_000, output_tokens=1_000,
                 kv_precision="fp16")
    want = 2_048 * (43 * 128 + 21 * 25_000 + 20 * 782) + 21 * 25_000 * 132
    assert r.kv_cache_gib * GIB == pytest.approx(want, rel=1e-12)  # 1.11 GiB, where 43 full MLA layers: 8.2
    # the same context on DeepSeek-V3.2 (61 MLA layers of 576 values, all tokens, an indexer key each)
    v32 = estimate("deepseek-v3.2", "b200", gpus=2, engine="vllm", input_tokens=99_000, output_tokens=1_000,
                   kv_precision="fp16")
    assert v32.kv_cache_gib * GIB == pytest.approx(61 * 100_000 * (576 * 2 * 2 + 132), rel=1e-12)


def test_deepseek_v4_ships_fp4_experts():
    # native: the routed experts in FP4 with a UE8M0 scale per 32 (4.25 bits), the rest counted at 16 bits
    params, routed = 284_332_230_231, 43 * 256 * 3 * 4096 * 2048
    r = estimate("deepseek-v4-flash", "b200", gpus=2)
    assert r.precision == "mxfp4"
    assert r.weights_gib * GIB == pytest.approx(routed * 4.25 / 8 + (params - routed) * 2, rel=1e-12)
    # the FP8 copy: every body weight at 8 bits, the tables (2 x 129,280 x 4,096) at 16
    tables = 2 * 129_280 * 4_096
    r = estimate("sgl-project/DeepSeek-V4-Flash-FP8", "b200", gpus=2)
    assert r.precision == "fp8" and r.weights_gib * GIB == pytest.approx(params - tables + 2 * tables, rel=1e-12)


def test_compressed_layers_read_their_top_k_or_all_entries():
    # decode reads: at a 100,000-token context a CSA layer reads its top 512 of 25,000 entries, an HCA
    # layer all of its 782: more context costs the HCA layers a little and the CSA layers nothing more
    near = estimate("deepseek-v4-flash", "b200", gpus=2, input_tokens=99_000, output_tokens=2)
    far = estimate("deepseek-v4-flash", "b200", gpus=2, input_tokens=499_000, output_tokens=2)
    assert far.tpot_s > near.tpot_s


def test_compressed_attention_fields_go_together(tmp_path):
    path = tmp_path / "bad.toml"
    for extra, message in [
        ("kv_compression_tokens = 0", "compressed_attention_layers and kv_compression_tokens go together"),
        ("sliding_window_layers = 40", "compressed_attention_layers + heavily_compressed_layers (41) must be <= "
                                       "sliding_window_layers (40)"),
    ]:
        path.write_text(f'[[models]]\nid = "deepseek-v4-flash"\n{extra}\nsource = "t"\nas_of = "2026-11-30"\n')
        with pytest.raises(Exception) as caught:
            load_catalog([path])
        assert message in str(caught.value)


ROWS = [dict(scenario="gemma 31b long", model="gemma-4-31b", hardware="h200", gpus=1, input_tokens=100_000,
             output_tokens=2_000),
        dict(scenario="gemma 26b tp4", model="gemma-4-26b-a4b", hardware="h100-sxm", gpus=4, input_tokens=20_000,
             output_tokens=500, batch=8),
        dict(scenario="gemma 31b nvfp4", model="nvidia/Gemma-4-31B-IT-NVFP4", hardware="b200", gpus=1),
        dict(scenario="mimo", model="mimo-v2-flash", hardware="b200", gpus=4, input_tokens=50_000,
             output_tokens=1_000),
        dict(scenario="minimax m3", model="minimax-m3", hardware="b200", gpus=8, input_tokens=50_000),
        dict(scenario="step", model="step-3.7-flash", hardware="h200", gpus=8, input_tokens=30_000),
        dict(scenario="v4 flash long", model="deepseek-v4-flash", hardware="b200", gpus=2, input_tokens=200_000,
             output_tokens=2_000, batch=4),
        dict(scenario="v4 pro nvfp4", model="nvidia/DeepSeek-V4-Pro-NVFP4", hardware="b200", gpus=8,
             input_tokens=30_000)]


def test_the_workbook_stores_the_same_numbers(tmp_path):
    path = save_atomically(build_workbook(ROWS), tmp_path / "new.xlsx")
    got = scenario_outputs(load_values(path)["Scenarios"], len(ROWS))
    assert mismatches("stored values", ROWS, core_of(ROWS), got, F.OUTPUT_KEYS, "n/a", no_fit="does not fit") == []


@needs_libreoffice
def test_libreoffice_computes_the_same_numbers(tmp_path):
    path = save_atomically(build_workbook(ROWS), tmp_path / "new.xlsx")
    wb = load_values(recalculate(path, tmp_path))
    got = scenario_outputs(wb["Scenarios"], len(ROWS))
    assert mismatches("LibreOffice", ROWS, core_of(ROWS), got, F.OUTPUT_KEYS, "n/a", no_fit="does not fit") == []


def test_kimi_k3_latent_experts_and_delta_attention_state():
    # routed experts: 92 MoE layers x 896 experts x 3 x latent 3,584 x 3,072 (exact); active: 16 of 896
    params, routed = 2_785_387_506_272, 92 * 896 * 3 * 3584 * 3072
    r = estimate("kimi-k3", "b300", gpus=8, input_tokens=99_000, output_tokens=1_000, engine="vllm",
                 kv_precision="fp16")
    assert r.precision == "mxfp4"  # the experts in MXFP4 (4.25 bits), the rest at 16 bits
    assert r.weights_gib * GIB == pytest.approx(routed * 4.25 / 8 + (params - routed) * 2, rel=1e-12)
    # 24 MLA layers cache 576 values a token (one copy on each of 8 GPUs); 69 KDA layers a fixed state of
    # 96 x 128 x 128 + 3 x 3 x 12,288 values at 2 bytes
    state = 96 * 128 * 128 + 3 * 3 * 96 * 128
    assert r.kv_cache_gib * GIB == pytest.approx(24 * 100_000 * 576 * 2 * 8 + 69 * state * 2, rel=1e-12)


def test_kimi_k3_shapes_are_its_config_s(cat):
    import json
    from pathlib import Path

    text = json.loads((Path(__file__).parent / "data" / "model_configs" / "moonshotai--Kimi-K3_config.json")
                      .read_text())["text_config"]
    m, linear = cat.model("kimi-k3"), text["linear_attn_config"]
    assert (m.experts, m.experts_per_token, m.shared_experts) == (text["num_experts"], text["num_experts_per_token"],
                                                                  text["num_shared_experts"])
    assert (m.layers, m.linear_attention_layers) == (text["num_hidden_layers"], len(linear["kda_layers"]))
    assert len(linear["full_attn_layers"]) == m.layers - m.linear_attention_layers == 24
    # the routed experts work in the latent width: 92 MoE layers x E x 3 x 3,584 x 3,072
    routed = (m.layers - text["first_k_dense_replace"]) * m.experts * 3 * text["routed_expert_hidden_size"] * \
        text["moe_intermediate_size"]
    assert (m.params_b - m.active_params_b) * 1e9 == pytest.approx(routed * (1 - 16 / 896), rel=1e-12)
    assert m.linear_state_elements == linear["num_heads"] * linear["head_dim"] ** 2 + \
        (linear["short_conv_kernel_size"] - 1) * 3 * linear["num_heads"] * linear["head_dim"]
