"""Catalogs: every shipped entry valid and sourced; aliases; user files; load errors."""

import re
import textwrap

import pytest

from llmcalc_xl import CatalogError, UnknownIdError, estimate, load_catalog

REQUIRED = {
    "models": "llama-2-7b llama-2-13b llama-2-70b llama-3-8b llama-3-70b llama-3.1-8b llama-3.1-70b "
              "llama-3.1-405b llama-3.3-70b mistral-7b mixtral-8x7b mixtral-8x22b qwen2.5-7b qwen2.5-72b "
              "gemma-2-9b gemma-2-27b phi-3-mini deepseek-v3 gpt-oss-20b gpt-oss-120b",
    "api_models": "gpt-4 gpt-4o gpt-4o-mini gpt-4.1",
    "hardware": "t4 l4 a10g a40 v100 a100-40gb a100-80gb a100-80gb-pcie h100-sxm h100-pcie h200 b200 b300 gb200 "
                "gb300 l40s mi300x mi325x mi355x rtx-pro-6000 rtx-3060 rtx-3070 rtx-3080 rtx-3080-ti rtx-3090 "
                "rtx-3090-ti rtx-4070-ti rtx-4080 rtx-4090 rtx-5080 rtx-5090 rtx-a6000 rtx-4000-ada rtx-5000-ada "
                "rtx-6000-ada apple-m1 apple-m1-max apple-m1-ultra apple-m2-max apple-m2-ultra apple-m3 apple-m3-max "
                "apple-m3-ultra apple-m4-pro apple-m4-max cpu-8gb",
    "engines": "llama.cpp vllm tensorrt-llm transformers",
    "precisions": "fp32 fp16 bf16 fp8 int8 int4 fp4 q8_0 q6_k q5_k_m q4_k_m q4_0 q3_k_m q2_k",
}


@pytest.mark.parametrize("kind", list(REQUIRED))
def test_required_ids_are_shipped(cat, kind):
    assert set(REQUIRED[kind].split()) <= set(cat.ids(kind))


def test_every_shipped_entry_has_source_and_date(cat):
    for kind in REQUIRED:
        for e in cat.entries(kind):
            assert e.source.strip(), (kind, e.id)
            assert re.match(r"^\d{4}-\d{2}(-\d{2})?$", e.as_of), (kind, e.id)
    for h in cat.entries("hardware"):
        if h.price_usd_per_hour:
            assert h.price_source and h.price_provider and h.price_as_of, h.id


def test_gpt4_original_prices(cat):
    g = cat.model("gpt-4")
    assert (g.input_usd_per_mtok, g.output_usd_per_mtok) == (30.0, 60.0)


def test_gguf_bits_per_weight_from_block_sizes(cat):
    # ggml block structs: Q4_0 18 B / 32, Q8_0 34 B / 32, Q4_K 144 B / 256, Q6_K 210 B / 256
    assert cat.precision("q4_0").bits_per_weight == 18 * 8 / 32
    assert cat.precision("q8_0").bits_per_weight == 34 * 8 / 32
    assert cat.precision("q4_k_m").bits_per_weight == 144 * 8 / 256
    assert cat.precision("q6_k").bits_per_weight == 210 * 8 / 256


def test_dense_param_counts_match_the_architecture(cat):
    """params_b against a count from the architecture (SwiGLU MLP, no biases): catches typos."""
    for m in cat.entries("models"):
        if m.experts or m.attention == "mla" or m.family in ("qwen", "phi", "gpt-oss", "gemma"):
            continue  # biases, fused or extra tensors: not this simple formula
        h, d = m.hidden_size, m.head_dim
        per_layer = h * m.heads * d * 2 + h * m.kv_heads * d * 2 + 3 * h * m.intermediate_size + 2 * h
        total = m.layers * per_layer + m.vocab_size * h * (1 if m.tie_embeddings else 2) + h
        assert total == pytest.approx(m.params_b * 1e9, rel=0.01), m.id


@pytest.mark.parametrize("typed, kind, expected", [
    ("H100", "hardware", "h100-sxm"), ("A100 80GB", "hardware", "a100-80gb"),
    ("Llama 3 70B", "models", "llama-3-70b"), ("llama_3_8b", "models", "llama-3-8b"),
    ("RTX 4090", "hardware", "rtx-4090"), ("Q4_K_M", "precisions", "q4_k_m"), ("TRT-LLM", "engines", "tensorrt-llm"),
    ("B300", "hardware", "b300"), ("HGX B300", "hardware", "b300"), ("GB200", "hardware", "gb200"),
    ("GB300 NVL72", "hardware", "gb300"), ("MI355X", "hardware", "mi355x"), ("mi325x", "hardware", "mi325x"),
    ("RTX PRO 6000", "hardware", "rtx-pro-6000"), ("rtx_pro_6000_blackwell", "hardware", "rtx-pro-6000"),
])
def test_aliases_match_regardless_of_case_spaces_and_underscores(cat, typed, kind, expected):
    assert cat.resolve_id(kind, typed) == expected


def test_unknown_id_suggests_the_closest(cat):
    with pytest.raises(UnknownIdError) as e:
        cat.hardware("rtx-4900")
    assert str(e.value).startswith("Unknown hardware 'rtx-4900'. Did you mean: rtx-4090")


def test_user_file_adds_and_overrides(tmp_path):
    user = tmp_path / "ours.toml"
    user.write_text(textwrap.dedent('''
        [[hardware]]
        id = "h100-sxm"
        price_usd_per_hour = 1.85
        price_provider = "our reserved contract"
        price_source = "contract 2026-10"
        price_as_of = "2026-10-01"
        source = "catalog entry, price from our contract"
        as_of = "2026-10-01"

        [[hardware]]
        id = "our-box"
        name = "Our inference box"
        kind = "gpu"
        memory_gib = 96
        bandwidth_gb_s = 1600
        tflops_fp16 = 500
        source = "vendor quote Q-123"
        as_of = "2026-09-30"
    '''))
    cat = load_catalog([user])
    assert cat.hardware("h100-sxm").price_usd_per_hour == 1.85
    assert cat.hardware("h100-sxm").memory_gib == load_catalog(()).hardware("h100-sxm").memory_gib
    assert estimate("llama-3-8b", "our-box", catalog=[user]).fits is True
    assert estimate("llama-3-8b", "h100-sxm", catalog=[user]).price_per_hour == 1.85


def test_environment_variable_names_the_user_file(tmp_path, monkeypatch):
    user = tmp_path / "env.toml"
    user.write_text('[[api_models]]\nid = "our-llm"\nname = "Our LLM"\nprovider = "us"\n'
                    'input_usd_per_mtok = 0.1\noutput_usd_per_mtok = 0.2\nsource = "price list"\nas_of = "2026-11-01"\n')
    monkeypatch.setenv("LLMCALC_XL_CATALOG", str(user))
    assert estimate("our-llm", output_tokens=1000, input_tokens=0).token_cost_usd == pytest.approx(0.2 / 1000)


@pytest.mark.parametrize("text, message", [
    ('[[hardware]]\nid = "x"\nname = "X"\nkind = "gpu"\nmemory_gib = -1\nbandwidth_gb_s = 1\n'
     'source = "s"\nas_of = "2026-01-01"\n', "'x': memory_gib must be > 0, got -1.0"),
    ('[[hardware]]\nid = "x"\nname = "X"\nkind = "gpu"\nmemory_gb = 1\n', "unknown field 'memory_gb'. Did you mean 'memory_gib'?"),
    ('[[models]]\nid = "Big Model"\n', "id 'Big Model' must be lower case without spaces, e.g. 'big-model'"),
    ('[[hardware]]\nid = "x"\nname = "X"\nkind = "gpu"\nmemory_gib = 1\nbandwidth_gb_s = 1\n'
     'as_of = "2026-01-01"\n', "missing field 'source'"),
    ('[[hardware]]\nid = "h100-sxm"\nprice_usd_per_hour = 1.0\n',
     "overriding 'h100-sxm' sets price_usd_per_hour, which needs its own 'price_source'"),
    ('[[gpus]]\nid = "x"\n', "unknown section 'gpus'"),
    ('this is not toml', "is not valid TOML"),
])
def test_bad_user_files_name_file_entry_and_field(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(CatalogError) as e:
        load_catalog([path])
    assert message in str(e.value)
    assert "bad.toml" in str(e.value)


def test_missing_user_file(tmp_path):
    with pytest.raises(CatalogError, match="does not exist"):
        load_catalog([tmp_path / "nope.toml"])


def test_alias_clash_is_refused(tmp_path):
    path = tmp_path / "clash.toml"
    path.write_text('[[hardware]]\nid = "my-gpu"\nname = "Mine"\nkind = "gpu"\nmemory_gib = 1\n'
                    'bandwidth_gb_s = 1\naliases = ["H100"]\nsource = "s"\nas_of = "2026-01-01"\n')
    with pytest.raises(CatalogError, match="the name 'H100' of hardware 'my-gpu' also names 'h100-sxm'"):
        load_catalog([path])


def test_shipped_files_parse_alike_with_rtoml_and_tomllib():
    # the loader parses the shipped files with rtoml (fast) where installed; it must read them
    # exactly as the standard library does: the same keys, values and value types
    import tomllib
    from pathlib import Path

    import rtoml

    from llmcalc_xl.catalogs import loader

    def typed(v):
        if isinstance(v, dict):
            return {k: typed(w) for k, w in v.items()}
        if isinstance(v, list):
            return [typed(w) for w in v]
        return (type(v).__name__, v)

    folder = Path(loader.__file__).parent
    for name in loader.SHIPPED_FILES:
        text = (folder / name).read_text(encoding="utf-8")
        assert typed(rtoml.loads(text)) == typed(tomllib.loads(text)), name
        assert loader.parse_shipped(text) == tomllib.loads(text)
