"""Error bands: P10/P90 of TTFT, TPOT, throughput and the costs that follow (physics.bands), the script
that fits them (benchmarks/fit_bands.py) and every surface that shows them."""

from __future__ import annotations

import json
import math
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

import llmcalc_xl
from llmcalc_xl import estimate, estimate_many
from llmcalc_xl.catalogs.loader import load_catalog
from llmcalc_xl.cli.main import main
from llmcalc_xl.errors import LlmcalcError
from llmcalc_xl.excel import functions as udf
from llmcalc_xl.workbook.build import (QUOTE_COLUMNS, QUOTE_FIRST_ROW, SPARE_SCENARIO_ROWS, build_workbook,
                                       quote_total_row, save_atomically)

from .spreadsheets import needs_gnumeric, needs_libreoffice, recalculate, recalculate_gnumeric

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import fit_bands  # noqa: E402

#: made-up stored factors (measured / estimated), chosen for hand arithmetic
FACTORS = dict(ttft_ratio_p10=0.8, ttft_ratio_p90=1.5, tpot_ratio_p10=0.9, tpot_ratio_p90=1.25,
               throughput_ratio_p10=0.5, throughput_ratio_p90=2.0)


def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return fit_bands._toml_value(v)


def _engine_file(tmp_path, drop=(), **fields) -> str:
    """A user catalog with vLLM's entry under the id toy-engine, ``fields`` changed, ``drop`` left out."""
    shipped = Path(llmcalc_xl.__file__).parent / "catalogs" / "engines.toml"
    entry = next(e for e in tomllib.load(open(shipped, "rb"))["engines"] if e["id"] == "vllm")
    entry = dict({k: v for k, v in entry.items() if k not in drop}, id="toy-engine", name="Toy engine", aliases=[],
                 **fields)
    path = tmp_path / f"engine-{len(list(tmp_path.iterdir()))}.toml"
    path.write_text("[[engines]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in entry.items()))
    return str(path)


SCENARIO = dict(engine="toy-engine", gpus=1, batch=8, input_tokens=1000, output_tokens=500, price_per_hour=2.0,
                peak_to_average=1.0, redundancy=0)


@pytest.fixture
def toy(tmp_path):
    return [_engine_file(tmp_path, **FACTORS, bands_source="made up for a test", bands_as_of="2026-11-30")]


def test_bands_by_hand(toy):
    capacity = estimate("llama-3.1-8b", "h100-sxm", catalog=toy, **SCENARIO).capacity_requests_per_month
    # 1.4 replicas' worth of traffic: 2 replicas at the estimate; twice as fast (P90 throughput): 1 (ceil 0.7);
    # half as fast (P10): 3 (ceil 2.8). A replica is 1 GPU x $2 x 730 hours = $1,460 a month.
    e = estimate("llama-3.1-8b", "h100-sxm", catalog=toy, requests_per_month=1.4 * capacity, **SCENARIO)
    assert e.replicas_needed == 2 and e.monthly_cost_usd == pytest.approx(2920.0, rel=1e-12)
    assert e.monthly_cost_usd_p10 == pytest.approx(1460.0, rel=1e-12)
    assert e.monthly_cost_usd_p90 == pytest.approx(4380.0, rel=1e-12)
    assert e.ttft_s_p10 == pytest.approx(0.8 * e.ttft_s, rel=1e-12)
    assert e.ttft_s_p90 == pytest.approx(1.5 * e.ttft_s, rel=1e-12)
    assert e.tpot_s_p10 == pytest.approx(0.9 * e.tpot_s, rel=1e-12)
    assert e.tpot_s_p90 == pytest.approx(1.25 * e.tpot_s, rel=1e-12)
    assert e.throughput_tokens_per_s_p10 == pytest.approx(0.5 * e.throughput_tokens_per_s, rel=1e-12)
    assert e.throughput_tokens_per_s_p90 == pytest.approx(2.0 * e.throughput_tokens_per_s, rel=1e-12)
    # GPU time only (no API tokens): twice as fast is half the GPU time of a request
    assert e.cost_per_mtok_usd_p10 == pytest.approx(e.cost_per_mtok_usd / 2.0, rel=1e-12)
    assert e.cost_per_mtok_usd_p90 == pytest.approx(e.cost_per_mtok_usd * 2.0, rel=1e-12)
    # busy time per batch x $2/h / 8 sequences / 500 tokens x 1e6, the slow side's busy time twice the estimate's
    busy = 8 * 500 / e.throughput_tokens_per_s
    assert e.cost_per_mtok_usd_p90 == pytest.approx(2 * busy * 2.0 / 3600 / 8 / 500 * 1e6, rel=1e-9)


def test_no_band_where_none_applies(tmp_path, toy):
    # an API model: no speed band (the provider's figures), its price list's cost
    api = estimate("gpt-4o", requests_per_month=1000)
    assert api.ttft_s_p10 is None and api.tpot_s_p90 is None and api.throughput_tokens_per_s_p10 is None
    assert api.monthly_cost_usd_p10 == api.monthly_cost_usd_p90 == pytest.approx(api.monthly_cost_usd)
    assert api.cost_per_mtok_usd_p10 == pytest.approx(api.cost_per_mtok_usd)
    # a latency given fixes the busy time: the costs have no band, the speeds keep theirs
    fixed = estimate("llama-3.1-8b", "h100-sxm", catalog=toy, latency_s=3.0, requests_per_month=1e6, **SCENARIO)
    assert fixed.cost_per_mtok_usd_p10 == fixed.cost_per_mtok_usd_p90 == pytest.approx(fixed.cost_per_mtok_usd)
    assert fixed.monthly_cost_usd_p10 == pytest.approx(fixed.monthly_cost_usd)
    assert fixed.ttft_s_p10 == pytest.approx(0.8 * fixed.ttft_s)
    # an engine without band fields: None
    bare = [_engine_file(tmp_path, drop=tuple(FACTORS) + ("bands_source", "bands_as_of"))]
    e = estimate("llama-3.1-8b", "h100-sxm", catalog=bare, requests_per_month=1e6, **SCENARIO)
    assert e.ttft_s is not None and e.ttft_s_p10 is None and e.monthly_cost_usd_p90 is None
    # a deployment that does not fit: no band either
    big = estimate("llama-3.1-70b", "l4", gpus=1, engine="vllm", requests_per_month=1e6)
    assert big.fits is False and big.ttft_s_p10 is None and big.monthly_cost_usd_p10 is None


def test_every_shipped_engine_has_bands_that_bracket_the_estimate():
    cat = load_catalog()
    for engine in cat.entries("engines"):
        for metric in ("ttft", "tpot", "throughput"):
            low, high = getattr(engine, f"{metric}_ratio_p10"), getattr(engine, f"{metric}_ratio_p90")
            assert 0 < low < 1 < high, (engine.id, metric, low, high)
        assert engine.bands_source.startswith("10th and 90th percentiles") and engine.bands_as_of


@pytest.mark.parametrize("fields, message", [
    (dict(ttft_ratio_p10=1.5, ttft_ratio_p90=0.8), "ttft_ratio_p10 (1.5) must be <= ttft_ratio_p90 (0.8)"),
    (dict(tpot_ratio_p10=0.9), "tpot_ratio_p10 and tpot_ratio_p90 go together: give both or neither"),
])
def test_a_band_that_makes_no_sense_is_a_load_error(tmp_path, fields, message):
    path = _engine_file(tmp_path, drop=tuple(FACTORS), **fields)
    with pytest.raises(LlmcalcError) as info:
        estimate("llama-3.1-8b", "h100-sxm", catalog=[path], engine="toy-engine")
    assert message in str(info.value) and "toy-engine" in str(info.value)


# --- the script ----------------------------------------------------------------------------------

def test_percentiles_of_a_made_up_residual_list():
    # linear between closest ranks: rank q/100 x (n - 1)
    assert fit_bands.percentile([3.0, 1.0, 2.0, 5.0, 4.0, 7.0, 6.0, 9.0, 8.0, 11.0, 10.0], 10) == 2.0
    assert fit_bands.percentile(list(range(1, 12)), 90) == 10.0
    assert fit_bands.percentile([0.5, 1.0], 10) == pytest.approx(0.55)  # rank 0.1: 0.5 + 0.1 x 0.5
    assert fit_bands.percentile([0.5, 1.0], 90) == pytest.approx(0.95)
    ratios = [0.5 + i / 100 for i in range(101)]  # 0.50 ... 1.50
    low, high = fit_bands.band(ratios)
    assert (low, high) == (0.6, 1.4)
    assert sum(low <= r <= high for r in ratios) == 81  # 0.60 ... 1.40: 80% of the rows, plus the ends


def test_few_rows_take_the_pooled_band():
    found = [("a", m, r, "serving") for m in ("ttft", "tpot", "throughput") for r in [1.0 + i / 100 for i in range(21)]]
    found += [("b", "ttft", 5.0, "published")]  # one row: b's TTFT band is everyone's
    out = fit_bands.bands(found, ["a", "b"])
    assert (out["a"]["fields"]["ttft_ratio_p10"], out["a"]["fields"]["ttft_ratio_p90"]) == (1.02, 1.18)
    pooled = sorted([1.0 + i / 100 for i in range(21)] + [5.0])
    assert out["b"]["fields"]["ttft_ratio_p10"] == round(fit_bands.percentile(pooled, 10), 2)
    assert "ttft POOLED over all engines' 22 rows (this engine has 1, fewer than 20)" in out["b"]["fields"]["bands_source"]
    assert "ttft 21 rows (21 serving_measurements.csv agg)" in out["a"]["fields"]["bands_source"]


def test_rewrite_replaces_the_band_fields_and_leaves_the_rest():
    text = ('# header\n\n[[engines]]\nid = "x"\nname = "X"\nttft_ratio_p10 = 0.1\nsource = "s"\nas_of = "d"\n\n'
            '[[engines]]\nid = "y"\nname = "Y"\nsource = "t"\n')
    values = {"x": {"fields": {"ttft_ratio_p10": 0.7, "bands_source": "fit"}},
              "y": {"fields": {"ttft_ratio_p10": 0.6, "bands_source": "fit"}}}
    once = fit_bands.rewrite(text, values)
    assert once == ('# header\n\n[[engines]]\nid = "x"\nname = "X"\nttft_ratio_p10 = 0.7\nbands_source = "fit"\n'
                    'source = "s"\nas_of = "d"\n\n[[engines]]\nid = "y"\nname = "Y"\nttft_ratio_p10 = 0.6\n'
                    'bands_source = "fit"\nsource = "t"\n')
    assert fit_bands.rewrite(once, values) == once  # rerunnable


# --- surfaces ------------------------------------------------------------------------------------

def test_cli_text_shows_the_range_and_json_the_keys(toy):
    args = ["estimate", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--engine", "toy-engine", "--catalog",
            toy[0], "--batch", "8", "--price-per-hour", "2", "--requests-per-month", "1000000"]
    e = estimate("llama-3.1-8b", "h100-sxm", catalog=toy, engine="toy-engine", batch=8, price_per_hour=2.0,
                 requests_per_month=1e6)
    text = CliRunner().invoke(main, args)
    assert text.exit_code == 0, text.output
    ms = lambda x: f"{x * 1000:,.1f}"  # noqa: E731
    assert f"{ms(e.ttft_s)} ms ({ms(0.8 * e.ttft_s)}-{ms(1.5 * e.ttft_s)})" in text.output
    assert f"${e.cost_per_mtok_usd:,.2f} (${e.cost_per_mtok_usd / 2:,.2f}-${e.cost_per_mtok_usd * 2:,.2f})" in text.output
    out = json.loads(CliRunner().invoke(main, args + ["--json"]).output)
    assert out["tpot_s_p90"] == pytest.approx(1.25 * out["tpot_s"])
    assert out["monthly_cost_usd_p10"] == pytest.approx(e.monthly_cost_usd_p10)


def test_excel_functions_take_a_band():
    common = dict(model="llama-3.1-8b", hardware="h100-sxm", input_tokens=1000, batch=16, engine="vllm")
    core = estimate_many(**common, output_tokens=0)
    assert udf.LLM_TTFT(**common, band="p10") == pytest.approx(core["ttft_s_p10"][0])
    assert udf.LLM_TTFT(**common, band=" P90 ") == pytest.approx(core["ttft_s_p90"][0])
    assert udf.LLM_TTFT(**common) == pytest.approx(core["ttft_s"][0])
    assert udf.LLM_TTFT(**common, band="p50") == "#LLM! band 'p50' must be p10, p90 or empty (the estimate)."
    core = estimate_many(**common, output_tokens=500, requests_per_month=1e7)
    assert udf.LLM_TPOT(**common, output_tokens=500, band="p90") == pytest.approx(core["tpot_s_p90"][0])
    assert udf.LLM_THROUGHPUT(**common, output_tokens=500, band="p10") == pytest.approx(
        core["throughput_tokens_per_s_p10"][0])
    cost = dict(model="llama-3.1-8b", input_tokens=1000, output_tokens=500, hardware="h100-sxm", batch=16,
                engine="vllm")
    assert udf.LLM_COST_PER_MTOK(**cost, band="p10") == pytest.approx(core["cost_per_mtok_usd_p10"][0])
    # a range of bands answers in its shape
    assert udf.LLM_MONTHLY_COST(requests_per_month=1e7, **cost, band=[["p10"], ["p90"], [None]]) == [
        [pytest.approx(core["monthly_cost_usd_p10"][0])], [pytest.approx(core["monthly_cost_usd_p90"][0])],
        [pytest.approx(core["monthly_cost_usd"][0])]]


def test_excel_band_of_an_engine_without_one_says_so(tmp_path, monkeypatch):
    from llmcalc_xl.catalogs.loader import ENV_VAR
    bare = _engine_file(tmp_path, drop=tuple(FACTORS) + ("bands_source", "bands_as_of"))
    monkeypatch.setenv(ENV_VAR, bare)  # the user catalog Excel's functions see
    got = udf.LLM_TTFT("llama-3.1-8b", "h100-sxm", 1000, engine="toy-engine", band="p10")
    assert got == ("#LLM! No p10 band for this engine: its catalog entry has no ttft_ratio_p10 "
                   "(benchmarks/fit_bands.py writes them).")
    assert isinstance(udf.LLM_TTFT("llama-3.1-8b", "h100-sxm", 1000, engine="toy-engine"), float)


def test_fill_writes_the_band_columns(tmp_path):
    from llmcalc_xl.batch.fill import RESULT_KEYS
    for key in ("ttft_s_p10", "ttft_s_p90", "tpot_s_p10", "throughput_tokens_per_s_p90", "cost_per_mtok_usd_p10",
                "monthly_cost_usd_p90"):
        assert key in RESULT_KEYS
    src = tmp_path / "in.csv"
    src.write_text("model,hardware,engine,batch,requests_per_month\nllama-3.1-8b,h100-sxm,vllm,16,10000000\n")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["fill", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    import csv
    row = next(csv.DictReader(open(out, newline="")))
    core = estimate_many("llama-3.1-8b", "h100-sxm", engine="vllm", batch=16, requests_per_month=1e7)
    for key in ("ttft_s_p10", "monthly_cost_usd_p10", "monthly_cost_usd_p90", "cost_per_mtok_usd_p90"):
        assert float(row[key]) == pytest.approx(core[key][0], rel=1e-9), key


# --- the Quote sheet: low-high monthly cost, live formulas ---------------------------------------

QUOTE_ROWS = [
    dict(scenario="8B on H100", model="llama-3.1-8b", hardware="h100-sxm", batch=16, requests_per_month=10_000_000),
    dict(scenario="70B on 4 H100, TRT-LLM", model="llama-3.1-70b", hardware="h100-sxm", gpus=4, engine="tensorrt-llm",
         batch=32, requests_per_month=3_000_000),
    dict(scenario="8B on L4, owned", model="llama-3.1-8b", hardware="l4", pricing="owned", requests_per_month=500_000),
    dict(scenario="API", model="gpt-4o", requests_per_month=1_000_000),
    dict(scenario="does not fit", model="llama-3.1-70b", hardware="l4", gpus=1, requests_per_month=1_000_000),
]
LOW, HIGH = (next(i for i, c in enumerate(QUOTE_COLUMNS, start=1) if c[0] == name)
             for name in ("Monthly cost, low (P10)", "Monthly cost, high (P90)"))


def _check_quote(ws):
    seen = 0
    for i, row in enumerate(QUOTE_ROWS):
        core = estimate_many(**{k: [v] for k, v in row.items() if k != "scenario"})
        for key, col in (("monthly_cost_usd_p10", LOW), ("monthly_cost_usd_p90", HIGH)):
            got, want = ws.cell(QUOTE_FIRST_ROW + i, col).value, float(core[key][0])
            if core["fits"][0] == 0:
                assert got in (None, ""), (row["scenario"], key, got)
            else:
                assert math.isclose(got, want, rel_tol=1e-9), (row["scenario"], key, got, want)
                seen += 1
    assert seen == 8
    total = quote_total_row(len(QUOTE_ROWS) + SPARE_SCENARIO_ROWS)  # below the quoted and the spare rows
    assert ws.cell(total, LOW).value < ws.cell(total, 5).value < ws.cell(total, HIGH).value


@pytest.fixture(scope="module")
def quote_book(tmp_path_factory):
    return save_atomically(build_workbook(QUOTE_ROWS), tmp_path_factory.mktemp("bands") / "bands.xlsx")


@needs_libreoffice
def test_quote_low_high_monthly_cost_in_libreoffice(quote_book, tmp_path):
    _check_quote(load_workbook(recalculate(quote_book, tmp_path), data_only=True)["Quote"])


@needs_gnumeric
def test_quote_low_high_monthly_cost_in_gnumeric(quote_book, tmp_path):
    _check_quote(load_workbook(recalculate_gnumeric(quote_book, tmp_path).path, data_only=True)["Quote"])


def test_quote_low_high_monthly_cost_as_stored(quote_book):
    # the values the workbook stores beside its formulas (for viewers that do not recalculate)
    _check_quote(load_workbook(quote_book, data_only=True)["Quote"])
