"""A checkpoint that quantises its routed experts only (native_precision_scope "experts"): the
experts at the native format's bits, every other weight at 16 bits. Expected bytes are worked by
hand from each model's config.json (tests/data/model_configs/) and the format's bits."""

import pytest

from llmcalc_xl import CatalogError, estimate, load_catalog
from llmcalc_xl.workbook import formulas as F
from llmcalc_xl.workbook.build import build_workbook, save_atomically

from .spreadsheets import core_of, load_values, mismatches, needs_libreoffice, recalculate, scenario_outputs

GIB = 2**30

# Kimi K2.5 (config.json text_config): 61 layers, first_k_dense_replace 1, so 60 MoE layers of 384
# routed experts, each gate/up/down of hidden 7168 x moe_intermediate_size 2048; vocab 163,840,
# untied. 1,026,408,232,448 parameters in all (the catalog's count).
KIMI_PARAMS = 1_026_408_232_448
KIMI_EXPERTS = 60 * 384 * 3 * 7168 * 2048                      # 1,014,686,023,680
KIMI_REST = KIMI_PARAMS - KIMI_EXPERTS                        # attention, shared experts, layer 0, tables
# quantization_config: int4, symmetric, group 32, one 16-bit scale a group: 4 + 16/32 = 4.5 bits
KIMI_NATIVE_BYTES = KIMI_EXPERTS * 4.5 / 8 + KIMI_REST * 2    # 594,205,305,856
KIMI_TABLES = 2 * 163_840 * 7168                               # embedding + lm_head

# gpt-oss-120b (config.json): 36 layers of 128 experts, gate_up 2880 x 5760 and down 2880 x 2880
# (their biases stay BF16 with attention and the router); MXFP4: 16 bytes + 1 scale byte a 32
# = 4.25 bits. 116,829,156,672 parameters in all.
OSS_PARAMS = 116_829_156_672
OSS_EXPERTS = 36 * 128 * 2880 * (5760 + 2880)                 # 114,661,785,600
OSS_NATIVE_BYTES = OSS_EXPERTS * 4.25 / 8 + (OSS_PARAMS - OSS_EXPERTS) * 2


def test_kimi_k2_5_counts_int4_experts_and_bf16_for_the_rest():
    r = estimate("kimi-k2.5", "h100-sxm", gpus=8)
    assert r.precision == "int4-g32"
    assert r.weights_gib == pytest.approx(KIMI_NATIVE_BYTES / GIB, rel=1e-12)  # 553.40 GiB
    # the checkpoint on Hugging Face: 595,148,192,736 bytes, with the 471,143,920-parameter vision
    # encoder (BF16) that the catalog leaves out
    assert KIMI_NATIVE_BYTES + 471_143_920 * 2 == pytest.approx(595_148_192_736, rel=1e-5)


def test_gpt_oss_120b_counts_mxfp4_experts_and_bf16_for_the_rest():
    r = estimate("gpt-oss-120b", "h100-sxm")
    assert r.precision == "mxfp4"
    assert r.weights_gib == pytest.approx(OSS_NATIVE_BYTES / GIB, rel=1e-12)
    assert r.weights_gib == pytest.approx(60.8, abs=0.05)  # the model card's 60.8 GiB checkpoint
    assert r.fits  # it ships to run on one 80 GB GPU


def test_another_precision_covers_every_body_weight():
    # FP8 on every linear layer, embedding and lm_head at 16 bits
    fp8 = estimate("kimi-k2.5", "h100-sxm", gpus=8, precision="fp8")
    assert fp8.weights_gib == pytest.approx(((KIMI_PARAMS - KIMI_TABLES) * 1 + KIMI_TABLES * 2) / GIB, rel=1e-12)
    # AWQ-style int4 (4.15625 bits) is not the checkpoint's format: it covers the whole body too
    awq = estimate("kimi-k2.5", "h100-sxm", gpus=8, precision="int4")
    assert awq.weights_gib == pytest.approx(
        ((KIMI_PARAMS - KIMI_TABLES) * 4.15625 / 8 + KIMI_TABLES * 2) / GIB, rel=1e-12)
    # naming the native format is the native checkpoint
    assert estimate("kimi-k2.5", "h100-sxm", gpus=8, precision="int4-g32").weights_gib == pytest.approx(
        KIMI_NATIVE_BYTES / GIB, rel=1e-12)


def test_fp8_checkpoints_stay_fp8_everywhere():
    # DeepSeek-V3 quantises every linear layer (no ignore list): the paper's 671B parameters
    # (the catalog's figure), vocab 129,280 x hidden 7168 untied
    tables = 2 * 129_280 * 7168
    r = estimate("deepseek-v3", "h100-sxm", gpus=8)
    assert r.precision == "fp8"
    params = round(r.weights_gib * GIB - tables * 2) + tables  # body at 1 byte a weight
    assert params == pytest.approx(671e9, rel=1e-9)


def test_the_expert_read_is_at_the_expert_bits_and_the_rest_at_16():
    # a decode step at batch 1 reads the dense part at 16 bits: more bytes than all-int4 would
    native = estimate("kimi-k2.5", "h200", gpus=8, input_tokens=1000, output_tokens=100)
    all_int4 = estimate("kimi-k2.5", "h200", gpus=8, input_tokens=1000, output_tokens=100, precision="int4")
    assert native.tpot_s > all_int4.tpot_s


def test_scope_experts_needs_experts_and_a_native_precision(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[[models]]\nid = "llama-3.1-8b"\nnative_precision_scope = "experts"\nsource = "t"\n'
                    'as_of = "2026-11-30"\n')
    with pytest.raises(CatalogError) as caught:
        load_catalog([path])
    assert "native_precision_scope 'experts' needs a native_precision and routed experts" in str(caught.value)
    path.write_text('[[models]]\nid = "kimi-k2.5"\nnative_precision_scope = "attention"\nsource = "t"\n'
                    'as_of = "2026-11-30"\n')
    with pytest.raises(CatalogError) as caught:
        load_catalog([path])
    assert "native_precision_scope" in str(caught.value) and "attention" in str(caught.value)


ROWS = [dict(scenario="kimi native", model="kimi-k2.5", hardware="h200", gpus=8),
        dict(scenario="kimi fp8", model="kimi-k2.5", hardware="h200", gpus=8, precision="fp8"),
        dict(scenario="gpt-oss native", model="gpt-oss-120b", hardware="h100-sxm"),
        dict(scenario="gpt-oss bf16", model="gpt-oss-120b", hardware="h100-sxm", precision="bf16", gpus=4),
        dict(scenario="deepseek", model="deepseek-v3", hardware="h200", gpus=8)]


def test_the_workbook_stores_the_same_weights(tmp_path):
    path = save_atomically(build_workbook(ROWS), tmp_path / "experts.xlsx")
    got = scenario_outputs(load_values(path)["Scenarios"], len(ROWS))
    assert mismatches("stored values", ROWS, core_of(ROWS), got, F.OUTPUT_KEYS, "n/a", no_fit="does not fit") == []


@needs_libreoffice
def test_libreoffice_computes_the_same_weights(tmp_path):
    path = save_atomically(build_workbook(ROWS), tmp_path / "experts.xlsx")
    wb = load_values(recalculate(path, tmp_path))
    got = scenario_outputs(wb["Scenarios"], len(ROWS))
    assert mismatches("LibreOffice", ROWS, core_of(ROWS), got, F.OUTPUT_KEYS, "n/a", no_fit="does not fit") == []


# --- quantised checkpoints that quantise their routed experts only (checkpoint_scopes) ------------
# NVFP4: E2M1 values with one FP8 scale per 16 = 4.5 bits; what exclude_modules names stays BF16.
NVFP4_BITS = 4.5

# (repo, routed expert parameters from config.json, total parameters (the catalog's count), vocab x hidden)
SCOPED = [
    # Kimi K2.6: 60 MoE layers (first_k_dense_replace 1 of 61) x 384 experts x 3 x 7168 x 2048
    ("nvidia/Kimi-K2.6-NVFP4", 60 * 384 * 3 * 7168 * 2048, KIMI_PARAMS, 163_840 * 7168),
    # MiniMax-M2.5: 62 layers, all MoE, x 256 experts x 3 x hidden 3072 x intermediate 1536
    ("nvidia/MiniMax-M2.5-NVFP4", 62 * 256 * 3 * 3072 * 1536, 228_689_764_864, 200_064 * 3072),
    # GLM-5.1: 75 MoE layers (first_k_dense_replace 3 of 78) x 256 experts x 3 x 6144 x 2048
    ("nvidia/GLM-5.1-NVFP4", 75 * 256 * 3 * 6144 * 2048, 743_911_218_432, 154_880 * 6144),
    # Qwen3.5-397B-A17B: 60 layers, all MoE, x 512 experts x 3 x 4096 x 1024
    ("nvidia/Qwen3.5-397B-A17B-NVFP4", 60 * 512 * 3 * 4096 * 1024, 396_346_350_336, 248_320 * 4096),
]


@pytest.mark.parametrize("repo, experts, params, table", SCOPED, ids=[r[0] for r in SCOPED])
def test_an_experts_only_checkpoint_keeps_the_rest_at_16_bits(repo, experts, params, table):
    r = estimate(repo, "b200", gpus=8)
    assert r.precision == "fp4"
    # experts at 4.5 bits; attention, shared experts, dense layers, embedding and lm_head at 16
    want = experts * NVFP4_BITS / 8 + (params - experts) * 2
    assert r.weights_gib == pytest.approx(want / GIB, rel=1e-9)
    # the same model at fp4 by its own id quantises every body weight: the embedding and lm_head
    # (2 x vocab x hidden) alone stay at 16 bits
    whole = estimate(repo.split("/")[1].removesuffix("-NVFP4"), "b200", gpus=8, precision="fp4")
    assert whole.weights_gib == pytest.approx(((params - 2 * table) * NVFP4_BITS / 8 + 2 * table * 2) / GIB,
                                              rel=1e-9)


def test_kimi_k2_6_nvfp4_before_and_after():
    # before checkpoint_scopes the NVFP4 repo was priced with every body weight at 4.5 bits
    r = estimate("nvidia/Kimi-K2.6-NVFP4", "b200", gpus=8)
    assert KIMI_TABLES == 2 * 163_840 * 7168
    all_body = ((KIMI_PARAMS - KIMI_TABLES) * NVFP4_BITS / 8 + KIMI_TABLES * 2) / GIB
    assert all_body == pytest.approx(540.85, abs=0.005)
    assert r.weights_gib == pytest.approx(553.40, abs=0.005)  # = its native int4-g32 (also 4.5 bits)


def test_another_precision_on_a_scoped_checkpoint_covers_every_body_weight():
    # naming fp8 on the NVFP4 repo: not the checkpoint's format, so it covers the whole body
    fp8 = estimate("nvidia/Kimi-K2.6-NVFP4", "h200", gpus=8, precision="fp8")
    assert fp8.weights_gib == pytest.approx(((KIMI_PARAMS - KIMI_TABLES) * 1 + KIMI_TABLES * 2) / GIB, rel=1e-12)


def test_checkpoints_without_a_scope_quantise_every_linear_layer():
    # nvidia/Qwen3-235B-A22B-NVFP4 excludes only lm_head and the routers (hf_quant_config.json)
    r = estimate("nvidia/Qwen3-235B-A22B-NVFP4", "b200", gpus=4)
    whole = estimate("qwen3-235b-a22b", "b200", gpus=4, precision="fp4")
    assert r.precision == "fp4" and r.weights_gib == pytest.approx(whole.weights_gib, rel=1e-12)


def _excluded(repo):
    import json
    from pathlib import Path

    path = Path(__file__).parent / "data" / "model_configs" / (repo.replace("/", "--") + "_hf_quant_config.json")
    q = json.loads(path.read_text())["quantization"]
    assert q["group_size"] == 16
    if q["quant_algo"] == "MIXED_PRECISION":  # DeepSeek V4: NVFP4 on the layers it lists, the routed experts
        layers = q["quantized_layers"]
        assert {v["quant_algo"] for v in layers.values()} == {"NVFP4"}
        assert all(name.endswith(".ffn.experts") for name in layers)
    else:
        assert q["quant_algo"] == "NVFP4"
    return q["exclude_modules"]


def test_every_experts_scope_is_what_the_checkpoint_excludes(cat):
    scoped = {repo: (m, scope) for m in cat.entries("models") for repo, scope in m.checkpoint_scopes.items()
              if scope == "experts"}  # "all-but-attention": tests/test_attention_scope.py
    assert len(scoped) >= 8
    for repo, (model, scope) in scoped.items():
        assert model.checkpoints[repo] == "fp4", repo
        kept = _excluded(repo)
        # attention stays BF16 (full and, on Qwen3.5, linear attention), and so does lm_head (DeepSeek V4's
        # modules are named attn and head)
        assert any("self_attn" in k or ".attn." in k for k in kept), repo
        assert any(k.endswith("lm_head") or k == "head" for k in kept), repo
        # shared experts too, where the model has them (Gemma 4's dense MLP beside the experts: mlp*)
        assert (model.shared_experts == 0) or any("shared_expert" in k or k.endswith(".mlp*") for k in kept), repo


def test_checkpoint_scopes_are_checked_when_the_catalog_loads(tmp_path):
    path = tmp_path / "bad.toml"
    for text, message in [
        ('checkpoint_scopes = {"nvidia/Other-NVFP4" = "experts"}',
         "checkpoint_scopes names 'nvidia/Other-NVFP4', which is not one of checkpoints"),
        ('checkpoint_scopes = {"nvidia/Kimi-K2.6-NVFP4" = "attention"}',
         "checkpoint_scopes['nvidia/Kimi-K2.6-NVFP4'] 'attention' is not a scope"),
    ]:
        path.write_text(f'[[models]]\nid = "kimi-k2.6"\n{text}\nsource = "t"\nas_of = "2026-11-30"\n')
        with pytest.raises(CatalogError) as caught:
            load_catalog([path])
        assert message in str(caught.value)
    path.write_text('[[models]]\nid = "llama-3.1-8b"\ncheckpoints = {"acme/Llama-FP4" = "fp4"}\n'
                    'checkpoint_scopes = {"acme/Llama-FP4" = "experts"}\nsource = "t"\nas_of = "2026-11-30"\n')
    with pytest.raises(CatalogError) as caught:
        load_catalog([path])
    assert "checkpoint_scopes['acme/Llama-FP4'] 'experts' needs routed experts (experts > 0)" in str(caught.value)


CHECKPOINT_ROWS = [dict(scenario="kimi nvfp4", model="nvidia/Kimi-K2.6-NVFP4", hardware="b200", gpus=8),
                   dict(scenario="kimi nvfp4 as fp8", model="nvidia/Kimi-K2.6-NVFP4", hardware="h200", gpus=8,
                        precision="fp8"),
                   dict(scenario="minimax nvfp4", model="NVIDIA/MiniMax-M2.5-NVFP4", hardware="b200", gpus=2),
                   dict(scenario="qwen3 nvfp4", model="nvidia/Qwen3-235B-A22B-NVFP4", hardware="b200", gpus=4),
                   dict(scenario="kimi native", model="kimi-k2.6", hardware="h200", gpus=8)]


def test_the_workbook_scopes_checkpoints_as_the_core_does(tmp_path):
    path = save_atomically(build_workbook(CHECKPOINT_ROWS), tmp_path / "checkpoints.xlsx")
    got = scenario_outputs(load_values(path)["Scenarios"], len(CHECKPOINT_ROWS))
    core = core_of(CHECKPOINT_ROWS)
    assert mismatches("stored values", CHECKPOINT_ROWS, core, got, F.OUTPUT_KEYS, "n/a", no_fit="does not fit") == []


@needs_libreoffice
def test_libreoffice_scopes_checkpoints_as_the_core_does(tmp_path):
    path = save_atomically(build_workbook(CHECKPOINT_ROWS), tmp_path / "checkpoints.xlsx")
    wb = load_values(recalculate(path, tmp_path))
    got = scenario_outputs(wb["Scenarios"], len(CHECKPOINT_ROWS))
    core = core_of(CHECKPOINT_ROWS)
    assert mismatches("LibreOffice", CHECKPOINT_ROWS, core, got, F.OUTPUT_KEYS, "n/a", no_fit="does not fit") == []
