"""GeForce tensor rates: BF16 at half the FP16-accumulate rate, and a dense 16-bit rate for every
GPU in the catalog. Expected figures are NVIDIA's whitepaper numbers ("Peak BF16 Tensor TFLOPS
with FP32 Accumulate", dense/sparse) or arithmetic on the card's own FP32 rate, written out here."""

import pytest

from llmcalc_xl import estimate, load_catalog

# (hardware, dense BF16 TFLOPS, where the number comes from)
WHITEPAPER_BF16 = [
    ("rtx-3090", 71.0, "GA102 whitepaper v2, Appendix A Table 9: 71/142"),
    ("rtx-4090", 165.2, "Ada whitepaper v2.02, Appendix A: 165.2/330.4"),
    ("rtx-5090", 209.5, "RTX Blackwell whitepaper, Table 3: 209.5/419"),
]


@pytest.mark.parametrize("hw, bf16, why", WHITEPAPER_BF16, ids=[r[0] for r in WHITEPAPER_BF16])
def test_geforce_bf16_is_the_whitepaper_figure(cat, hw, bf16, why):
    assert cat.hardware(hw).tflops_bf16 == pytest.approx(bf16, abs=0.05), why


def test_every_geforce_card_runs_bf16_at_half_its_fp16_accumulate_rate(cat):
    geforce = [h for h in cat.entries("hardware") if h.name.startswith("NVIDIA GeForce")]
    assert len(geforce) >= 11
    for h in geforce:
        assert h.tflops_bf16 == pytest.approx(h.tflops_fp16 / 2, rel=0.005), h.id


def test_data_centre_parts_run_bf16_at_their_16_bit_rate(cat):
    for hw in ("a100-80gb", "h100-sxm", "b200", "l40s", "rtx-6000-ada", "mi300x"):
        assert cat.hardware(hw).tflops_bf16 is None, hw
        bf16 = estimate("llama-3.1-8b", hw, precision="bf16", input_tokens=4096, output_tokens=16)
        fp16 = estimate("llama-3.1-8b", hw, precision="fp16", input_tokens=4096, output_tokens=16)
        assert bf16.ttft_s == pytest.approx(fp16.ttft_s, rel=1e-12), hw


@pytest.mark.parametrize("hw, bf16", [("rtx-4090", 165.2), ("rtx-5090", 209.5), ("rtx-3090", 71.0)])
def test_bf16_prompt_on_geforce_runs_at_the_bf16_rate(hw, bf16):
    # the same prompt in fp16 on a device stated at the BF16 rate takes the same time: only the
    # peak differs between the two precisions (both 2 bytes a weight and a KV value)
    got = estimate("llama-3.1-8b", hw, precision="bf16", input_tokens=4096, output_tokens=16)
    same = estimate("llama-3.1-8b", hw, precision="fp16", input_tokens=4096, output_tokens=16, tflops=bf16)
    fp16 = estimate("llama-3.1-8b", hw, precision="fp16", input_tokens=4096, output_tokens=16)
    assert got.ttft_s == pytest.approx(same.ttft_s, rel=1e-12)
    assert got.ttft_s > 1.5 * fp16.ttft_s  # a compute-bound 4k prompt: about twice the fp16 time


def test_a_device_file_without_tflops_bf16_runs_bf16_at_fp16(tmp_path):
    user = tmp_path / "ours.toml"
    user.write_text('[[hardware]]\nid = "box"\nname = "Box"\nkind = "gpu"\nmemory_gib = 80\nbandwidth_gb_s = 2000\n'
                    'tflops_fp16 = 400\nsource = "vendor quote"\nas_of = "2026-11-30"\n')
    cat = load_catalog([str(user)])
    bf16 = estimate("llama-3.1-8b", "box", precision="bf16", input_tokens=4096, output_tokens=16, catalog=cat)
    fp16 = estimate("llama-3.1-8b", "box", precision="fp16", input_tokens=4096, output_tokens=16, catalog=cat)
    assert bf16.ttft_s == pytest.approx(fp16.ttft_s, rel=1e-12)


def test_a_user_file_setting_tflops_bf16_keeps_the_price_source(tmp_path):
    # tflops_bf16 is a spec: a file that sets it relabels the specs, not the catalog's price
    user = tmp_path / "ours.toml"
    user.write_text('[[hardware]]\nid = "rtx-4090"\ntflops_bf16 = 160\nsource = "our GEMM benchmark"\n'
                    'as_of = "2026-11-30"\n')
    cat = load_catalog([str(user)])
    h = cat.hardware("rtx-4090")
    assert h.tflops_bf16 == 160 and h.tflops_fp16 == pytest.approx(330.3)
    groups = {p.group: p for p in cat.provenance(h)}
    assert groups["specs"].source == "our GEMM benchmark"
    assert groups["price"].source != "our GEMM benchmark"


# GA10x SM: dense FP16-accumulate tensor FLOPs = 4 x non-tensor FP32 FLOPs per clock (RTX 3090:
# 35.6 FP32, 142 tensor, GA102 whitepaper Appendix A Table 9), applied to each card's FP32 rate
@pytest.mark.parametrize("hw, fp32", [("rtx-3060", 12.7), ("rtx-3080-ti", 34.1)])
def test_ampere_cards_without_a_table_get_the_ga10x_ratio(cat, hw, fp32):
    h = cat.hardware(hw)
    assert h.tflops_fp32 == fp32
    assert h.tflops_fp16 == pytest.approx(4 * fp32, abs=0.05)
    assert h.tflops_bf16 == pytest.approx(2 * fp32, abs=0.05)
    assert "DERIVED" in h.source


def test_every_gpu_in_the_catalog_has_a_speed(cat):
    gpus = [h for h in cat.entries("hardware") if h.kind in ("gpu", "apple")]
    assert [h.id for h in gpus if not h.tflops_fp16] == []
    for h in gpus:
        r = estimate("llama-3.2-1b", h.id, precision="q4_k_m", input_tokens=256, output_tokens=16)
        assert r.tpot_s and r.tpot_s > 0, h.id


# FP8 GEMMs accumulate in FP32 (vLLM's sm89 CUTLASS kernel: ElementAcc float; cuBLASLt takes FP8
# only with CUBLAS_COMPUTE_32F), which GeForce runs at half the FP16-accumulate FP8 rate.
# (hardware, dense FP8 TFLOPS with FP32 accumulate, dense FP4, where the numbers come from)
WHITEPAPER_FP8 = [
    ("rtx-4090", 330.3, 0, "Ada whitepaper v2.02 Appendix A: FP8 FP32-acc 330.3/660.6 (FP16-acc 660.6/1321.2)"),
    ("rtx-5090", 419.0, 1676.0, "RTX Blackwell whitepaper Table 3: FP8 FP32-acc 419/838, FP4 FP32-acc 1676/3352"),
    # no whitepaper table read: the FP16-accumulate FP8 rate halved, as on the RTX 4090
    ("rtx-4080", 780 / 2 / 2, 0, "FP8 with sparsity 780 (FP16 acc) / 2 dense / 2 FP32 acc"),
    ("rtx-4070-ti", 321 / 2, 0, "FP8 dense 321 (FP16 acc, secondary table) / 2 FP32 acc"),
]


@pytest.mark.parametrize("hw, fp8, fp4, why", WHITEPAPER_FP8, ids=[r[0] for r in WHITEPAPER_FP8])
def test_geforce_fp8_is_the_fp32_accumulate_rate(cat, hw, fp8, fp4, why):
    h = cat.hardware(hw)
    assert h.tflops_fp8 == pytest.approx(fp8, abs=0.05), why
    assert (h.tflops_fp4 or 0) == pytest.approx(fp4, abs=0.05), why
    # FP8 at FP32 accumulate is twice BF16 at FP32 accumulate, as in every whitepaper column
    assert h.tflops_fp8 == pytest.approx(2 * h.tflops_bf16, rel=0.005), why


def test_workstation_and_data_centre_fp8_keeps_its_single_rate(cat):
    # no FP16/FP32-accumulate split on these parts: FP8 stays twice the 16-bit rate
    for hw in ("rtx-6000-ada", "rtx-4000-ada", "rtx-pro-6000", "l40s", "h100-sxm"):
        h = cat.hardware(hw)
        assert h.tflops_fp8 == pytest.approx(2 * h.tflops_fp16, rel=0.02), hw  # L40S: 733 vs 2 x 362


@pytest.mark.parametrize("hw, fp8", [("rtx-4090", 330.3), ("rtx-5090", 419.0)])
def test_fp8_prompt_on_geforce_runs_at_the_fp32_accumulate_rate(hw, fp8):
    got = estimate("llama-3.1-8b", hw, precision="fp8", input_tokens=4096, output_tokens=16)
    same = estimate("llama-3.1-8b", hw, precision="fp8", input_tokens=4096, output_tokens=16, tflops=fp8)
    twice = estimate("llama-3.1-8b", hw, precision="fp8", input_tokens=4096, output_tokens=16, tflops=2 * fp8)
    assert got.ttft_s == pytest.approx(same.ttft_s, rel=1e-12)
    assert got.ttft_s > 1.5 * twice.ttft_s  # a compute-bound 4k prompt: about twice the FP16-accumulate time
