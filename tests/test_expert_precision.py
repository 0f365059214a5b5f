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
