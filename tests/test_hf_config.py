"""A Hugging Face config.json as a catalog entry: exact parameter counts against the totals the
publishers state, the attention fields, the native precision, and `catalog add-model`."""

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from llmcalc_xl import CatalogError, load_catalog
from llmcalc_xl.catalogs.hf_config import entry_from_config, native_precision, parameter_count, with_entry
from llmcalc_xl.cli.main import main
from llmcalc_xl.errors import InvalidValueError

CONFIGS = Path(__file__).parent / "data" / "model_configs"  # copies: see the README there


def config(name):
    return json.loads((CONFIGS / f"{name}_config.json").read_text())


# Published exact totals of the language model (no vision encoder, no multi-token-prediction layers).
EXACT = [
    # https://huggingface.co/api/models/<repo>?expand[]=safetensors, safetensors.total of BF16 checkpoints
    ("meta-llama--Meta-Llama-3.1-8B", 8_030_261_248),
    ("meta-llama--Meta-Llama-3.1-405B", 405_853_388_800),
    ("mistralai--Mixtral-8x7B-v0.1", 46_702_792_704),
    ("Qwen--Qwen3-8B", 8_190_735_360),
    ("Qwen--Qwen3-32B", 32_762_123_264),
    ("Qwen--Qwen3-30B-A3B", 30_532_122_624),
    ("Qwen--Qwen3-235B-A22B", 235_093_634_560),
    ("Qwen--Qwen3-Coder-480B-A35B-Instruct", 480_154_875_392),  # revision 9d90cf8f
    ("openai--gpt-oss-20b", 20_914_757_184),                      # MXFP4 elements counted as parameters
    ("openai--gpt-oss-120b", 116_829_156_672),
    # DeepSeek-V3 and R1: main-model parameters of a header audit of the FP8 checkpoint (scales excluded)
    ("deepseek-ai--DeepSeek-V3", 671_026_419_200),
    ("deepseek-ai--DeepSeek-R1", 671_026_419_200),
    # Kimi K2: independent recount of the checkpoint headers; Fireworks paramCount
    ("moonshotai--Kimi-K2-Instruct", 1_026_408_232_448),
    # GLM-5: Fireworks paramCount
    ("zai-org--GLM-5", 743_911_218_432),
    # llama.cpp's model_n_params (its own implementation of the architecture)
    ("MiniMaxAI--MiniMax-M2.5", 228_689_764_864),
    ("nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", 31_577_940_288),
    ("nvidia--NVIDIA-Nemotron-3-Super-120B-A12B-FP8", 120_668_707_840),
]


@pytest.mark.parametrize("name, published", EXACT)
def test_exact_counts_match_the_published_totals(name, published):
    assert parameter_count(config(name)).total == published


def test_llama4_checkpoints_differ_by_the_same_vision_encoder():
    # HF safetensors totals incl. the vision encoder: Scout 108,641,793,536 and Maverick 401,583,781,376;
    # both carry the same encoder, so the text counts must differ by exactly what the totals differ by
    scout = parameter_count(config("meta-llama--Llama-4-Scout-17B-16E-Instruct")).total
    maverick = parameter_count(config("meta-llama--Llama-4-Maverick-17B-128E-Instruct")).total
    assert 108_641_793_536 - scout == 401_583_781_376 - maverick > 0


def test_kimi_k25_language_model_is_kimi_k2():
    # the K2.5 headers give 1,026,879,376,368 logical parameters with the vision encoder; its language model
    # has the shapes of K2
    assert parameter_count(config("moonshotai--Kimi-K2.5")).total == 1_026_408_232_448


@pytest.mark.parametrize("name, total_b, total_tol_b, active_b, active_tol_b", [
    # model cards' rounded figures
    ("Qwen--Qwen3.5-397B-A17B", 397, 1, 17, 0.5),          # 397B total, 17B activated
    ("Qwen--Qwen3-235B-A22B", 235, 0.5, 22, 0.5),          # 235B total, 22B activated
    ("meta-llama--Llama-4-Scout-17B-16E-Instruct", 109, 1.5, 17, 0.5),  # 17B active, 109B total (with vision)
    ("nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", 31.6, 0.05, 3.6, 0.05),  # 31.6B, about 3.6B with embeddings
    ("nvidia--NVIDIA-Nemotron-3-Super-120B-A12B-FP8", 120.6, 0.1, 12.7, 0.1),  # 120.6B total, 12.7B active
])
def test_rounded_published_figures(name, total_b, total_tol_b, active_b, active_tol_b):
    count = parameter_count(config(name))
    assert count.total / 1e9 == pytest.approx(total_b, abs=total_tol_b)
    assert count.active / 1e9 == pytest.approx(active_b, abs=active_tol_b)


def test_sparse_attention_indexer_is_counted_per_layer():
    # DeepSeek-V3.2 = V3 + one lightning indexer per layer: wq_b (q_lora_rank x heads*dim), wk (hidden x dim),
    # a LayerNorm with bias (2 x dim) and weights_proj (hidden x heads); 61 layers, 64 heads of 128
    indexer = 1536 * 64 * 128 + 7168 * 128 + 2 * 128 + 7168 * 64
    v3 = parameter_count(config("deepseek-ai--DeepSeek-V3")).total
    assert parameter_count(config("deepseek-ai--DeepSeek-V3.2")).total == v3 + 61 * indexer


def test_glm52_shared_indexer_layers_hold_no_indexer():
    cfg = config("zai-org--GLM-5.2")
    shared = cfg["indexer_types"].count("shared")
    indexer = 2048 * 32 * 128 + 6144 * 128 + 2 * 128 + 6144 * 32  # q_lora_rank 2048, 32 heads of 128, hidden 6144
    assert shared > 0
    # GLM-5.2 has the shapes of GLM-5 except for the indexers its shared layers leave out
    assert parameter_count(config("zai-org--GLM-5")).total - parameter_count(cfg).total == shared * indexer


def test_entry_fields_for_hybrid_and_chunked_attention():
    qwen = entry_from_config(config("Qwen--Qwen3.5-397B-A17B"), "q")
    assert (qwen["layers"], qwen["linear_attention_layers"]) == (60, 45)   # 15 x (3 Gated DeltaNet + 1 attention)
    # recurrent 64 value heads x 128 x 128, plus (kernel 4 - 1) x (2 x 16 x 128 + 64 x 128) of convolution state
    assert qwen["linear_state_elements"] == 64 * 128 * 128 + 3 * (2 * 16 * 128 + 64 * 128)
    assert (qwen["heads"], qwen["kv_heads"], qwen["head_dim"], qwen["shared_experts"]) == (32, 2, 256, 1)

    nano = entry_from_config(config("nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16"), "n")
    pattern = config("nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")["hybrid_override_pattern"]
    assert nano["linear_attention_layers"] == pattern.count("M")
    assert nano["mlp_only_layers"] == pattern.count("E") + pattern.count("-")
    # 64 heads x 64 x state 128, plus 3 x (4096 + 2 x 8 groups x 128) of convolution state
    assert nano["linear_state_elements"] == 64 * 64 * 128 + 3 * (64 * 64 + 2 * 8 * 128)

    scout = entry_from_config(config("meta-llama--Llama-4-Scout-17B-16E-Instruct"), "s")
    # every 4th layer is a global NoPE layer; the other 36 attend within 8,192-token chunks
    assert (scout["chunked_attention_layers"], scout["attention_chunk_tokens"]) == (36, 8192)

    gpt = entry_from_config(config("openai--gpt-oss-120b"), "g")
    assert (gpt["sliding_window"], gpt["sliding_window_layers"]) == (128, 18)

    v32 = entry_from_config(config("deepseek-ai--DeepSeek-V3.2"), "d")
    assert (v32["attention"], v32["kv_lora_rank"], v32["qk_rope_head_dim"]) == ("mla", 512, 64)
    assert (v32["sparse_attention_top_k"], v32["indexer_heads"], v32["indexer_head_dim"]) == (2048, 64, 128)


@pytest.mark.parametrize("name, expected", [
    ("openai--gpt-oss-120b", "mxfp4"),
    ("deepseek-ai--DeepSeek-V3.2", "fp8"),
    ("moonshotai--Kimi-K2.5", "int4-g32"),        # compressed-tensors, 4-bit int, symmetric groups of 32
    ("Qwen--Qwen3-235B-A22B-FP8", "fp8"),
    ("nvidia--Kimi-K2.6-NVFP4", "fp4"),
    ("Qwen--Qwen3-235B-A22B", ""),
])
def test_native_precision_from_quantization_config(name, expected):
    assert native_precision(config(name)) == expected


# which config copy each shipped entry was written from
SHIPPED = {
    "llama-4-scout": "meta-llama--Llama-4-Scout-17B-16E-Instruct",
    "llama-4-maverick": "meta-llama--Llama-4-Maverick-17B-128E-Instruct",
    "qwen3-235b-a22b": "Qwen--Qwen3-235B-A22B", "qwen3-coder-480b-a35b": "Qwen--Qwen3-Coder-480B-A35B-Instruct",
    "qwen3.5-397b-a17b": "Qwen--Qwen3.5-397B-A17B", "qwen3.5-122b-a10b": "Qwen--Qwen3.5-122B-A10B",
    "qwen3.5-35b-a3b": "Qwen--Qwen3.5-35B-A3B", "qwen3.5-27b": "Qwen--Qwen3.5-27B",
    "qwen3.6-27b": "nvidia--Qwen3.6-27B-NVFP4", "qwen3.6-35b-a3b": "nvidia--Qwen3.6-35B-A3B-NVFP4",
    "deepseek-r1": "deepseek-ai--DeepSeek-R1", "deepseek-v3.1": "nvidia--DeepSeek-V3.1-NVFP4",
    "deepseek-v3.2": "deepseek-ai--DeepSeek-V3.2", "kimi-k2": "moonshotai--Kimi-K2-Instruct",
    "kimi-k2.5": "moonshotai--Kimi-K2.5", "kimi-k2.6": "nvidia--Kimi-K2.6-NVFP4",
    "kimi-k2.7-code": "nvidia--Kimi-K2.7-Code-NVFP4", "glm-5": "zai-org--GLM-5", "glm-5.1": "zai-org--GLM-5.1",
    "glm-5.2": "zai-org--GLM-5.2", "minimax-m2.5": "MiniMaxAI--MiniMax-M2.5", "minimax-m2.7": "MiniMaxAI--MiniMax-M2.7",
    "nemotron-3-nano-30b-a3b": "nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16",
    "nemotron-3-super-120b-a12b": "nvidia--NVIDIA-Nemotron-3-Super-120B-A12B-FP8",
    "nemotron-3-ultra-550b-a55b": "nvidia--NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16",
    "qwen3-8b": "Qwen--Qwen3-8B", "qwen3-32b": "Qwen--Qwen3-32B", "qwen3-30b-a3b": "Qwen--Qwen3-30B-A3B",
    "gpt-oss-20b": "openai--gpt-oss-20b", "gpt-oss-120b": "openai--gpt-oss-120b",
    "llama-3.1-8b": "meta-llama--Meta-Llama-3.1-8B", "llama-3.1-405b": "meta-llama--Meta-Llama-3.1-405B",
    "mixtral-8x7b": "mistralai--Mixtral-8x7B-v0.1",
}
ARCHITECTURE = ("layers", "hidden_size", "heads", "kv_heads", "head_dim", "vocab_size", "tie_embeddings", "experts",
                "experts_per_token", "sliding_window_layers", "chunked_attention_layers", "attention_chunk_tokens",
                "linear_attention_layers", "linear_state_elements", "mlp_only_layers", "sparse_attention_top_k",
                "indexer_heads", "indexer_head_dim", "kv_lora_rank", "qk_rope_head_dim")


@pytest.mark.parametrize("model_id", sorted(SHIPPED))
def test_shipped_entries_agree_with_their_config(cat, model_id):
    m = cat.model(model_id)
    e = entry_from_config(config(SHIPPED[model_id]), model_id)
    assert {f: getattr(m, f) for f in ARCHITECTURE} == {f: e[f] for f in ARCHITECTURE}
    if m.params_b != round(m.params_b):  # entries with a rounded published figure say so in their notes
        assert m.params_b == pytest.approx(e["params_b"], abs=1e-9)


def test_the_2026_open_models_are_shipped(cat):
    released_2026 = [m.id for m in cat.entries("models") if m.as_of.startswith("2026")]
    assert {"qwen3.5-397b-a17b", "glm-5", "kimi-k2.5", "nemotron-3-super-120b-a12b"} <= set(released_2026)


@pytest.mark.parametrize("name, expected", [
    ("deepseek-ai/DeepSeek-R1", "deepseek-r1"), ("Qwen/Qwen3-235B-A22B", "qwen3-235b-a22b"),
    ("meta-llama/Llama-4-Scout-17B-16E-Instruct", "llama-4-scout"), ("Kimi K2.5", "kimi-k2.5"), ("GLM-5", "glm-5"),
])
def test_hugging_face_repo_ids_are_names(cat, name, expected):
    assert cat.model(name).id == expected


def test_quantised_repos_are_checkpoints_with_their_precision(cat):
    assert cat.model("deepseek-r1").checkpoints["nvidia/DeepSeek-R1-NVFP4"] == "fp4"
    assert cat.model("qwen3-235b-a22b").checkpoints["Qwen/Qwen3-235B-A22B-FP8"] == "fp8"
    assert (cat.model("deepseek-r1").native_precision, cat.model("gpt-oss-120b").native_precision,
            cat.model("kimi-k2.5").native_precision, cat.model("qwen3-235b-a22b").native_precision) == \
        ("fp8", "mxfp4", "int4-g32", "")


def test_unknown_architecture_is_refused_with_the_fix():
    with pytest.raises(InvalidValueError, match="model_type 'gemma4' is not an architecture add-model can count"):
        parameter_count(config("google--gemma-4-26B-A4B"))
    with pytest.raises(InvalidValueError, match="config.json has no usable 'hidden_size'"):
        parameter_count({"model_type": "llama", "vocab_size": 10})


def test_with_entry_appends_and_replaces():
    entry = entry_from_config(config("Qwen--Qwen3-8B"), "mine", as_of="2026-01-01")
    text, replaced = with_entry('# my models\n[[hardware]]\nid = "x"\n', entry)
    assert not replaced and text.startswith("# my models\n") and 'id = "mine"' in text
    with pytest.raises(InvalidValueError, match="Model id 'mine' is already in this catalog file"):
        with_entry(text, entry)
    bigger = dict(entry, params_b=9.0)
    again, replaced = with_entry(text, bigger, replace=True)
    assert replaced and again.count('id = "mine"') == 1 and "params_b = 9.0" in again and '[[hardware]]' in again


# --- the command --------------------------------------------------------------------------------------

def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_add_model_writes_a_catalog_every_command_uses(tmp_path):
    out = tmp_path / "mine.toml"
    r = run("catalog", "add-model", CONFIGS / "Qwen--Qwen3.5-27B_config.json", "--id", "my-qwen", "--out", out,
            "--alias", "Qwen/Qwen3.5-27B-Finetune", "--as-of", "2026-03-01", "--source", "https://example.org/c.json")
    assert r.exit_code == 0, r.output
    assert r.output == (f"Added model 'my-qwen' (26.896B parameters) in {out}. Use it with --catalog {out}, or set "
                        f"LLMCALC_XL_CATALOG={out}.\n")
    m = load_catalog([out]).model("Qwen/Qwen3.5-27B-Finetune")
    assert (m.id, m.params_b, m.linear_attention_layers, m.as_of) == ("my-qwen", 26.895998464, 48, "2026-03-01")
    est = run("estimate", "--model", "my-qwen", "--hardware", "h100-sxm", "--catalog", out, "--json")
    assert est.exit_code == 0, est.output
    assert json.loads(est.output)["weights_gib"] > 26.895998464e9 * 2 / 2**30 * 0.99


def test_add_model_refuses_an_existing_id_unless_forced(tmp_path):
    out = tmp_path / "mine.toml"
    args = ["catalog", "add-model", CONFIGS / "Qwen--Qwen3-8B_config.json", "--id", "my-qwen", "--out", out]
    assert run(*args).exit_code == 0
    before = out.read_text()
    r = run(*args)
    assert r.exit_code == 2
    assert r.stderr == ("Error: Model id 'my-qwen' is already in this catalog file. Choose another --id, or add "
                        "--force to replace it.\n")
    assert out.read_text() == before
    r = run(*args[:2], CONFIGS / "Qwen--Qwen3-32B_config.json", *args[3:], "--force")
    assert r.exit_code == 0 and r.output.startswith("Replaced model 'my-qwen' (32.762B parameters)")
    assert load_catalog([out]).model("my-qwen").params_b == 32.762123264
    shipped = run("catalog", "add-model", CONFIGS / "Qwen--Qwen3-8B_config.json", "--id", "qwen3-8b", "--out", out)
    assert shipped.exit_code == 2 and "Model id 'qwen3-8b' is already a shipped catalog model." in shipped.stderr


@pytest.mark.parametrize("content, message", [
    ("{not json", "Error: Config file '{p}' is not JSON ("),
    ('{"model_type": "gemma4", "hidden_size": 8}', "Error: model_type 'gemma4' is not an architecture add-model can"),
    ("[1, 2]", "Error: config.json must hold a JSON object"),
])
def test_add_model_bad_config_is_one_line(tmp_path, content, message):
    p = tmp_path / "config.json"
    p.write_text(content)
    r = run("catalog", "add-model", p, "--id", "x", "--out", tmp_path / "out.toml")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1, r.output
    assert r.stderr.startswith(message.replace("{p}", str(p)))
    assert not (tmp_path / "out.toml").exists()


def test_add_model_bad_id_is_refused_before_writing(tmp_path):
    r = run("catalog", "add-model", CONFIGS / "Qwen--Qwen3-8B_config.json", "--id", "My Qwen", "--out",
            tmp_path / "o.toml")
    assert r.exit_code == 2 and "id 'My Qwen' must be lower case without spaces, e.g. 'my-qwen'" in r.stderr
    assert not (tmp_path / "o.toml").exists()


@pytest.mark.parametrize("line, message", [
    ('checkpoints = {"someone/x-FP8" = "fp9"}', "checkpoints['someone/x-FP8'] 'fp9' is not a precision id"),
    ('checkpoints = {"not a repo" = "fp8"}', "checkpoints: 'not a repo' is not a Hugging Face repo id"),
    ('native_precision = "int3"\nnative_precision_source = "card"', "native_precision 'int3' is not a precision id"),
    ('checkpoints = {"nvidia/DeepSeek-R1-NVFP4" = "fp4"}', "the name 'nvidia/DeepSeek-R1-NVFP4' of model"),
])
def test_checkpoints_and_native_precision_are_checked_at_load(tmp_path, line, message):
    p = tmp_path / "c.toml"
    p.write_text(f'[[models]]\nid = "qwen3-8b"\nsource = "mine"\nas_of = "2026-01-01"\n{line}\n')
    with pytest.raises(CatalogError, match=re.escape(message)):
        load_catalog([p])
