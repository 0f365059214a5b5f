"""Hardware entries added for late 2026 (B300, GB200, GB300, MI325X, MI355X, RTX PRO 6000):
each loads with the per-GPU figures its vendor sheet gives, worked out here by hand, and one
worked example per class of device checks what the estimate does with it. Every expected
number comes from the vendor figure cited beside it or from arithmetic on published counts."""

import pytest

from llmcalc_xl import estimate

GIB = 2**30
MIB = 2**20
NEW = ["b300", "gb200", "gb300", "mi325x", "mi355x", "rtx-pro-6000"]


@pytest.mark.parametrize("hw", NEW)
def test_new_entry_loads_with_source_date_and_dense_rates(cat, hw):
    h = cat.hardware(hw)
    assert h.kind == "gpu" and h.source.strip() and h.as_of
    assert h.memory_gib > 0 and h.bandwidth_gb_s > 0 and h.interconnect_gb_s > 0
    # dense rates: each lower precision at least doubles the 16-bit rate where the part has it
    assert h.tflops_fp8 == pytest.approx(2 * h.tflops_fp16, rel=0.01)
    if h.tflops_fp4:
        assert h.tflops_fp4 >= 2 * h.tflops_fp8 * 0.99
    if h.price_usd_per_hour:
        assert h.price_source and h.price_as_of and h.price_provider


# (hardware, field, expected, where the number comes from)
PER_GPU = [
    # nvidia-smi "Total" in MiB / 1024 (AIConfigurator system files, NVIDIA, 2026)
    ("b300", "memory_gib", 275_040 * MIB / GIB, "nvidia-smi 275040MiB"),
    ("gb200", "memory_gib", 189_471 * MIB / GIB, "nvidia-smi 189471MiB"),
    ("gb300", "memory_gib", 284_208 * MIB / GIB, "nvidia-smi 284208MiB"),
    ("rtx-pro-6000", "memory_gib", 97_887 * MIB / GIB, "nvidia-smi 97887MiB"),
    # Blackwell Ultra datasheet, HGX B300 column: sparse figures, dense is half; FP4 dense printed
    ("b300", "tflops_fp16", 4_500 / 2, "FP16/BF16 4.5 PFLOPS sparse"),
    ("b300", "tflops_fp8", 9_000 / 2, "FP8 9 PFLOPS sparse"),
    ("b300", "tflops_int8", 307 / 2, "INT8 307 TOPS sparse"),
    ("b300", "tflops_fp4", 14_000, "FP4 18 | 14 PFLOPS sparse | dense"),
    # GB200 NVL72 page, rack of 72 GPUs: "Dense is one-half sparse spec shown"
    ("gb200", "tflops_fp16", 360_000 / 2 / 72, "FP16/BF16 360 PFLOPS sparse per rack"),
    ("gb200", "tflops_fp8", 720_000 / 2 / 72, "FP8/FP6 720 PFLOPS sparse per rack"),
    ("gb200", "tflops_int8", 720_000 / 2 / 72, "INT8 720 POPS sparse per rack"),
    ("gb200", "tflops_fp4", 720_000 / 72, "NVFP4 1,440 | 720 PFLOPS sparse | dense per rack"),
    ("gb200", "tflops_fp32", 5_760 / 72, "FP32 5,760 TFLOPS per rack"),
    ("gb200", "bandwidth_gb_s", 576_000 / 72, "13.4 TB HBM3E | 576 TB/s per rack"),
    ("gb200", "interconnect_gb_s", 1_800 / 2, "NVLink 130 TB/s per rack = 1.8 TB/s per GPU, both ways"),
    # GB300 NVL72 page, rack of 72 GPUs
    ("gb300", "tflops_fp16", 360_000 / 2 / 72, "FP16/BF16 360 PFLOPS sparse per rack"),
    ("gb300", "tflops_fp8", 720_000 / 2 / 72, "FP8/FP6 720 PFLOPS sparse per rack"),
    ("gb300", "tflops_fp4", 1_080_000 / 72, "FP4 1440 | 1080 PFLOPS, 1080 without sparsity"),
    ("gb300", "tflops_int8", 330 / 2, "datasheet GB300 column: INT8 330 TOPS sparse (rack 24 POPS is rounded)"),
    ("gb300", "bandwidth_gb_s", 576_000 / 72, "20 TB | up to 576 TB/s per rack"),
    # AMD product pages (dense columns) and ROCm GPU specifications (VRAM GiB)
    ("mi325x", "memory_gib", 256, "ROCm table: 256 GiB"),
    ("mi325x", "tflops_fp16", 1_307.4, "AMD: FP16/BF16 1,307.4 TFLOPS"),
    ("mi325x", "tflops_fp8", 2_614.9, "AMD: FP8 2,614.9 TFLOPS"),
    ("mi325x", "bandwidth_gb_s", 6_000, "AMD: 6 TB/s"),
    ("mi355x", "memory_gib", 288, "ROCm table: 288 GiB"),
    ("mi355x", "tflops_fp16", 2_500, "AMD: FP16/BF16 2.5 PFLOPS"),
    ("mi355x", "tflops_fp4", 10_100, "AMD: MXFP4 10.1 PFLOPS"),
    ("mi355x", "interconnect_gb_s", 7 * 153.6 / 2, "7 Infinity Fabric links x 153.6 GB/s both ways"),
    # RTX PRO 6000 Blackwell Server Edition page: 1 / 2 / 4 PFLOPS taken as sparse, 1,597 GB/s
    ("rtx-pro-6000", "tflops_fp16", 1_000 / 2, "FP16 | BF16 1 PFLOP"),
    ("rtx-pro-6000", "tflops_fp4", 4_000 / 2, "FP4 4 PFLOPS"),
    ("rtx-pro-6000", "bandwidth_gb_s", 1_597, "1,597 GB/s"),
]


@pytest.mark.parametrize("hw, field, expected, why", PER_GPU, ids=[f"{r[0]}-{r[1]}" for r in PER_GPU])
def test_per_gpu_figure_from_the_vendor_sheet(cat, hw, field, expected, why):
    assert getattr(cat.hardware(hw), field) == pytest.approx(expected, abs=0.001), why


# Weights by hand: the body at the precision's bits, embedding and lm_head (V x h each, untied)
# at 16 bits. Llama-3.1: V = 128,256; 70B: h = 8,192, 70,553,706,496 parameters;
# 405B: h = 16,384, 405,853,388,800 parameters (the safetensors totals of the HF checkpoints).
def weights_gib(params, hidden, body_bytes, vocab=128_256):
    emb = vocab * hidden
    return ((params - 2 * emb) * body_bytes + 2 * emb * 2) / GIB


W70_FP8 = weights_gib(70_553_706_496, 8_192, 1)            # 67.67 GiB
W405_FP8 = weights_gib(405_853_388_800, 16_384, 1)         # 381.89 GiB
W405_BF16 = weights_gib(405_853_388_800, 16_384, 2)        # 755.96 GiB
W70_BF16 = weights_gib(70_553_706_496, 8_192, 2)           # 131.42 GiB


def test_hand_weights_are_what_the_estimate_counts():
    assert estimate("llama-3.1-70b", "b300", precision="fp8").weights_gib == pytest.approx(W70_FP8, rel=1e-9)
    assert estimate("llama-3.1-405b", "gb300", precision="bf16", gpus=4).weights_gib == pytest.approx(
        W405_BF16, rel=1e-9)


def test_b300_holds_llama_70b_fp8_on_one_gpu():
    # HGX B300: 275040 MiB = 268.6 GiB per GPU (nvidia-smi); 67.7 GiB of FP8 weights leave ~200 GiB
    r = estimate("llama-3.1-70b", "b300", precision="fp8", gpus=1)
    assert r.fits and W70_FP8 < 268.6 / 3


def test_gb300_needs_two_gpus_for_llama_405b_fp8():
    # 381.9 GiB of weights > 277.5 GiB on one GB300 GPU; on 2 GPUs each holds 190.9 GiB
    assert W405_FP8 > 284_208 * MIB / GIB
    assert not estimate("llama-3.1-405b", "gb300", precision="fp8", gpus=1).fits
    assert estimate("llama-3.1-405b", "gb300", precision="fp8", gpus=2).fits
    assert estimate("llama-3.1-405b", "gb300", precision="fp8", gpus="auto").gpus == 2


def test_gb200_holds_llama_70b_bf16_where_h100_does_not():
    # 131.4 GiB of BF16 weights: over an H100's 79.6 GiB, under a GB200 GPU's 185.0 GiB
    assert 79.647 < W70_BF16 < 189_471 * MIB / GIB
    assert estimate("llama-3.1-70b", "gb200", precision="bf16").fits
    assert not estimate("llama-3.1-70b", "h100-sxm", precision="bf16").fits


def test_mi355x_needs_four_gpus_for_llama_405b_bf16():
    # 756 GiB of BF16 weights: 2 x 288 GiB is too little, 4 x 288 is enough; tensor parallel
    # runs on 1, 2, 4, 8 GPUs, so "auto" is 4, not 3
    assert 2 * 288 < W405_BF16 < 4 * 288
    assert estimate("llama-3.1-405b", "mi355x", precision="bf16", gpus="auto").gpus == 4


def test_rtx_pro_6000_holds_llama_70b_fp8_but_not_bf16():
    # 95.6 GiB card: 67.7 GiB of FP8 weights fit, 131.4 GiB of BF16 weights do not
    assert W70_FP8 < 97_887 * MIB / GIB < W70_BF16
    assert estimate("llama-3.1-70b", "rtx-pro-6000", precision="fp8").fits
    assert not estimate("llama-3.1-70b", "rtx-pro-6000", precision="bf16").fits
    assert estimate("llama-3.1-70b", "rtx-pro-6000", precision="bf16", gpus="auto").gpus == 2


def test_fp4_runs_on_fp4_units_only_where_the_part_has_them():
    # MI355X has MXFP4 matrix cores (10.1 PFLOPS); MI325X has none and computes FP4 weights
    # at its 16-bit rate, so its FP4 prompt runs at the BF16 speed
    fp4 = estimate("llama-3.1-70b", "mi325x", precision="mxfp4", input_tokens=8192, output_tokens=1)
    bf16 = estimate("llama-3.1-70b", "mi325x", precision="bf16", input_tokens=8192, output_tokens=1)
    assert fp4.prefill_tokens_per_s == pytest.approx(bf16.prefill_tokens_per_s, rel=0.05)
    fast = estimate("llama-3.1-70b", "mi355x", precision="mxfp4", input_tokens=8192, output_tokens=1)
    assert fast.prefill_tokens_per_s > 2 * fp4.prefill_tokens_per_s
