"""A deployment that does not fit has no cost; gpus = auto; the effective cost per request.

Expected values come from hand arithmetic on published figures, not from the code under test:
Llama 3.1 405B has 405.85 B parameters (2 bytes each in fp16), an A100 80GB has 80 GiB of which
vLLM uses 0.92, and tensor parallelism takes a power of two GPUs.
"""

import csv
import json
import math

import pytest
from click.testing import CliRunner

from llmcalc_xl import InvalidValueError, estimate, estimate_many
from llmcalc_xl.excel import functions as udfs
from llmcalc_xl.cli.main import main
from llmcalc_xl.core.plan import breakeven_many, plan
from llmcalc_xl.notes import Note, notes_of

#: Speed and cost: what a deployment that cannot run cannot have (listed here, not imported).
NO_ANSWER = ("ttft_s", "tpot_s", "latency_s", "prefill_tokens_per_s", "decode_tokens_per_s",
             "throughput_tokens_per_s", "infra_cost_usd", "cost_per_request_usd", "cost_per_mtok_usd",
             "deployment_usd_per_month", "capacity_requests_per_month", "replicas_needed", "monthly_cost_usd",
             "effective_cost_per_request_usd")
KEPT = ("weights_gib", "kv_cache_gib", "activations_gib", "overhead_gib", "total_memory_gib", "usable_memory_gib",
        "fits", "gpus_needed", "max_batch")


def _gpus_for_405b_fp16_on_a100_80gb():
    """By hand: weights 405.85e9 x 2 bytes = 756 GiB; each A100 80GB gives vLLM 80 x 0.92 = 73.6 GiB.
    11 GPUs would hold the weights alone; tensor parallelism needs a power of two, so 16 (8 hold
    only 588.8 GiB). 16 x 73.6 = 1177.6 GiB leaves room for the KV cache and ~1.5 GiB per GPU."""
    weights_gib = 405.8533888e9 * 2 / 2**30
    per_gpu = 80 * 0.92
    at_least = math.ceil(weights_gib / per_gpu)
    n = 1
    while n < at_least:
        n *= 2
    assert (at_least, n) == (11, 16) and n * per_gpu - weights_gib > 16 * 2
    return n


N_405B = _gpus_for_405b_fp16_on_a100_80gb()
NOTE_405B = f"does not fit: needs {N_405B} GPUs"
NOTHING_FITS = ("does not fit: needs more than 64 GPUs of 'rtx-3070'. Use a smaller precision, context or batch, "
                "or hardware with more memory")
AUTO_FAILS = ("gpus 'auto' finds no count up to 64 of 'rtx-3070' that holds 'llama-3.1-405b'. Use a smaller "
              "precision, context or batch, or hardware with more memory")


# --- the core -----------------------------------------------------------------------------------

@pytest.mark.parametrize("given", [
    {},
    {"requests_per_month": 100_000},
    {"latency_s": 2.0, "price_per_hour": 1.0, "requests_per_month": 100_000},  # given latency: still cannot run
])
def test_a_deployment_that_does_not_fit_has_no_cost(given):
    r = estimate("llama-3.1-405b", "a100-80gb", **given)
    assert r.fits is False and r.gpus_needed == N_405B
    d = r.to_dict()
    assert [k for k in NO_ANSWER if d[k] is not None] == []
    assert [k for k in KEPT if d[k] is None] == []
    assert d["token_cost_usd"] == 0.0  # no API tokens either way
    assert r.notes == (Note("does_not_fit", NOTE_405B),) and d["notes"] == [NOTE_405B]


def test_no_gpu_count_fits():
    # 64 x 8 GiB x 0.92 = 471 GiB < 756 GiB of weights
    assert 64 * 8 * 0.92 < 405.8533888e9 * 2 / 2**30
    r = estimate("llama-3.1-405b", "rtx-3070")
    assert r.fits is False and r.gpus_needed is None and r.cost_per_request_usd is None
    assert r.notes[0] == Note("does_not_fit", NOTHING_FITS)  # then: no price for an RTX 3070


def test_columns_mask_only_the_rows_that_do_not_fit():
    out = estimate_many(["llama-3.1-405b", "llama-3-8b", "gpt-4o"], ["a100-80gb", "l4", None],
                        input_tokens=1000, output_tokens=500, requests_per_month=1000)
    assert list(out["fits"][:2]) == [0.0, 1.0] and math.isnan(out["fits"][2])
    for key in NO_ANSWER:
        assert math.isnan(out[key][0]), key
    assert out["cost_per_request_usd"][1] > 0 and out["latency_s"][1] > 0
    # an API row is unchanged: 1000 x $2.50 + 500 x $10 per million tokens
    assert out["cost_per_request_usd"][2] == pytest.approx(0.0075, rel=1e-12)
    assert out["notes"][0] == NOTE_405B and out["notes"][1] is None
    assert [notes_of(t, k) for t, k in zip(out["notes"], out["note_kinds"])] == [
        (Note("does_not_fit", NOTE_405B),), (), (Note("not_applicable", out["notes"][2]),)]
    assert list(out["error"]) == [None, None, None]


def test_gpus_auto_takes_the_fewest_that_fit():
    r = estimate("llama-3.1-405b", "a100-80gb", gpus="auto", requests_per_month=100_000)
    assert r.gpus == N_405B and r.fits is True and r.notes == ()
    same = estimate("llama-3.1-405b", "a100-80gb", gpus=N_405B, requests_per_month=100_000)
    assert r.to_dict() == same.to_dict()
    # Llama 3 8B: 8.03e9 x 2 bytes = 15.0 GiB < 22.49 x 0.92 = 20.7 GiB of one L4
    assert estimate("llama-3-8b", "l4", gpus=" AUTO ").gpus == 1
    # without a device, or for an API model, auto is the default single GPU
    assert estimate("llama-3-8b", gpus="auto").gpus == 1
    assert estimate("gpt-4o", gpus="auto").gpus == 1


def test_gpus_auto_when_nothing_fits_says_what_to_do():
    with pytest.raises(InvalidValueError) as e:
        estimate("llama-3.1-405b", "rtx-3070", gpus="auto")
    assert str(e.value) == AUTO_FAILS


def test_gpus_auto_in_a_column_with_counts():
    out = estimate_many(["llama-3.1-405b", "llama-3.1-405b", "llama-3-8b", "llama-3-8b", "llama-3-8b"],
                        ["a100-80gb", "rtx-3070", "l4", "l4", "l4"], gpus=["auto", "auto", 2, "two", None])
    assert list(out["gpus"][[0, 2, 4]]) == [N_405B, 2, 1]
    assert list(out["error"]) == [None, AUTO_FAILS, None, "gpus must be a number, got 'two'", None]


def test_effective_cost_per_request_by_hand():
    # 2 s per request on one GPU at $1/h: marginal 2/3600 USD; capacity 3600/2 x 730 = 1,314,000 a month;
    # each always-on replica costs 730 USD a month
    def eff(requests, batch=1):
        return estimate("llama-3-8b", "l4", latency_s=2.0, price_per_hour=1.0, batch=batch,
                        requests_per_month=requests)
    r = eff(1000)
    assert r.cost_per_request_usd == pytest.approx(2 / 3600, rel=1e-12)
    assert r.effective_cost_per_request_usd == pytest.approx(730 / 1000, rel=1e-12)
    assert eff(2_000_000).effective_cost_per_request_usd == pytest.approx(2 * 730 / 2_000_000, rel=1e-12)
    full = eff(1_314_000)  # exactly one replica's capacity: no idle time, effective = marginal
    assert full.effective_cost_per_request_usd == pytest.approx(2 / 3600, rel=1e-12)
    # 4 sequences at once: marginal 2/3600/4, capacity 4 x 1,314,000, one replica for 5e6 requests
    four = eff(5_000_000, batch=4)
    assert four.cost_per_request_usd == pytest.approx(2 / 3600 / 4, rel=1e-12)
    assert four.effective_cost_per_request_usd == pytest.approx(730 / 5_000_000, rel=1e-12)
    assert eff(None).effective_cost_per_request_usd is None
    assert eff(0).effective_cost_per_request_usd is None
    api = estimate("gpt-4o", input_tokens=1000, output_tokens=500, requests_per_month=1_000_000)
    assert api.effective_cost_per_request_usd == pytest.approx(0.0075, rel=1e-12)


# --- the command line -------------------------------------------------------------------------

def run(*args):
    return CliRunner().invoke(main, list(args))


def test_cli_text_shows_the_note_instead_of_costs():
    r = run("estimate", "--model", "llama-3.1-405b", "--hardware", "a100-80gb", "--requests-per-month", "1000")
    assert r.exit_code == 0, r.output
    assert "  usable                       73.60   -> DOES NOT FIT\n" in r.output
    assert r.output.endswith("\n\nSpeed and cost: none (it cannot run)\n"
                             "Note: does not fit: needs 16 GPUs. Use --gpus 16 or --gpus auto.\n")
    assert "$" not in r.output and "Cost per request" not in r.output and "Speed\n" not in r.output


def test_cli_text_when_no_count_fits():
    r = run("estimate", "--model", "llama-3.1-405b", "--hardware", "rtx-3070", "--price-per-hour", "0.2")
    assert r.exit_code == 0, r.output
    assert r.output.endswith(f"Speed and cost: none (it cannot run)\nNote: {NOTHING_FITS}.\n")


def test_cli_json_gives_null_and_the_note():
    d = json.loads(run("estimate", "--model", "llama-3.1-405b", "--hardware", "a100-80gb", "--json").output)
    assert [k for k in NO_ANSWER if d[k] is not None] == []
    assert d["fits"] is False and d["gpus_needed"] == 16 and d["notes"] == [NOTE_405B]
    assert d["weights_gib"] == pytest.approx(405.8533888e9 * 2 / 2**30, rel=1e-9)


def test_cli_gpus_auto():
    d = json.loads(run("estimate", "--model", "llama-3.1-405b", "--hardware", "a100-80gb", "--gpus", "auto",
                       "--json").output)
    assert d["gpus"] == 16 and d["fits"] is True and d["cost_per_request_usd"] > 0 and d["notes"] == []
    text = run("estimate", "--model", "llama-3.1-405b", "--hardware", "a100-80gb", "--gpus", "auto").output
    assert text.startswith("llama-3.1-405b (fp16 weights, fp16 KV cache) on 16 x NVIDIA A100 SXM4 80GB with vLLM\n")
    r = run("estimate", "--model", "llama-3.1-405b", "--hardware", "rtx-3070", "--gpus", "auto")
    assert r.exit_code == 2 and r.output == f"Error: {AUTO_FAILS}\n"


def test_cli_json_effective_cost():
    d = json.loads(run("estimate", "--model", "llama-3-8b", "--hardware", "l4", "--latency-s", "2",
                       "--price-per-hour", "1", "--requests-per-month", "1000", "--json").output)
    assert d["effective_cost_per_request_usd"] == pytest.approx(0.73, rel=1e-12)
    assert d["cost_per_request_usd"] == pytest.approx(2 / 3600, rel=1e-12)


# --- the Excel functions ------------------------------------------------------------------------

def cell(v):
    return [[v]]


def test_udfs_say_does_not_fit_instead_of_a_cost():
    m, hw = cell("llama-3.1-405b"), cell("a100-80gb")
    want = "#LLM! does not fit: needs 16 GPUs."
    assert udfs.LLM_COST(m, cell(1000.0), cell(500.0), hw) == want
    assert udfs.LLM_COST(m, cell(1000.0), cell(500.0), hw, latency_s=cell(2.0), price_per_hour=cell(1.0)) == want
    assert udfs.LLM_COST_PER_MTOK(m, cell(1000.0), cell(500.0), hw) == want
    assert udfs.LLM_MONTHLY_COST(m, cell(1e5), cell(1000.0), cell(500.0), hw) == want
    assert udfs.LLM_EFFECTIVE_COST(m, cell(1e5), cell(1000.0), cell(500.0), hw) == want
    assert udfs.LLM_TTFT(m, hw, cell(1000.0)) == want
    assert udfs.LLM_LATENCY(m, hw, cell(1000.0), cell(500.0)) == want
    assert udfs.LLM_BREAKEVEN(cell("gpt-4o"), m, hw, cell(1000.0), cell(500.0)) == want
    # what memory questions answer stays
    assert udfs.LLM_FITS(m, hw) is False and udfs.LLM_GPUS_NEEDED(m, hw) == 16
    nothing = udfs.LLM_COST(m, cell(1000.0), cell(500.0), cell("rtx-3070"), price_per_hour=cell(0.2))
    assert nothing == f"#LLM! {NOTHING_FITS}."


def test_udfs_in_a_range_only_the_row_that_does_not_fit_says_so():
    got = udfs.LLM_COST([["llama-3.1-405b"], ["llama-3-8b"]], cell(1000.0), cell(500.0), [["a100-80gb"], ["l4"]])
    assert got[0][0] == "#LLM! does not fit: needs 16 GPUs." and isinstance(got[1][0], float)


def test_udfs_gpus_auto_and_effective_cost():
    got = udfs.LLM_COST(cell("llama-3.1-405b"), cell(1000.0), cell(500.0), cell("a100-80gb"), cell("auto"))
    assert got == estimate("llama-3.1-405b", "a100-80gb", gpus=16).cost_per_request_usd
    fails = udfs.LLM_COST(cell("llama-3.1-405b"), cell(1000.0), cell(500.0), cell("rtx-3070"), cell("auto"))
    assert fails == f"#LLM! {AUTO_FAILS}."
    eff = udfs.LLM_EFFECTIVE_COST(cell("llama-3-8b"), cell(1000.0), cell(1000.0), cell(500.0), cell("l4"),
                                  latency_s=cell(2.0), price_per_hour=cell(1.0))
    assert eff == pytest.approx(0.73, rel=1e-12)
    assert udfs.LLM_EFFECTIVE_COST(cell("gpt-4o"), cell(1e6), cell(1000.0), cell(500.0)) == pytest.approx(0.0075)


# --- fill ---------------------------------------------------------------------------------------

def test_fill_leaves_the_cells_empty_with_the_note(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("scenario,model,hardware,gpus,requests_per_month,latency_s,price_per_hour\n"
                   "big,llama-3.1-405b,a100-80gb,1,1000,,\n"
                   "auto,llama-3.1-405b,a100-80gb,Auto,1000,,\n"
                   "never,llama-3.1-405b,rtx-3070,auto,1000,,\n"
                   "hand,llama-3-8b,l4,,1000,2,1\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["fill", str(src), "--out", str(tmp_path / "out.csv")])
    assert r.exit_code == 0, r.output
    assert "Priced 4 rows: 3 ok, 1 with an error" in r.output
    out = {o["scenario"]: o for o in csv.DictReader(open(tmp_path / "out.csv", encoding="utf-8"))}
    big = out["big"]
    assert big["status"] == "ok" and big["error"] == "" and big["notes"] == NOTE_405B
    assert [k for k in NO_ANSWER if big[k if k != "latency_s" else "latency_s_result"] != ""] == []
    assert big["fits"] == "false" and big["gpus_needed"] == "16" and big["weights_gib"] != ""
    assert out["auto"]["gpus"] == "Auto" and out["auto"]["gpus_result"] == "16" and out["auto"]["fits"] == "true"
    assert out["never"]["status"] == "error" and out["never"]["error"] == AUTO_FAILS
    assert float(out["hand"]["effective_cost_per_request_usd"]) == pytest.approx(0.73, rel=1e-12)
    assert out["hand"]["notes"] == ""


def test_fill_keeps_a_users_notes_column(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("model,hardware,Notes\nllama-3.1-405b,a100-80gb,ours\n", encoding="utf-8")
    CliRunner().invoke(main, ["fill", str(src), "--out", str(tmp_path / "out.csv")])
    row = next(csv.DictReader(open(tmp_path / "out.csv", encoding="utf-8")))
    assert row["Notes"] == "ours" and row["notes_result"] == NOTE_405B


# --- plan and break-even ------------------------------------------------------------------------

def test_plan_skips_what_does_not_fit():
    p = plan(["llama-3.1-405b"], requests_per_day=10_000, hardware=["a100-80gb", "h200"], api_models=["gpt-4o"])
    assert [r["hardware"] for r in p.self_hosted] == ["h200"]
    assert p.rejected == {"a100-80gb": "the model does not fit on 8 GPUs"}
    assert all(r["monthly_usd"] > 0 for r in p.self_hosted)


def test_breakeven_has_no_answer_for_what_does_not_fit():
    b = breakeven_many("gpt-4o", "llama-3.1-405b", "a100-80gb")
    assert math.isnan(b["breakeven_requests_per_month"][0]) and b["notes"][0] == NOTE_405B
