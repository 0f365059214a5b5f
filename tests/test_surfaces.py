"""Issue 12's options on every surface: the library, `estimate --json`, the command line's text, the Excel
functions, `fill` and the quote workbook recalculated by LibreOffice and by Gnumeric give the same numbers.

Each scenario sets one of the options the issue added (batch max, requests_per_s and its rate view, the
tp / dp / ep layout, the SGLang engine), as users type them ("MAX", " SGLang ", "H100", "4.0"), under a
catalog that carries a calibration (`llmcalc-xl calibrate`) of SGLang on the H100; every output,
error bands included, is compared. The library (``estimate_many``, and ``horizon_many`` for the
Forecast sheet, LLM_HORIZON and ``fill --compare-api-model``) is the source of truth: each surface must show
its value at relative 1e-9, with "no answer" in the same places. One workbook is built for all
the scenarios, and each spreadsheet engine recalculates it once.

A new option must be set here or in the random parity book (tests/random_scenarios.py, which
tests/test_parity.py puts through the same surfaces): ``test_every_option_is_checked_on_every_surface``
fails until it is.
"""

from __future__ import annotations

import csv
import inspect
import json
import math

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from llmcalc_xl import estimate, estimate_many
from llmcalc_xl.batch.fill import fill_file
from llmcalc_xl.catalogs.loader import ENV_VAR, load_catalog
from llmcalc_xl.cli.main import main
from llmcalc_xl.core.estimate import BOOL_KEYS, INPUT_KEYS, OUTPUT_KEYS
from llmcalc_xl.core.options import OPTION_NAMES, TEXT_OPTIONS, WORD_OPTIONS
from llmcalc_xl.core.physics import BAND_KEYS, RATE_KEYS
from llmcalc_xl.excel import functions as udfs
from llmcalc_xl.workbook import formulas as F
from llmcalc_xl.workbook.build import QUOTE_COLUMNS, QUOTE_FIRST_ROW, build_workbook, save_atomically

from . import random_scenarios
from .spreadsheets import (forecast_mismatches, horizon_core_of, load_values, mismatches, needs_gnumeric,
                           needs_libreoffice, problem, recalculate, recalculate_gnumeric, same, scenario_outputs)

SHORT = dict(input_tokens=100, output_tokens=100)
LAYOUT = dict(model="qwen3-30b-a3b", gpus=8, tp=2, dp=4, ep=4)  # a MoE: 4 attention ranks of tp 2, experts over 4

#: name -> the scenario as typed (every surface gets these values; the CSV and the command line write
#: whole numbers as "4.0")
SCENARIOS = {
    "batch max": dict(model="llama-3.2-1b", hardware="h200", batch="max", requests_per_month=1e6, **SHORT),
    "batch typed ' MAX ' on an A100": dict(model="llama-3.2-1b", hardware="a100-80gb", batch=" MAX ",
                                           requests_per_month=1e6, **SHORT),
    "requests_per_s": dict(model="llama-3-8b", hardware="h100-sxm", batch=16, requests_per_s=1.5,
                           requests_per_month=1e6),
    "tp dp ep": dict(LAYOUT, hardware="a100-80gb", engine="tensorrt-llm", batch=64, requests_per_month=1e7),
    "engine typed 'SGLang', calibrated": dict(model="llama-3-8b", hardware="H100", engine="SGLang",
                                              requests_per_month=1e6),
    "all at once": dict(LAYOUT, hardware="H100", engine=" SGLang ", batch="max", requests_per_s=3,
                        requests_per_month=1e7, input_tokens=1000, output_tokens=200),
}
NAMES = list(SCENARIOS)
ROWS = [dict(scenario=name, **row) for name, row in SCENARIOS.items()]
#: the measurement the catalog's calibration is fitted to: Llama 3 8B on one H100 under SGLang, batch 1,
#: 1,000 in / 500 out tokens (the defaults), 9 ms a token and 50 ms to the first
MEASURED_TPOT_S, MEASURED_TTFT_S = 0.009, 0.050


def _typed(value):
    """A value as a CSV cell or a command-line argument: whole numbers written as "4.0", as a spreadsheet
    exports them."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{float(value)!r}"
    return str(value)


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    out = tmp_path_factory.mktemp("surfaces") / "ours.toml"
    r = CliRunner().invoke(main, ["calibrate", "--model", "llama-3-8b", "--hardware", "H100", "--engine", "SGLang",
                                  "--measured-tpot-ms", str(MEASURED_TPOT_S * 1000), "--measured-ttft-ms",
                                  str(MEASURED_TTFT_S * 1000), "--source", "our lab, SGLang on one H100",
                                  "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def core(calibration):
    """The library's answers: the source of truth."""
    cols = {k: [r.get(k) for r in ROWS] for k in F.INPUT_KEYS if k != "scenario"}
    out = estimate_many(catalog=[calibration], **cols)
    assert list(out["error"]) == [None] * len(ROWS)
    return out


@pytest.fixture(scope="module")
def over_time(calibration):
    """The library's horizon forecast (against the quote's API model, gpt-4o) and sensitivity of the rows."""
    return horizon_core_of(ROWS, load_catalog([calibration]))


def _want(core, i, key):
    v = core[key][i]
    return v.item() if hasattr(v, "item") else v


def test_the_scenarios_exercise_what_they_say(core, calibration):
    i = {name: NAMES.index(name) for name in NAMES}
    # batch max: the engine's own cap where memory holds more (vLLM: 1024 on an H200, 256 on an A100; SGLang 4096)
    assert [core["batch"][i[n]] for n in ("batch max", "batch typed ' MAX ' on an A100", "all at once")] == [
        1024, 256, 4096]
    assert all(core["max_batch"][i[n]] > core["batch"][i[n]] for n in ("batch max", "all at once"))
    # the rate view where requests_per_s is given, none elsewhere
    for n in NAMES:
        given = "requests_per_s" in SCENARIOS[n]
        assert all(math.isnan(core[k][i[n]]) != given for k in RATE_KEYS), n
    # every row fits, runs and has its error bands around the estimate
    assert all(core["fits"]) and not any(math.isnan(core[k][j]) for k in BAND_KEYS for j in range(len(ROWS)))
    assert all(core["ttft_s_p10"] < core["ttft_s"]) and all(core["ttft_s"] < core["ttft_s_p90"])
    # the calibration reproduces its own measurement, and moves the other SGLang-on-H100 rows only
    cal = i["engine typed 'SGLang', calibrated"]
    assert core["tpot_s"][cal] == pytest.approx(MEASURED_TPOT_S, rel=0.005)
    assert core["ttft_s"][cal] == pytest.approx(MEASURED_TTFT_S, rel=0.005)
    plain = estimate_many(**{k: [r.get(k) for r in ROWS] for k in F.INPUT_KEYS if k != "scenario"})
    moved = [n for j, n in enumerate(NAMES) if not math.isclose(plain["tpot_s"][j], core["tpot_s"][j], rel_tol=1e-12)]
    assert moved == ["engine typed 'SGLang', calibrated", "all at once"]
    assert list(core["engine"]) == ["vllm", "vllm", "vllm", "tensorrt-llm", "sglang", "sglang"]


def test_every_option_is_checked_on_every_surface():
    """Each option of the core is set in a scenario here or in the random parity book, and each option
    that takes a word besides numbers ("max") is typed here in another case."""
    book = {name for group in (random_scenarios.CHOICES, random_scenarios.OWNING_CHOICES,
                               random_scenarios.PRICE_CHOICES, random_scenarios.HORIZON_CHOICES,
                               random_scenarios.AUTOSCALE_CHOICES) for name in group}
    here = {k for row in SCENARIOS.values() for k in row}
    assert [o for o in OPTION_NAMES if o not in book | here] == []
    for option, word in WORD_OPTIONS.items():
        typed = {str(row.get(option)) for row in SCENARIOS.values()}
        assert word in typed and any(t != word and t.strip().lower() == word for t in typed), option
    # every output the library has, the workbook has (and the other surfaces are compared key by key below)
    assert F.OUTPUT_KEYS == OUTPUT_KEYS


# --- the library, the command line, the Excel functions ---------------------------------------------------

KEYS = tuple(k for k in INPUT_KEYS if k != "model_kind") + OUTPUT_KEYS


def _off(surface, name, shown: dict, core, i) -> list[str]:
    return [f"{surface}: {name} {key}: shows {shown.get(key)!r}, library {_want(core, i, key)!r}"
            for key in KEYS if not _agrees(shown.get(key), _want(core, i, key), key)]


def _agrees(got, want, key) -> bool:
    if isinstance(want, str) or want is None:
        return got == want
    return same(got, want, key, None)


@pytest.mark.parametrize("name", NAMES)
def test_estimate_of_one_scenario(name, core, calibration):
    i = NAMES.index(name)
    shown = estimate(catalog=[calibration], **SCENARIOS[name]).to_dict()
    assert _off("estimate", name, shown, core, i) == []


def _cli(row, calibration, *more):
    args = ["estimate"] + [a for k, v in row.items() for a in ("--" + k.replace("_", "-"), _typed(v))]
    r = CliRunner().invoke(main, [*args, "--catalog", str(calibration), *more])
    assert r.exit_code == 0, r.output
    return r.output


@pytest.mark.parametrize("name", NAMES)
def test_estimate_json(name, core, calibration):
    shown = json.loads(_cli(SCENARIOS[name], calibration, "--json"))
    assert _off("estimate --json", name, shown, core, NAMES.index(name)) == []


@pytest.mark.parametrize("name", NAMES)
def test_estimate_text_names_what_was_asked(name, core, calibration):
    i, row = NAMES.index(name), SCENARIOS[name]
    text = _cli(row, calibration)
    cat = load_catalog([calibration])
    assert f"{int(core['batch'][i]):,} sequence" in text and f" with {cat.engine(core['engine'][i]).name}" in text
    assert ("(batch max: the largest that fits" in text) == (str(row.get("batch")).strip().lower() == "max")
    assert ("(tp 2 x dp 4, ep 4)" in text) == ("dp" in row)
    assert (f"At {row.get('requests_per_s', 0):.3f} requests/s arriving at random" in text) == ("requests_per_s" in row)
    assert "(in brackets: P10-P90" in text
    calibrated = "Engine efficiencies calibrated on this device (sglang-on-h100-sxm: our lab, SGLang on one H100, "
    assert (calibrated in text) == (core["engine"][i] == "sglang" and core["hardware"][i] == "h100-sxm")


def _cell(v):
    """A value as xlwings hands it to a function: numbers as floats, text as typed, empty as None."""
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


#: Excel functions that answer one output of a whole scenario, with the band each takes
BANDED = ((udfs.LLM_TPOT, "tpot_s"), (udfs.LLM_THROUGHPUT, "throughput_tokens_per_s"),
          (udfs.LLM_COST_PER_MTOK, "cost_per_mtok_usd"), (udfs.LLM_MONTHLY_COST, "monthly_cost_usd"))


@pytest.mark.parametrize("name", NAMES)
def test_excel_functions(name, core, calibration, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(calibration))  # the catalog the functions see, as Excel's users set it
    i, row = NAMES.index(name), SCENARIOS[name]
    params = list(inspect.signature(udfs.LLM_ESTIMATE).parameters)
    names, values = udfs.LLM_ESTIMATE(*[_cell(row.get(p)) for p in params])
    assert _off("LLM_ESTIMATE", name, dict(zip(names, values)), core, i) == []
    bad = []
    for f, key in BANDED:
        args = list(inspect.signature(f).parameters)
        # every input of the row but the load, which these outputs do not depend on (the monthly cost's aside)
        assert set(row) - {"requests_per_s", "requests_per_month"} <= set(args), (f.__name__, set(row) - set(args))
        for band in (None, "p10", " P90 "):
            got = f(**{k: _cell(row.get(k)) for k in args if k != "band"}, band=band)
            want = _want(core, i, key if band is None else f"{key}_{band.strip().lower()}")
            if not same(got, want, key, None):
                bad.append(f"{f.__name__} band {band!r}: {got!r}, library {want!r}")
    from llmcalc_xl.core.plan import breakeven_many, horizon_many

    for f, many, key in ((udfs.LLM_BREAKEVEN, breakeven_many, "breakeven_requests_per_month"),
                         (udfs.LLM_HORIZON, horizon_many, "npv_usd")):
        args = [p for p in inspect.signature(f).parameters if p not in ("api_model", "figure")]
        reduced = {k: _cell(row[k]) for k in args if k in row}
        want = many("gpt-4o", **reduced)[key][0]
        got = f("gpt-4o", **{k: reduced.get(k) for k in args})
        if not same(got, want, key, None) or {"tp", "dp", "ep"} - set(args):
            bad.append(f"{f.__name__}: {got!r}, library {want!r}")
    if "requests_per_s" in row:
        args = [p for p in inspect.signature(udfs.LLM_AT_RATE).parameters if p != "figure"]
        for key in RATE_KEYS:
            got = udfs.LLM_AT_RATE(**{k: _cell(row.get(k)) for k in args}, figure=key)
            if not same(got, _want(core, i, key), key, None):
                bad.append(f"LLM_AT_RATE {key}: {got!r}, library {_want(core, i, key)!r}")
    assert bad == []


# --- fill ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def filled(tmp_path_factory, calibration):
    tmp = tmp_path_factory.mktemp("surfaces_fill")
    columns = [k for k in F.INPUT_KEYS if any(k in r for r in ROWS)]
    with open(tmp / "in.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows([["" if r.get(k) is None else _typed(r[k]) for k in columns] for r in ROWS])
    fill_file(tmp / "in.csv", tmp / "out.csv", catalog=load_catalog([calibration]), compare_api_model="gpt-4o")
    records = list(csv.DictReader(open(tmp / "out.csv", encoding="utf-8")))
    assert [r["status"] for r in records] == ["ok"] * len(ROWS), [r["error"] for r in records]
    return records, set(columns)


def _fill_value(text, key):
    if text == "":
        return None
    if key in BOOL_KEYS:
        return {"true": True, "false": False}[text]
    if key in TEXT_OPTIONS:  # ids and words
        return text
    return float(text)


@pytest.mark.parametrize("name", NAMES)
def test_fill(name, core, filled, over_time):
    from llmcalc_xl.core.plan import HORIZON_KEYS

    records, inputs = filled
    i = NAMES.index(name)
    shown = {k: _fill_value(records[i][f"{k}_result" if k in inputs else k], k) for k in KEYS}
    assert _off("fill", name, shown, core, i) == []
    # --compare-api-model: the horizon forecast against that API model
    horizon = over_time["horizon"]
    assert [k for k in HORIZON_KEYS if not same(_fill_value(records[i][k], k), horizon[k][i], k, None)] == []


# --- the quote workbook: one build, recalculated by each engine -------------------------------------------

@pytest.fixture(scope="module")
def book(tmp_path_factory, calibration):
    tmp = tmp_path_factory.mktemp("surfaces_book")
    return save_atomically(build_workbook(ROWS, catalog=load_catalog([calibration])), tmp / "surfaces.xlsx"), tmp


@pytest.fixture(scope="module")
def libreoffice_book(book):
    return load_values(recalculate(*book))


@pytest.fixture(scope="module")
def gnumeric_book(book):
    result = recalculate_gnumeric(*book)
    assert result.complaints == []
    return load_values(result.path)


LOW, HIGH = (next(c for c, col in enumerate(QUOTE_COLUMNS, start=1) if col[0] == header)
             for header in ("Monthly cost, low (P10)", "Monthly cost, high (P90)"))


def _check_book(engine, wb, name, core):
    i = NAMES.index(name)
    got = scenario_outputs(wb["Scenarios"], len(ROWS))
    assert problem(got(i, "check")) is None
    one = {k: v[i:i + 1] for k, v in core.items()}
    assert mismatches(engine, ROWS[i:i + 1], one, lambda _, key: got(i, key), OUTPUT_KEYS, "n/a") == []
    quote = wb["Quote"]  # the Quote sheet's low-high monthly cost
    for key, col in (("monthly_cost_usd_p10", LOW), ("monthly_cost_usd_p90", HIGH)):
        assert same(quote.cell(QUOTE_FIRST_ROW + i, col).value, _want(core, i, key), key, None), (engine, name, key)


@needs_libreoffice
@pytest.mark.parametrize("name", NAMES)
def test_workbook_in_libreoffice(name, core, libreoffice_book):
    _check_book("LibreOffice", libreoffice_book, name, core)


@needs_gnumeric
@pytest.mark.parametrize("name", NAMES)
def test_workbook_in_gnumeric(name, core, gnumeric_book):
    _check_book("Gnumeric", gnumeric_book, name, core)


@needs_libreoffice
def test_forecast_and_sensitivity_in_libreoffice(libreoffice_book, over_time):
    assert forecast_mismatches("LibreOffice", libreoffice_book, ROWS, over_time) == []


@needs_gnumeric
def test_forecast_and_sensitivity_in_gnumeric(gnumeric_book, over_time):
    assert forecast_mismatches("Gnumeric", gnumeric_book, ROWS, over_time) == []


@pytest.mark.parametrize("name", NAMES)
def test_workbook_as_stored(name, core, book):
    # the values the file stores beside its formulas, for viewers that do not recalculate
    _check_book("stored", load_workbook(book[0], data_only=True), name, core)


# --- plan: percentile targets on the command line and in the library -----------------------------------------

def test_plan_percentile_targets_are_the_same_on_the_command_line(calibration):
    from llmcalc_xl.core.plan import plan

    load = dict(requests_per_s=20.0, peak_to_average=2.0, max_ttft_p90_s=0.5, max_tpot_p90_s=0.05)
    lib = plan(["llama-3-8b"], hardware=["h100-sxm"], api_models=["gpt-4o"], engine="sglang",
               catalog=[calibration], **load)
    args = ["plan", "--model", "llama-3-8b", "--hardware", "H100", "--api-model", "gpt-4o", "--engine", "SGLang",
            "--catalog", str(calibration), "--json"]
    args += [a for k, v in load.items() for a in ("--" + k.replace("_", "-"), _typed(v))]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    shown = json.loads(r.output)["self_hosted"]
    assert len(shown) == len(lib.self_hosted) == 1
    best, want = shown[0], lib.self_hosted[0]
    assert best["ttft_at_rate_p90_s"] <= 0.5 and best["tpot_at_rate_p90_s"] <= 0.05
    for key, value in want.items():
        if isinstance(value, float):
            assert best[key] == pytest.approx(value, rel=1e-12), key
        elif isinstance(value, (int, str)):
            assert best[key] == value, key
    # the plan priced the calibrated speed: the same configuration's estimate under that catalog
    e = estimate("llama-3-8b", "h100-sxm", engine="sglang", gpus=want["gpus"], batch=want["batch"],
                 catalog=[calibration])
    assert want["tpot_s"] == pytest.approx(e.tpot_s, rel=1e-12)


def test_the_functions_sheet_expects_the_library(core, calibration):
    # `build --with-functions`: each scenario's =LLM_COST(...) call passes the row's cells, the layout's
    # included, and shows the value the function gives beside the workbook's own
    from llmcalc_xl.workbook.build import _function_examples, _Layout

    shown = {what: (formula, expected) for what, formula, expected, _ in
             _function_examples(ROWS, _Layout(), load_catalog([calibration]))}
    for i, name in enumerate(NAMES):
        formula, expected = shown[f"Cost per request of scenario: {name}"]
        assert formula.count(",") == len(inspect.signature(udfs.LLM_COST).parameters) - 1, formula
        assert same(expected, _want(core, i, "cost_per_request_usd"), "cost_per_request_usd", None), name
