"""A checkpoint that quantises every body weight but its attention (checkpoint_scopes
"all-but-attention"): NVIDIA's NVFP4 GLM-5 and Kimi K2.5 keep each layer's self_attn in BF16 and
put the dense MLPs, shared and routed experts in NVFP4. Expected bytes are worked by hand from each
model's config.json (tests/data/model_configs/) and NVFP4's 4.5 bits (E2M1 values, one FP8 scale
per 16)."""

import json
from pathlib import Path

import pytest

from llmcalc_xl import CatalogError, estimate, load_catalog
from llmcalc_xl.catalogs.hf_config import parameter_count
from llmcalc_xl.workbook import formulas as F
from llmcalc_xl.workbook.build import build_workbook, save_atomically

from .spreadsheets import core_of, load_values, mismatches, needs_libreoffice, recalculate, scenario_outputs

CONFIGS = Path(__file__).parent / "data" / "model_configs"
NVFP4_BITS = 4.5

# GLM-5 config.json: hidden 6144, 64 heads, q_lora_rank 2048, kv_lora_rank 512, qk_nope 192, rope 64,
# v 256; indexer 32 heads of 128; 78 layers. Per layer, self_attn holds
#   q_a 6144 x 2048 + its norm 2048 + q_b 2048 x 64 x (192 + 64)
#   kv_a 6144 x (512 + 64) + its norm 512 + kv_b 512 x 64 x (192 + 256)
#   o_proj 64 x 256 x 6144
#   indexer: wq_b 2048 x 32 x 128, wk 6144 x 128, k_norm (weight and bias) 2 x 128, weights_proj 6144 x 32
GLM_MLA = (6144 * 2048 + 2048 + 2048 * 64 * 256 + 6144 * 576 + 512 + 512 * 64 * 448 + 64 * 256 * 6144)
GLM_INDEXER = 2048 * 32 * 128 + 6144 * 128 + 2 * 128 + 6144 * 32
GLM_ATTENTION = 78 * (GLM_MLA + GLM_INDEXER)
GLM_PARAMS = 743_911_218_432  # the catalog's count, equal to Fireworks' paramCount for GLM-5
GLM_TABLES = 2 * 154_880 * 6144  # embedding and lm_head, untied

# Kimi K2.5 text_config: hidden 7168, 64 heads, q_lora_rank 1536, kv_lora_rank 512, qk_nope 128,
# rope 64, v 128; 61 layers; no indexer
KIMI_MLA = (7168 * 1536 + 1536 + 1536 * 64 * 192 + 7168 * 576 + 512 + 512 * 64 * 256 + 64 * 128 * 7168)
KIMI_ATTENTION = 61 * KIMI_MLA
KIMI_PARAMS = 1_026_408_232_448
KIMI_TABLES = 2 * 163_840 * 7168


def by_hand(params, attention, tables):
    """Attention and the tables at 16 bits, the rest of the body at NVFP4's 4.5."""
    return (params - tables - attention) * NVFP4_BITS / 8 + attention * 2 + tables * 2


def test_the_hand_counts_are_the_catalog_s_and_hf_config_s(cat):
    assert GLM_ATTENTION == 13_602_740_736 and KIMI_ATTENTION == 6_168_569_856
    glm, kimi = cat.model("glm-5"), cat.model("kimi-k2.5")
    assert glm.attention_params_b * 1e9 == pytest.approx(GLM_ATTENTION, abs=0.5)
    assert kimi.attention_params_b * 1e9 == pytest.approx(KIMI_ATTENTION, abs=0.5)
    for name, want in (("zai-org--GLM-5", GLM_ATTENTION), ("moonshotai--Kimi-K2.5", KIMI_ATTENTION)):
        assert parameter_count(json.loads((CONFIGS / f"{name}_config.json").read_text())).attention == want


@pytest.mark.parametrize("repo, params, attention, tables", [
    ("nvidia/GLM-5-NVFP4", GLM_PARAMS, GLM_ATTENTION, GLM_TABLES),
    ("nvidia/Kimi-K2.5-NVFP4", KIMI_PARAMS, KIMI_ATTENTION, KIMI_TABLES),
])
def test_attention_stays_bf16_and_every_mlp_is_nvfp4(repo, params, attention, tables):
    r = estimate(repo, "b200", gpus=8)
    assert r.precision == "fp4"
    assert r.weights_gib * 2**30 == pytest.approx(by_hand(params, attention, tables), rel=1e-12)


def test_glm_5_nvfp4_before_and_after():
    # before the scope the repo was priced with every body weight at 4.5 bits: 421.19 GB;
    # the 13.6 B attention parameters at 16 bits add 13.6e9 x 11.5 / 8 = 19.55 GB: 440.74 GB
    r = estimate("nvidia/GLM-5-NVFP4", "b200", gpus=8)
    every = ((GLM_PARAMS - GLM_TABLES) * NVFP4_BITS + GLM_TABLES * 16) / 8
    assert every / 1e9 == pytest.approx(421.19, abs=0.005)
    assert r.weights_gib * 2**30 / 1e9 == pytest.approx(440.74, abs=0.005)
    assert (r.weights_gib * 2**30 - every) / 1e9 == pytest.approx(GLM_ATTENTION * 11.5 / 8 / 1e9, rel=1e-9)


def test_kimi_k2_5_nvfp4_against_its_checkpoint():
    # 589.60 GB of language-model weights; with the BF16 vision encoder (471,143,920 parameters,
    # left out of params_b) 590.54 GB, where all-NVFP4 gave 581.67 GB
    r = estimate("nvidia/Kimi-K2.5-NVFP4", "b200", gpus=8)
    assert r.weights_gib * 2**30 / 1e9 == pytest.approx(589.60, abs=0.005)
    assert (r.weights_gib * 2**30 + 471_143_920 * 2) / 1e9 == pytest.approx(590.54, abs=0.005)


def test_another_precision_or_the_model_id_covers_every_body_weight():
    # fp8 named on the NVFP4 repo is not the checkpoint's format: every body weight at 8 bits
    fp8 = estimate("nvidia/GLM-5-NVFP4", "h200", gpus=8, precision="fp8")
    assert fp8.weights_gib * 2**30 == pytest.approx((GLM_PARAMS - GLM_TABLES) * 1 + GLM_TABLES * 2, rel=1e-12)
    # GLM-5 by its id at fp4 is not the checkpoint either
    fp4 = estimate("glm-5", "b200", gpus=8, precision="fp4")
    assert fp4.weights_gib * 2**30 == pytest.approx(((GLM_PARAMS - GLM_TABLES) * NVFP4_BITS + GLM_TABLES * 16) / 8,
                                                    rel=1e-12)


def _kept(name):
    data = json.loads((CONFIGS / name).read_text())
    q = data.get("quantization") or data.get("quantization_config")
    return q.get("exclude_modules") or q.get("ignore")


def test_every_all_but_attention_scope_is_what_the_checkpoint_excludes(cat):
    scoped = {repo: m for m in cat.entries("models") for repo, scope in m.checkpoint_scopes.items()
              if scope == "all-but-attention"}
    files = {"nvidia/GLM-5-NVFP4": "nvidia--GLM-5-NVFP4_hf_quant_config.json",
             "nvidia/Kimi-K2.5-NVFP4": "nvidia--Kimi-K2.5-NVFP4_config.json"}
    assert set(files) <= set(scoped)
    for repo, name in files.items():
        kept = _kept(name)
        # every layer's attention stays BF16 (self_attn, or all its projections), and lm_head
        layers = scoped[repo].layers
        attention = {k.split(".layers.")[1].split(".")[0] for k in kept if "self_attn" in k}
        assert {str(i) for i in range(layers)} <= attention, repo
        assert any(k.endswith("lm_head") for k in kept), repo
        # no MLP, shared expert or dense layer is kept: they are in NVFP4
        assert not any("mlp" in k or "shared_expert" in k for k in kept), repo


def test_the_scope_is_checked_when_the_catalog_loads(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[[models]]\nid = "glm-5"\nattention_params_b = 0\nsource = "t"\nas_of = "2026-11-30"\n')
    with pytest.raises(CatalogError) as caught:
        load_catalog([path])
    assert ("checkpoint_scopes['nvidia/GLM-5-NVFP4'] 'all-but-attention' needs attention_params_b > 0"
            in str(caught.value))
    path.write_text('[[models]]\nid = "llama-3.1-8b"\nnative_precision = "fp8"\nnative_precision_source = "t"\n'
                    'native_precision_scope = "all-but-attention"\nsource = "t"\nas_of = "2026-11-30"\n')
    with pytest.raises(CatalogError) as caught:
        load_catalog([path])
    assert "native_precision_scope 'all-but-attention' needs a native_precision and attention_params_b > 0" in str(
        caught.value)
    path.write_text('[[models]]\nid = "llama-3.1-8b"\nattention_params_b = 9\nsource = "t"\nas_of = "2026-11-30"\n')
    with pytest.raises(CatalogError) as caught:
        load_catalog([path])
    assert "attention_params_b (9" in str(caught.value) and "must be < params_b" in str(caught.value)


def test_a_dense_model_may_ship_all_but_attention(tmp_path):
    # Llama 3.1 8B (config.json): 32 layers of q, o 4096 x 4096 and k, v 4096 x 1024 = 1,342,177,280
    # attention parameters; 8,030,261,248 in all, tables 2 x 128,256 x 4096
    attention, params, tables = 32 * (2 * 4096 * 4096 + 2 * 4096 * 1024), 8_030_261_248, 2 * 128_256 * 4096
    path = tmp_path / "user.toml"
    path.write_text('[[models]]\nid = "llama-3.1-8b"\nattention_params_b = 1.34217728\n'
                    'checkpoints = {"acme/Llama-3.1-8B-NVFP4" = "fp4"}\n'
                    'checkpoint_scopes = {"acme/Llama-3.1-8B-NVFP4" = "all-but-attention"}\n'
                    'source = "t"\nas_of = "2026-11-30"\n')
    cat = load_catalog([path])
    r = estimate("acme/Llama-3.1-8B-NVFP4", "b200", catalog=cat)
    assert r.weights_gib * 2**30 == pytest.approx(by_hand(params, attention, tables), rel=1e-12)


ROWS = [dict(scenario="glm nvfp4", model="nvidia/GLM-5-NVFP4", hardware="b200", gpus=8),
        dict(scenario="glm nvfp4 as fp8", model="nvidia/GLM-5-NVFP4", hardware="h200", gpus=8, precision="fp8"),
        dict(scenario="kimi nvfp4", model="nvidia/Kimi-K2.5-NVFP4", hardware="b200", gpus=8),
        dict(scenario="kimi native", model="kimi-k2.5", hardware="h200", gpus=8),
        dict(scenario="glm fp4 by id", model="glm-5", hardware="b200", gpus=8, precision="fp4")]


def test_the_workbook_stores_the_same_weights(tmp_path):
    path = save_atomically(build_workbook(ROWS), tmp_path / "attention.xlsx")
    got = scenario_outputs(load_values(path)["Scenarios"], len(ROWS))
    assert mismatches("stored values", ROWS, core_of(ROWS), got, F.OUTPUT_KEYS, "n/a", no_fit="does not fit") == []


@needs_libreoffice
def test_libreoffice_computes_the_same_weights(tmp_path):
    path = save_atomically(build_workbook(ROWS), tmp_path / "attention.xlsx")
    wb = load_values(recalculate(path, tmp_path))
    got = scenario_outputs(wb["Scenarios"], len(ROWS))
    assert mismatches("LibreOffice", ROWS, core_of(ROWS), got, F.OUTPUT_KEYS, "n/a", no_fit="does not fit") == []


def _config(name):
    return json.loads((CONFIGS / f"{name}_config.json").read_text())


@pytest.mark.parametrize("name, scope", [
    ("nvidia--Kimi-K2.5-NVFP4", "all-but-attention"),  # ignores self_attn only; has shared experts, dense layer 0
    ("nvidia--Gemma-4-31B-IT-NVFP4", "all-but-attention"),  # dense: ignores self_attn only
    ("moonshotai--Kimi-K2.5", "experts"),  # ignores self_attn, shared experts and the dense MLP too
    ("openai--gpt-oss-120b", "experts"),  # keeps attention and the router; no MLP but the experts
    ("deepseek-ai--DeepSeek-V3", ""),  # FP8 everywhere
])
def test_add_model_reads_the_scope_from_the_ignore_list(name, scope):
    from llmcalc_xl.catalogs.hf_config import native_precision_scope

    assert native_precision_scope(_config(name)) == scope


def test_the_attention_count_of_a_dense_model():
    # Llama 3.1 8B: 32 layers of q and o (4096 x 4096), k and v (4096 x 8 x 128)
    assert parameter_count(_config("meta-llama--Meta-Llama-3.1-8B")).attention == 32 * (2 * 4096**2 + 2 * 4096 * 1024)
