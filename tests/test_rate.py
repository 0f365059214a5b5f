"""The request-rate view (requests_per_s at one deployment): queueing figures against M/M/1 and M/M/c
worked by hand here, the lone request's figures at low load, the error at utilisation 1 or more, and
the same numbers on every surface.

Worked cases fix the time a request holds a slot with latency_s (the engine's time S then does not
depend on the concurrency), so that the queue's arithmetic stands alone:

- M/M/1 (batch 1, S = 2 s, lambda = 0.25/s): mu = 0.5/s, rho = 0.5, P_w = rho = 0.5 (exact for one
  server); mean wait rho / (mu - lambda) = 2 s; L = rho / (1 - rho) = 1 (Kleinrock, Queueing Systems
  vol. 1, 1975, section 3.2); P(W_q > t) = rho exp(-(mu - lambda) t), so the p90 wait is
  ln(0.5 / 0.1) / 0.25 = 6.438 s and the p99 ln(0.5 / 0.01) / 0.25 = 15.648 s.
- M/M/4 (batch 4, S = 1 s, lambda = 3/s): c mu = 4/s, rho = 0.75. Erlang C by its sum (Gross and
  Harris, Fundamentals of Queueing Theory, eq. 2.36): a = 3, sum_{k<4} 3^k / k! = 13, 3^4 / 4! / (1 -
  0.75) = 13.5, P_w = 13.5 / 26.5 = 0.5094. Sakasegawa's closed form: 0.75^(sqrt(10) - 1) = 0.5369,
  5.4% above; mean wait P_w / (4 - 3).
"""

import math

import numpy as np
import pytest
from click.testing import CliRunner

from llmcalc_xl import estimate, estimate_many
from llmcalc_xl.cli.main import main
from llmcalc_xl.core import physics
from llmcalc_xl.errors import LlmcalcError
from llmcalc_xl.excel import functions as udfs
from llmcalc_xl.workbook import formulas as F
from llmcalc_xl.workbook.build import build_workbook, save_atomically

from .spreadsheets import (core_of, load_values, mismatches, needs_gnumeric, needs_libreoffice, problem, recalculate,
                           recalculate_gnumeric, scenario_outputs)

FIXED = dict(hardware="h100-sxm", price_per_hour=2.0)


def test_mm1_by_hand():
    e = estimate("llama-3-8b", batch=1, latency_s=2.0, requests_per_s=0.25, **FIXED)
    assert e.served_requests_per_s == pytest.approx(0.5, rel=1e-12)
    assert e.utilization_at_rate == pytest.approx(0.5, rel=1e-12)
    assert e.queue_wait_s == pytest.approx(2.0, rel=1e-12)
    assert e.concurrency_at_rate == pytest.approx(1.0, rel=1e-12)  # Little: 0.25 x (2 + 2)
    assert e.ttft_at_rate_s == pytest.approx(e.ttft_s + 2.0, rel=1e-12)
    assert e.ttft_at_rate_p90_s == pytest.approx(e.ttft_s + math.log(5.0) / 0.25, rel=1e-12)
    assert e.ttft_at_rate_p99_s == pytest.approx(e.ttft_s + math.log(50.0) / 0.25, rel=1e-12)
    # one slot: the request is always alone in the engine
    assert e.tpot_at_rate_s == e.tpot_at_rate_p90_s == e.tpot_at_rate_p99_s == pytest.approx(e.tpot_s, rel=1e-12)


def test_mmc_by_hand_and_against_erlang_c():
    e = estimate("llama-3-8b", batch=4, latency_s=1.0, requests_per_s=3.0, **FIXED)
    assert e.utilization_at_rate == pytest.approx(0.75, rel=1e-12)
    sakasegawa = 0.75 ** (math.sqrt(10.0) - 1.0)
    assert sakasegawa == pytest.approx(0.5369, abs=1e-4)
    assert e.queue_wait_s == pytest.approx(sakasegawa / (4.0 - 3.0), rel=1e-12)
    erlang_c = 13.5 / 26.5
    assert e.queue_wait_s == pytest.approx(erlang_c, rel=0.06)  # the closed form errs long, by 5.4%
    assert e.queue_wait_s >= erlang_c
    assert e.ttft_at_rate_p90_s - e.ttft_at_rate_s + e.queue_wait_s == pytest.approx(math.log(sakasegawa / 0.1), rel=1e-9)
    # the concurrency a request sees: 1 + 3 x 1 = 4, the whole batch; L = lambda (W_q + S)
    assert e.concurrency_at_rate == pytest.approx(3.0 * (sakasegawa + 1.0), rel=1e-12)


def test_sakasegawa_is_erlang_c_for_one_slot_and_never_below_it():
    def erlang_c(c, rho):  # by Erlang B's recursion (Gross and Harris)
        b = 1.0
        for k in range(1, c + 1):
            b = c * rho * b / (k + c * rho * b)
        return b / (1.0 - rho * (1.0 - b))

    for c in (1, 2, 3, 8, 16, 64):
        for rho in (0.3, 0.5, 0.7, 0.9, 0.95):
            got = float(physics._queue.wait_probability(np.float64(rho), np.float64(c)))
            if c == 1:
                assert got == pytest.approx(rho, rel=1e-12)
            if rho <= 0.9:
                assert got >= erlang_c(c, rho) * (1 - 1e-9)
            if rho >= 0.9:  # where waiting matters
                assert got == pytest.approx(erlang_c(c, rho), rel=0.08 if c > 16 else 0.05)


@pytest.mark.parametrize("row", [
    dict(model="llama-3-8b", hardware="h100-sxm", batch=32),
    dict(model="mixtral-8x7b", hardware="a100-80gb", gpus=2, engine="tensorrt-llm", batch=8),
    dict(model="qwen3-30b-a3b", hardware="h100-sxm", batch=16, engine="sglang"),
])
def test_at_low_load_the_figures_are_the_lone_request(row):
    alone = estimate(**dict(row, batch=1))
    slow = estimate(**row, requests_per_s=1e-7)
    for key in ("ttft_at_rate_s", "ttft_at_rate_p90_s", "ttft_at_rate_p99_s"):
        assert getattr(slow, key) == pytest.approx(alone.ttft_s, rel=1e-4), key
    for key in ("tpot_at_rate_s", "tpot_at_rate_p90_s", "tpot_at_rate_p99_s"):
        assert getattr(slow, key) == pytest.approx(alone.tpot_s, rel=1e-4), key
    assert slow.queue_wait_s == pytest.approx(0.0, abs=1e-9)
    assert slow.concurrency_at_rate == pytest.approx(1e-7 * alone.latency_s, rel=1e-3)


def test_figures_grow_with_the_rate_and_percentiles_are_ordered():
    row = dict(model="llama-3-8b", hardware="h100-sxm", batch=32)
    served = estimate(**row, requests_per_s=0.0).served_requests_per_s
    rates = served * np.array([0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.97])
    e = estimate_many(**row, requests_per_s=rates)
    assert list(e["error"]) == [None] * len(rates)
    for key in ("utilization_at_rate", "concurrency_at_rate", "queue_wait_s", "ttft_at_rate_s", "ttft_at_rate_p90_s",
                "ttft_at_rate_p99_s", "tpot_at_rate_s", "tpot_at_rate_p90_s", "tpot_at_rate_p99_s"):
        assert np.all(np.diff(e[key]) >= -1e-12), key
    assert np.all(e["ttft_at_rate_p99_s"] >= e["ttft_at_rate_p90_s"]) and np.all(e["tpot_at_rate_p99_s"] >= e["tpot_at_rate_p90_s"])
    assert np.all(e["tpot_at_rate_p99_s"] <= e["tpot_s"] * (1 + 1e-12))  # never slower than every slot busy
    assert e["utilization_at_rate"][-1] == pytest.approx(0.97, rel=1e-9)


def test_a_blank_rate_changes_nothing():
    rows = dict(model=["llama-3-8b", "gpt-4o", "llama-3-8b"], hardware=["l4", None, None], batch=[4, 1, 1],
                requests_per_month=[1e6, 1e6, 1e6])
    without = estimate_many(**rows)
    blank = estimate_many(**rows, requests_per_s=[None, None, None])
    given = estimate_many(**rows, requests_per_s=[0.01, 0.01, 0.01])
    for key in without:
        if key in physics.RATE_KEYS or key in ("requests_per_s", "notes", "note_kinds"):
            continue
        for other in (blank, given):
            assert [str(v) for v in other[key]] == [str(v) for v in without[key]], key
    for key in physics.RATE_KEYS:
        assert np.isnan(blank[key]).all(), key
        # an API model and a model without hardware have no deployment to queue at
        assert np.isnan(given[key][1:]).all() and not np.isnan(given[key][0]), key


OVERLOADED = ("requests_per_s: arrivals of 3/s exceed the 2/s this deployment serves. Add replicas (plan) or lower "
              "requests_per_s")


def test_arrivals_beyond_what_the_deployment_serves_are_the_rows_error():
    with pytest.raises(LlmcalcError) as err:
        estimate("llama-3-8b", batch=2, latency_s=1.0, requests_per_s=3.0, **FIXED)
    assert str(err.value) == OVERLOADED
    e = estimate_many("llama-3-8b", batch=2, latency_s=1.0, requests_per_s=[1.0, 2.0, 3.0], **FIXED)
    assert list(e["error"]) == [None, OVERLOADED.replace("3/s", "2/s", 1), OVERLOADED]
    assert np.isnan(e["ttft_s"][1:]).all() and not np.isnan(e["ttft_at_rate_p90_s"][0])
    result = CliRunner().invoke(main, ["estimate", "--model", "llama-3-8b", "--hardware", "h100-sxm", "--batch", "2",
                                       "--latency-s", "1", "--requests-per-s", "3"])
    assert result.exit_code == 2
    assert result.output.strip() == f"Error: {OVERLOADED}"
    assert udfs.LLM_AT_RATE("llama-3-8b", "h100-sxm", 3.0, 1000.0, 500.0, batch=2.0).startswith(
        "#LLM! requests_per_s: arrivals of 3/s exceed the")


def test_cli_text_and_json():
    args = ["estimate", "--model", "llama-3-8b", "--hardware", "h100-sxm", "--batch", "4", "--latency-s", "1",
            "--requests-per-s", "3"]
    text = CliRunner().invoke(main, args)
    assert text.exit_code == 0, text.output
    assert "At 3.000 requests/s arriving at random, one deployment (M/M/c queue, c = batch)" in text.output
    assert "75.0%   of 4.000 requests/s served with all 4 slots busy" in text.output
    out = CliRunner().invoke(main, args + ["--json"])
    import json

    d = json.loads(out.output)
    e = estimate("llama-3-8b", batch=4, latency_s=1.0, requests_per_s=3.0, hardware="h100-sxm").to_dict()
    for key in physics.RATE_KEYS + ("requests_per_s",):
        assert d[key] == pytest.approx(e[key], rel=1e-12), key


def test_the_excel_function_is_the_core():
    row = dict(model="llama-3-8b", hardware="h100-sxm", batch=16)
    e = estimate(**row, requests_per_s=1.5, input_tokens=1000, output_tokens=500).to_dict()
    assert udfs.LLM_AT_RATE("llama-3-8b", "h100-sxm", 1.5, 1000.0, 500.0, batch=16.0) == pytest.approx(
        e["ttft_at_rate_p90_s"], rel=1e-12)
    for key in physics.RATE_KEYS:
        assert udfs.LLM_AT_RATE("llama-3-8b", "h100-sxm", 1.5, 1000.0, 500.0, batch=16.0, figure=key) == \
            pytest.approx(e[key], rel=1e-12), key
    assert udfs.LLM_AT_RATE("llama-3-8b", "h100-sxm", 1.5, 1000.0, 500.0, figure="p50").startswith(
        "#LLM! figure 'p50' must be one of served_requests_per_s")


#: Rows for the workbook: every kind of engine schedule, low to high load, and rows without a view.
BOOK = [
    {"scenario": "low load", "model": "llama-3-8b", "hardware": "h100-sxm", "batch": 16, "requests_per_s": 0.01},
    {"scenario": "mid load", "model": "llama-3-8b", "hardware": "h100-sxm", "batch": 16, "requests_per_s": 2},
    {"scenario": "high load", "model": "llama-3-8b", "hardware": "h100-sxm", "batch": 64, "requests_per_s": 7.5},
    {"scenario": "MoE, TP 2", "model": "mixtral-8x7b", "hardware": "a100-80gb", "gpus": 2, "engine": "tensorrt-llm",
     "batch": 8, "requests_per_s": 0.4},
    {"scenario": "SGLang", "model": "qwen3-30b-a3b", "hardware": "h100-sxm", "batch": 32, "engine": "sglang",
     "requests_per_s": 1.5},
    {"scenario": "static batches", "model": "llama-3-8b", "hardware": "l4", "engine": "transformers", "batch": 4,
     "requests_per_s": 0.05},
    {"scenario": "M/M/1", "model": "llama-3-8b", "hardware": "h100-sxm", "batch": 1, "latency_s": 2,
     "requests_per_s": 0.25},
    {"scenario": "no rate", "model": "llama-3-8b", "hardware": "h100-sxm", "batch": 16},
    {"scenario": "API", "model": "gpt-4o", "requests_per_s": 1},
    {"scenario": "does not fit", "model": "llama-3.1-70b", "hardware": "l4", "batch": 4, "requests_per_s": 1},
    {"scenario": "overloaded", "model": "llama-3-8b", "hardware": "h100-sxm", "batch": 2, "latency_s": 1,
     "requests_per_s": 3},
]


def _check_book(engine, got, cat):
    core = core_of(BOOK, cat)
    ok = [i for i, e in enumerate(core["error"]) if e is None]
    assert [r["scenario"] for i, r in enumerate(BOOK) if i not in ok] == ["overloaded"]
    assert problem(got(len(BOOK) - 1, "check")).startswith("requests_per_s: arrivals of 3/s exceed the 2/s this "
                                                            "deployment serves")
    good = [BOOK[i] for i in ok]
    sub = {k: [v[i] for i in ok] for k, v in core.items()}
    assert mismatches(engine, good, sub, lambda i, key: got(ok[i], key), F.OUTPUT_KEYS, "n/a",
                      no_fit="does not fit") == []
    assert not math.isnan(sub["ttft_at_rate_p99_s"][2])  # the view has figures in the book


def test_the_workbook_stores_the_views_values(tmp_path, cat):
    """The values the quote stores beside its formulas (computed by formula_values, LN included)."""
    path = save_atomically(build_workbook(BOOK, catalog=cat), tmp_path / "rate.xlsx")
    _check_book("stored values", scenario_outputs(load_values(path)["Scenarios"], len(BOOK)), cat)


@needs_libreoffice
def test_the_workbook_computes_the_view_in_libreoffice(tmp_path, cat):
    path = save_atomically(build_workbook(BOOK, catalog=cat), tmp_path / "rate.xlsx")
    got = scenario_outputs(load_values(recalculate(path, tmp_path))["Scenarios"], len(BOOK))
    _check_book("LibreOffice", got, cat)


@needs_gnumeric
def test_the_workbook_computes_the_view_in_gnumeric(tmp_path, cat):
    path = save_atomically(build_workbook(BOOK, catalog=cat), tmp_path / "rate.xlsx")
    result = recalculate_gnumeric(path, tmp_path)
    got = scenario_outputs(load_values(result.path)["Scenarios"], len(BOOK))
    _check_book("Gnumeric", got, cat)


def test_plan_sizes_replicas_to_percentile_targets():
    from llmcalc_xl.core.plan import plan

    load = dict(requests_per_s=20, hardware=["h100-sxm", "l4"], api_models=["gpt-4o"], peak_to_average=2)
    free = plan(["llama-3.1-8b"], **load)
    tight = plan(["llama-3.1-8b"], max_ttft_p90_s=0.5, max_tpot_p99_s=0.05, **load)
    assert tight.self_hosted
    peak_per_s = 20 * 2
    for row in tight.self_hosted:
        # at the peak, the load a serving replica sees meets the targets (the rate view of the same rows)
        assert row["ttft_at_rate_p90_s"] <= 0.5 and row["tpot_at_rate_p99_s"] <= 0.05
        assert row["utilization_at_peak"] <= row["utilization"] + 1e-9
        # the cost is the core's, at the utilisation the targets allow
        e = estimate("llama-3.1-8b", row["hardware"], gpus=row["gpus"], batch=row["batch"],
                     utilization=row["utilization"], requests_per_month=tight.requests_per_month, peak_to_average=2)
        assert row["monthly_usd"] == pytest.approx(e.monthly_cost_usd, rel=1e-12)
        serving = row["replicas"] - row["spare_replicas"]
        rate = estimate("llama-3.1-8b", row["hardware"], gpus=row["gpus"], batch=row["batch"],
                        requests_per_s=peak_per_s / serving)
        assert rate.ttft_at_rate_p90_s == pytest.approx(row["ttft_at_rate_p90_s"], rel=1e-12)
    # a target never makes the cheapest configuration cheaper
    assert tight.self_hosted[0]["monthly_usd"] >= free.self_hosted[0]["monthly_usd"] - 0.005


def test_plan_says_when_no_configuration_meets_a_percentile_target():
    from llmcalc_xl.core.plan import plan

    p = plan(["llama-3.1-8b"], requests_per_s=1, hardware=["l4"], api_models=["gpt-4o"], max_ttft_p90_s=0.001)
    assert p.self_hosted == [] and p.rejected == {"l4": "no configuration meets the latency targets"}
    result = CliRunner().invoke(main, ["plan", "--model", "llama-3.1-8b", "--requests-per-s", "1", "--hardware", "l4",
                                       "--max-tpot-p99-s", "0"])
    assert result.exit_code == 2 and result.output.strip() == "Error: max_tpot_p99_s must be > 0, got 0"


def test_fill_prices_the_view_and_keeps_the_overloaded_row(tmp_path):
    from llmcalc_xl.batch.fill import fill_file

    src = tmp_path / "in.csv"
    src.write_text("model,hardware,batch,latency_s,requests_per_s\nllama-3-8b,h100-sxm,1,2,0.25\n"
                   "llama-3-8b,h100-sxm,16,,\nllama-3-8b,h100-sxm,2,1,3\n", encoding="utf-8")
    fill_file(src, tmp_path / "out.csv")
    import csv

    rows = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert float(rows[0]["queue_wait_s"]) == pytest.approx(2.0, rel=1e-12)  # the M/M/1 above
    assert rows[1]["ttft_at_rate_p90_s"] == "" and rows[1]["error"] == "" and rows[1]["ttft_s"] != ""
    assert rows[2]["error"] == OVERLOADED and rows[2]["ttft_s"] == ""
