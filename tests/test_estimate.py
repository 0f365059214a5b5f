"""The library API: scalars and columns through one path, every error explained."""

import math
import sys

import numpy as np
import pandas as pd
import pytest

from llmcalc_xl import OUTPUT_KEYS, InvalidValueError, LlmcalcError, UnknownIdError, estimate, estimate_many

SCENARIOS = [
    dict(model="llama-3-8b", hardware="l4"),
    dict(model="llama-3.1-70b", hardware="h100-sxm", gpus=4, batch=32, precision="fp8"),
    dict(model="mixtral-8x7b", hardware="a100-80gb", gpus=2, batch=8),            # MoE
    dict(model="deepseek-v3", hardware="h200", gpus=8, precision="fp8"),            # MLA + MoE
    dict(model="gemma-2-27b", hardware="l40s", precision="int4", engine="vllm"),    # sliding window
    dict(model="llama-2-7b", hardware="rtx-4090", precision="q4_k_m"),              # GGUF -> llama.cpp
    dict(model="llama-3-8b", hardware="apple-m2-max", precision="q4_0"),
    dict(model="llama-3.1-405b", hardware="a100-80gb"),                              # does not fit
    dict(model="gpt-4o", input_tokens=2000, output_tokens=300),                      # API only
    dict(model="gpt-4", hardware="a100-40gb", latency_s=3.5, price_per_hour=2.5),   # API + GPU time
    dict(model="qwen2.5-72b", hardware="mi300x", engine="vllm", batch=64),
]


def _same(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) or isinstance(a, bool):
        return a == b
    return math.isclose(a, b, rel_tol=1e-12) or (math.isinf(a) and a == b)


def test_columns_equal_one_call_per_row():
    cols = {k: [s.get(k) for s in SCENARIOS] for k in
            ("model", "hardware", "gpus", "batch", "precision", "engine", "input_tokens", "output_tokens",
             "latency_s", "price_per_hour")}
    many = estimate_many(cols.pop("model"), cols.pop("hardware"), **cols)
    assert list(many["error"]) == [None] * len(SCENARIOS)
    for i, s in enumerate(SCENARIOS):
        one = estimate(**s).to_dict()
        for key in OUTPUT_KEYS:
            value = many[key][i]
            value = None if isinstance(value, float) and math.isnan(value) else value
            if key == "fits" and value is not None:
                value = bool(value)
            assert _same(one[key], value), (s, key, one[key], value)


def test_pandas_columns_and_numpy_arrays_work():
    df = pd.DataFrame({"model": ["llama-3-8b", "mistral-7b"], "hardware": ["l4", "a10g"],
                       "output_tokens": np.array([100, 200])})
    out = estimate_many(df["model"], df["hardware"], output_tokens=df["output_tokens"], precision="q4_k_m")
    assert out["weights_gib"].shape == (2,)
    assert list(out["output_tokens"]) == [100, 200]


def test_bad_rows_are_explained_and_the_rest_still_compute():
    out = estimate_many(["llama-3-8b", "llama-9-9b", "llama-3-8b", "llama-3-8b"], "l4",
                        output_tokens=[100, 100, -5, 100], gpus=[1, 1, 1, 0])
    errors = list(out["error"])
    assert errors[0] is None and not math.isnan(out["latency_s"][0])
    assert errors[1].startswith("Unknown model 'llama-9-9b'. Did you mean:")
    assert errors[2] == "output_tokens must be >= 0, got -5"
    assert errors[3] == "gpus must be >= 1, got 0"
    assert all(math.isnan(out["latency_s"][i]) for i in (1, 2, 3))


def test_scalar_errors_raise_one_documented_family():
    with pytest.raises(UnknownIdError) as e:
        estimate("llama-3-8b", "h100-sxn")
    assert str(e.value).startswith("Unknown hardware 'h100-sxn'. Did you mean: h100-sxm, ")
    assert str(e.value).endswith("?")
    assert isinstance(e.value, KeyError) and isinstance(e.value, LlmcalcError)
    with pytest.raises(InvalidValueError, match=r"^batch must be a whole number or max, got 1.5$"):
        estimate("llama-3-8b", "l4", batch=1.5)
    with pytest.raises(InvalidValueError, match="must be a plain number, got '1,000'"):
        estimate("llama-3-8b", "l4", input_tokens="1,000")
    with pytest.raises(InvalidValueError, match="Unknown option 'output_token'. Did you mean 'output_tokens'"):
        estimate("llama-3-8b", "l4", output_token=5)


def test_context_rules():
    with pytest.raises(InvalidValueError, match=r"context_tokens must hold input_tokens \+ output_tokens \(1500\)"):
        estimate("llama-3-8b", "l4", context_tokens=1000)
    with pytest.raises(InvalidValueError, match="exceeds the model's context length 8192"):
        estimate("llama-3-8b", "l4", input_tokens=9000)


def test_engine_and_precision_compatibility():
    with pytest.raises(InvalidValueError, match="engine 'tensorrt-llm' does not run on apple hardware"):
        estimate("llama-3-8b", "apple-m2-max", engine="tensorrt-llm")
    with pytest.raises(InvalidValueError, match="engine 'llama.cpp' does not run precision 'int4'"):
        estimate("llama-3-8b", "rtx-4090", engine="llama.cpp", precision="int4")
    with pytest.raises(InvalidValueError, match="engine 'tensorrt-llm' does not run on 'mi300x'"):
        estimate("llama-3-8b", "mi300x", engine="tensorrt-llm")


def test_auto_engine_and_kv_precision():
    assert estimate("llama-3-8b", "h100-sxm").engine == "vllm"
    assert estimate("llama-3-8b", "apple-m3-max").engine == "llama.cpp"
    assert estimate("llama-3-8b", "h100-sxm", precision="q4_k_m").engine == "llama.cpp"
    assert estimate("llama-3-8b", "h100-sxm", precision="bf16").kv_precision == "bf16"
    assert estimate("llama-3-8b", "h100-sxm", precision="int4").kv_precision == "fp16"
    fp8_kv = estimate("llama-3-8b", "h100-sxm", kv_precision="fp8")
    assert fp8_kv.kv_cache_gib == pytest.approx(estimate("llama-3-8b", "h100-sxm").kv_cache_gib / 2)


@pytest.mark.parametrize("model, hardware, gpus, precision, engine, kv", [
    # FP8 / NVFP4 weights of a model released in 16-bit: a quantised checkpoint (NVIDIA ModelOpt's set
    # kv_cache_quant_algo FP8), which vLLM, SGLang and TensorRT-LLM follow with the KV left on auto
    ("llama-3-8b", "h100-sxm", 1, "fp8", "vllm", "fp8"),
    ("llama-3-8b", "h100-sxm", 1, "fp8", "sglang", "fp8"),
    ("llama-3-8b", "b200", 1, "fp4", "tensorrt-llm", "fp8"),
    # the model's own FP8 release (DeepSeek-V3's block-scaled weights) names no KV format: 16-bit
    ("deepseek-v3", "h200", 8, "fp8", "sglang", "fp16"),
    # HF transformers keeps the model's dtype
    ("llama-3-8b", "h100-sxm", 1, "fp8", "transformers", "fp16"),
])
def test_kv_cache_follows_a_quantised_checkpoint(model, hardware, gpus, precision, engine, kv):
    assert estimate(model, hardware, gpus=gpus, precision=precision, engine=engine).kv_precision == kv


def test_fp8_kv_cache_of_a_quantised_checkpoint_by_hand():
    # Llama-3-8B: 32 layers x 8 KV heads x 128 dims x 2 (K and V) x 1 byte = 64 KiB a token in FP8;
    # 1024 + 1024 tokens (a multiple of vLLM's 16-token blocks) = 128 MiB = 0.125 GiB
    r = estimate("llama-3-8b", "h100-sxm", precision="fp8", input_tokens=1024, output_tokens=1024)
    assert r.kv_cache_gib == pytest.approx(0.125, rel=1e-9)
    # given, the KV precision wins: 2 bytes a value
    assert estimate("llama-3-8b", "h100-sxm", precision="fp8", kv_precision="fp16", input_tokens=1024,
                    output_tokens=1024).kv_cache_gib == pytest.approx(0.25, rel=1e-9)


def test_custom_device_needs_all_three_figures():
    r = estimate("llama-3-8b", memory_gib=48, bandwidth_gb_s=800, tflops=200, price_per_hour=1.0)
    assert r.hardware == "custom" and r.fits is True
    with pytest.raises(InvalidValueError, match="needs memory_gib, bandwidth_gb_s and tflops together"):
        estimate("llama-3-8b", memory_gib=48)


def test_hardware_overrides_change_the_catalog_device():
    base = estimate("llama-3-8b", "l4")
    faster = estimate("llama-3-8b", "l4", bandwidth_gb_s=600)
    assert faster.tpot_s < base.tpot_s
    assert estimate("llama-3-8b", "l4", memory_gib=16).fits is False


def test_aliases_people_type():
    assert estimate("Llama 3 70B", "H100", gpus=2).model == "llama-3-70b"
    assert estimate("llama_3_8b", "A100 80GB").hardware == "a100-80gb"
    assert estimate("GPT-4o").model == "gpt-4o"


def test_columns_must_share_a_length():
    with pytest.raises(InvalidValueError, match="Columns must have the same length, got model=2, gpus=3"):
        estimate_many(["llama-3-8b", "llama-3-8b"], "l4", gpus=[1, 2, 4])


def test_empty_cells_mean_default():
    out = estimate_many(["llama-3-8b", "llama-3-8b"], "l4", output_tokens=[None, float("nan")])
    assert list(out["output_tokens"]) == [500, 500]
    assert list(out["error"]) == [None, None]


def test_missing_catalog_figures_give_no_answer_and_say_why(cat):
    unpriced = [h.id for h in cat.entries("hardware") if h.price_usd_per_hour is None and h.tflops_fp16]
    assert unpriced, "the test needs a device without a sourced price"
    r = estimate("llama-3-8b", unpriced[0], precision="q4_k_m")
    assert r.infra_cost_usd is None and r.cost_per_request_usd is None
    assert [n.text for n in r.notes if n.kind == "no_price"] == [
        f"No hourly price for '{unpriced[0]}' in the catalog: pass price_per_hour, or capex_usd_per_gpu and "
        "power_w_per_gpu to price it as owned hardware"]
    priced = estimate("llama-3-8b", unpriced[0], precision="q4_k_m", price_per_hour=0.3)
    assert priced.infra_cost_usd == pytest.approx(0.3 * priced.latency_s / 3600, rel=1e-12)
    no_flops = [h.id for h in cat.entries("hardware") if not h.tflops_fp16]
    if no_flops:
        r = estimate("llama-3-8b", no_flops[0], precision="q4_k_m")
        assert r.tpot_s is None and r.weights_gib is not None
        assert [n.kind for n in r.notes] == ["no_price", "no_speed"] or [n.kind for n in r.notes] == ["no_speed"]
        assert "pass tflops" in r.notes[-1].text


def test_blocks_of_rows_give_the_same_answer_as_one_pass(monkeypatch):
    est = sys.modules["llmcalc_xl.core.estimate"]  # the package exports the function under this name
    cols = dict(model=["llama-3-8b", "gpt-4o", "mixtral-8x7b", "nope", "llama-3.1-70b"] * 3,
                hardware=["l4", None, "a100-80gb", "l4", "h100-sxm"] * 3,
                gpus=[1, 1, 2, 1, 4] * 3, batch=list(range(1, 16)))
    whole = estimate_many(**cols)
    monkeypatch.setattr(est, "CHUNK_ROWS", 4)
    blocks = estimate_many(**cols)
    for key, value in whole.items():
        if value.dtype == object:
            assert list(value) == list(blocks[key]), key
        else:
            assert np.array_equal(value, blocks[key], equal_nan=True), key


def test_each_error_has_its_class_from_where_it_arose_not_from_its_words():
    from llmcalc_xl.core.inputs import RowErrors

    with pytest.raises(UnknownIdError):
        estimate("llama-9-1000b", "h100-sxm")
    with pytest.raises(UnknownIdError):
        estimate("llama-3-8b", "h100-sxm", precision="fp3")
    with pytest.raises(InvalidValueError) as caught:
        estimate("llama-3-8b", "h100-sxm", gpus=-1)
    assert not isinstance(caught.value, UnknownIdError)
    errs = RowErrors(2)  # a message that merely starts like an unknown id stays the class it was given
    errs.add([True, False], "Unknown units: write GB")
    errs.add([True, True], "model is empty.", UnknownIdError)
    assert type(errs.first()) is InvalidValueError and str(errs.first()) == "Unknown units: write GB"
    assert list(errs.kinds) == [InvalidValueError, UnknownIdError]


def test_an_estimate_is_a_frozen_record_with_one_typed_field_per_key():
    import dataclasses
    import typing

    from llmcalc_xl.core.estimate import INPUT_KEYS, Estimate

    names = [f.name for f in dataclasses.fields(Estimate)]
    assert names == list(INPUT_KEYS) + list(OUTPUT_KEYS) + ["notes"]
    hints = typing.get_type_hints(Estimate)
    for spec in SCENARIOS:
        r = estimate(**spec)
        d = r.to_dict()
        assert list(d) == names and d["notes"] == [n.text for n in r.notes]
        for name in names[:-1]:
            allowed = typing.get_args(hints[name]) or (hints[name],)
            value = getattr(r, name)
            assert type(value) in allowed, f"{spec}: {name} = {value!r} is not {hints[name]}"
        with pytest.raises(dataclasses.FrozenInstanceError):
            r.fits = True


def test_each_note_says_its_kind(cat):
    from llmcalc_xl import NOTE_KINDS

    def kinds(**spec):
        return [n.kind for n in estimate(**spec).notes]

    assert kinds(model="gpt-4o") == ["not_applicable"]
    # 405B in fp16 is about 756 GiB of weights: one 80 GB A100 cannot hold it
    assert kinds(model="llama-3.1-405b", hardware="a100-80gb") == ["does_not_fit"]
    assert kinds(model="llama-3-8b", hardware="l4") == []
    unpriced = [h.id for h in cat.entries("hardware") if h.price_usd_per_hour is None and h.tflops_fp16][0]
    assert kinds(model="llama-3-8b", hardware=unpriced, precision="q4_k_m") == ["no_price"]
    slow = [m.id for m in cat.entries("api_models") if m.output_tokens_per_s is None][0]
    assert kinds(model=slow) == ["not_applicable", "api_no_speed"]
    # an unpriced API row lists its notes in the order of NOTE_KINDS, each text with its kind
    r = estimate(slow, unpriced)
    assert [n.kind for n in r.notes] == ["not_applicable", "no_price", "api_no_speed"]
    assert [NOTE_KINDS.index(n.kind) for n in r.notes] == sorted(NOTE_KINDS.index(n.kind) for n in r.notes)
    assert r.notes[1].text.startswith(f"No hourly price for '{unpriced}'")
    assert r.notes[2].text.startswith(f"No published speed for API model '{slow}'")


def test_a_note_of_an_unknown_kind_is_refused():
    from llmcalc_xl import Note

    with pytest.raises(ValueError, match="Note kind 'nope' is not one of not_applicable, retired, does_not_fit"):
        Note("nope", "text")  # type: ignore[arg-type]


def test_cells_choose_the_note_by_its_kind_not_its_words():
    from llmcalc_xl import Note
    from llmcalc_xl.cells import relevant_note

    # a price note that happens to start with the memory note's words is still a price note
    notes = (Note("not_applicable", "Memory: none"), Note("no_price", "memory is not applicable, no price"))
    assert relevant_note(notes, about_memory=True) == "Memory: none"
    assert relevant_note(notes, about_memory=False) == "memory is not applicable, no price"
    assert relevant_note((), about_memory=True) is None


def test_threads_codes_and_categoricals_give_the_same_answer_as_one_plain_pass(monkeypatch, cat):
    # Long columns take other paths: names resolved once per distinct value, blocks computed on
    # two threads, pandas categoricals read by their codes. Each must match one plain pass.
    from .random_scenarios import random_scenarios

    est = sys.modules["llmcalc_xl.core.estimate"]
    rows = random_scenarios(2400, seed=11, cat=cat)
    junk = ["", "nope", None, "AUTO", 3, True]
    for i, row in enumerate(rows[::7]):  # unknown, empty and non-text names, "auto" GPUs
        row["model" if i % 2 else "hardware"] = junk[i % len(junk)]
        row["gpus"] = "auto" if i % 3 == 0 else row.get("gpus")
    keys = sorted({k for r in rows for k in r} - {"scenario"})
    cols = {k: [r.get(k) for r in rows] for k in keys}

    monkeypatch.setattr(est, "THREADS", 1)
    monkeypatch.setattr(est, "_CODE_ROWS", 10**9)
    monkeypatch.setattr(est, "CHUNK_ROWS", 10**9)
    plain = estimate_many(**cols)
    monkeypatch.setattr(est, "THREADS", 2)
    monkeypatch.setattr(est, "_CODE_ROWS", 100)
    monkeypatch.setattr(est, "CHUNK_ROWS", 700)
    texts = ("model", "hardware", "precision", "engine", "kv_precision")
    for variant in (cols, {k: (pd.Series(v, dtype="category") if k in texts else v) for k, v in cols.items()}):
        got = estimate_many(**variant)
        assert set(got) == set(plain)
        for key, value in plain.items():
            if value.dtype == object:
                assert list(value) == list(got[key]), key
            else:
                assert np.array_equal(value, got[key], equal_nan=True), key
    assert (plain["error"] != None).sum() > 100  # noqa: E711 - the junk rows were refused
    first_bad = int(np.flatnonzero(plain["error"] != None)[0])  # noqa: E711
    with pytest.raises(LlmcalcError) as caught:
        estimate_many(errors="raise", **cols)
    assert str(caught.value) == plain["error"][first_bad]
