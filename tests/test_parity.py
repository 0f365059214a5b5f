"""One seeded random book of scenarios, priced by every surface: the same numbers everywhere.

220 random valid scenarios (tests/random_scenarios.py) go into one quote, which LibreOffice and
Gnumeric each recalculate; every Scenarios output must equal ``estimate_many``, ``fill`` (CSV and
XLSX) and the Excel functions, at relative 1e-9, with "no answer" in the same places.
"""

import csv
import inspect
import math
from collections import Counter

import pytest
from openpyxl import load_workbook

from llmcalc_xl.excel import functions as udfs
from llmcalc_xl.workbook import formulas as F
from llmcalc_xl.core.estimate import BOOL_KEYS
from llmcalc_xl.batch.fill import fill_file
from llmcalc_xl.workbook.build import build_workbook, save_atomically

from .random_scenarios import random_scenarios
from .spreadsheets import forecast_mismatches, horizon_core_of, problem, core_of as _core
from .spreadsheets import (unexpected_errors, load_values, mismatches, needs_gnumeric, needs_libreoffice, recalculate,
                           recalculate_gnumeric, scenario_outputs, same)

# The book is drawn from the catalog, so a catalog change redraws it. 20261130 left "forecast, capex up
# front" with one row once the catalog gained Mistral Large 4 and the Mac purchase prices (2026-11-30);
# 20261201 covers every case again.
SEED = 20261201
N_ROWS = 220




@pytest.fixture(scope="module")
def book(tmp_path_factory, cat):
    tmp = tmp_path_factory.mktemp("parity")
    rows = random_scenarios(N_ROWS, SEED, cat)
    path = save_atomically(build_workbook(rows, catalog=cat), tmp / "parity.xlsx")
    return rows, _core(rows, cat), path, tmp, horizon_core_of(rows, cat)


def test_the_random_book_is_valid_and_covers_the_cases(book, cat):
    rows, core, *_, over_time = book
    horizon = over_time["horizon"]
    assert len(rows) >= 200
    assert [e for e in core["error"] if e is not None] == []
    kinds = Counter()
    for i, r in enumerate(rows):
        is_api = core["model_kind"][i] == "api"
        kinds["api only"] += is_api and "hardware" not in r
        kinds["api with hardware"] += is_api and "hardware" in r
        kinds["open, no hardware"] += not is_api and "hardware" not in r
        kinds["fits"] += core["fits"][i] == 1
        kinds["does not fit"] += core["fits"][i] == 0
        needed = core["gpus_needed"][i]
        if "gpus" in r and not math.isnan(needed):
            kinds["gpus just below the fit"] += r["gpus"] == needed - 1
            kinds["gpus just above the fit"] += r["gpus"] == needed + 1
        for key in ("precision", "engine", "kv_precision", "context_tokens", "latency_s", "price_per_hour",
                    "cached_input_tokens", "utilization", "memory_gib", "bandwidth_gb_s", "tflops",
                    "memory_fraction", "overhead_gib", "prefill_mfu", "decode_mfu", "decode_mbu",
                    "prefill_overhead_s", "decode_step_overhead_s"):
            kinds[key] += key in r
        kinds["no price"] += "hardware" in r and math.isnan(core["cost_per_request_usd"][i])
        kinds["gpus auto"] += str(r.get("gpus", "")).strip().lower() == "auto"
        owned = core["pricing"][i] == "owned" and "price_per_hour" not in r
        kinds["priced as owned"] += owned
        kinds["owned by default (no rental price)"] += owned and "pricing" not in r
        kinds["owned as an annuity"] += owned and r.get("cost_of_capital", 0) > 0
        kinds["owned with a resale value"] += owned and r.get("residual_share", 0) > 0
        kinds["priced on demand"] += core["pricing"][i] == "on-demand" and "price_per_hour" not in r
        kinds["priced at a reserved or spot tier"] += core["pricing"][i] in ("reserved-1y", "reserved-3y", "spot")
        kinds["provider named"] += "provider" in r
        for key in ("peak_to_average", "redundancy", "hosting_usd_per_kw_month", "maintenance_share_per_year"):
            kinds[key] += key in r and r.get("requests_per_month", 0) > 0
        model = None if is_api else cat.model(core["model"][i])
        kinds["precision covering the experts only"] += (model is not None and model.native_precision_scope == "experts"
                                                         and core["precision"][i] == model.native_precision)
        usable = not math.isnan(horizon["npv_usd"][i])  # in the totals: the Forecast sheet has its months
        kinds["forecast, growing or shrinking traffic"] += usable and r.get("growth_per_month", 0) != 0
        kinds["forecast, prices changing"] += usable and (r.get("api_price_change_per_year", 0) != 0
                                                          or r.get("gpu_price_change_per_year", 0) != 0)
        kinds["forecast, discounted"] += usable and r.get("discount_rate", 0) > 0
        kinds["forecast, horizon given"] += usable and "horizon_months" in r
        kinds["forecast, capex up front"] += (usable and owned and r.get("cost_of_capital", 0) == 0
                                              and str(r.get("capex_upfront", "")).strip().lower() == "yes")
        # (rows whose day changes the replicas paid: tests/test_workbook_inputs.py has one, checked alike)
        kinds["autoscaled rentals at a peak"] += (str(r.get("autoscale", "")).strip().lower() == "yes" and not owned
                                                  and r.get("peak_to_average", 1) > 1
                                                  and r.get("requests_per_month", 0) > 0)
        kinds["model spelled otherwise"] += r["model"] != core["model"][i]
        kinds["hardware spelled otherwise"] += "hardware" in r and r["hardware"] != core["hardware"][i]
    assert min(kinds.values()) >= 5, kinds
    # a lead that changes within the horizon (tests/test_forecast.py works examples by hand)
    assert sum(not math.isnan(x) for x in horizon["crossover_month"]) >= 3
    assert {r["engine"] for r in rows if "engine" in r} == {e.id for e in cat.entries("engines")}


def _check_recalculated(rows, core, path, engine, over_time):
    wb = load_values(path)
    got = scenario_outputs(wb["Scenarios"], len(rows))
    assert [problem(got(i, "check")) for i in range(len(rows)) if problem(got(i, "check"))] == []
    bad = mismatches(engine, rows, core, got, F.OUTPUT_KEYS, "n/a", no_fit="does not fit")
    assert bad == [], "\n".join(bad[:20]) + f"\n... {len(bad)} in all"
    # the Forecast and Sensitivity sheets: every month of every row, the totals and the tables
    bad = forecast_mismatches(engine, wb, rows, over_time)
    assert bad == [], "\n".join(bad[:20]) + f"\n... {len(bad)} in all"
    errors = unexpected_errors(wb)
    assert errors == []


@needs_libreoffice
def test_libreoffice_computes_what_the_core_does(book):
    rows, core, path, tmp, over_time = book
    _check_recalculated(rows, core, recalculate(path, tmp), "LibreOffice", over_time)


@needs_gnumeric
def test_gnumeric_computes_what_the_core_does(book):
    rows, core, path, tmp, over_time = book
    result = recalculate_gnumeric(path, tmp)
    assert result.complaints == []
    _check_recalculated(rows, core, result.path, "Gnumeric", over_time)


def _write_csv(rows, path):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(F.INPUT_KEYS)
        writer.writerows([["" if r.get(k) is None else r[k] for k in F.INPUT_KEYS] for r in rows])
    return path


def _csv_cell(text, key):
    if text == "":
        return None
    if key in BOOL_KEYS:
        return {"true": True, "false": False}.get(text, text)
    return float(text)


def test_fill_csv_and_xlsx_equal_the_core(book, cat):
    rows, core, _, tmp, _ = book
    src = _write_csv(rows, tmp / "scenarios.csv")
    name = {k: f"{k}_result" if k in F.INPUT_KEYS else k for k in F.OUTPUT_KEYS}  # latency_s is also an input

    fill_file(src, tmp / "results.csv", catalog=cat)
    records = list(csv.DictReader(open(tmp / "results.csv", encoding="utf-8")))
    assert [r["status"] for r in records] == ["ok"] * len(rows)
    bad = mismatches("fill CSV", rows, core, lambda i, k: _csv_cell(records[i][name[k]], k), F.OUTPUT_KEYS, None)
    assert bad == [], "\n".join(bad[:20])

    fill_file(src, tmp / "results.xlsx", catalog=cat)
    ws = load_workbook(tmp / "results.xlsx", read_only=True)["Results"]
    table = list(ws.iter_rows(values_only=True))
    header = list(table[0])
    assert len(table) == len(rows) + 1
    col = {k: header.index(name[k]) for k in F.OUTPUT_KEYS}
    bad = mismatches("fill XLSX", rows, core, lambda i, k: table[i + 1][col[k]], F.OUTPUT_KEYS, None)
    assert bad == [], "\n".join(bad[:20])


def _excel(value):
    """A cell as xlwings hands it to a function: numbers as floats, empty as None."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


#: The Excel functions that price a whole scenario, with the output each gives. A row is put to a
#: function when the function takes every input the row sets (requests per month moves only the
#: replicas and the monthly cost, so the other outputs ignore it).
FUNCTIONS = (
    (udfs.LLM_COST, "cost_per_request_usd"),
    (udfs.LLM_COST_PER_MTOK, "cost_per_mtok_usd"),
    (udfs.LLM_MONTHLY_COST, "monthly_cost_usd"),
    (udfs.LLM_TTFT, "ttft_s"),
    (udfs.LLM_TPOT, "tpot_s"),
    (udfs.LLM_LATENCY, "latency_s"),
    (udfs.LLM_THROUGHPUT, "throughput_tokens_per_s"),
    (udfs.LLM_FITS, "fits"),
    (udfs.LLM_GPUS_NEEDED, "gpus_needed"),
    (udfs.LLM_MAX_BATCH, "max_batch"),
)


def _reduced(params, row):
    """The row as a function can take it: only the inputs it has an argument for. A memory
    function given a context prices a full prompt of it (README), so it gets none."""
    memory = "context_tokens" in params and "input_tokens" not in params
    return {k: v for k, v in row.items() if k in params and v is not None and not (memory and k == "context_tokens")}


def test_excel_functions_equal_the_core(book, cat):
    """Each function, on each row reduced to the inputs it takes, equals the core on that row."""
    rows, core, *_ = book
    bad, used = [], Counter()
    for f, key in FUNCTIONS:
        params = list(inspect.signature(f).parameters)
        reduced = [_reduced(params, row) for row in rows]
        # LLM_TTFT prices the prompt alone: no answer tokens are reserved (README)
        fixed = {"output_tokens": 0} if f is udfs.LLM_TTFT else {}
        want = _core([dict(r, **fixed) for r in reduced], cat)
        for i, row in enumerate(reduced):
            used[f.__name__] += 1
            got = f(*[_excel(row.get(p)) for p in params])
            no_answer = got if isinstance(got, str) and got.startswith("#LLM! ") else "#LLM! <a message>"
            if want["error"][i] is not None:
                if not (isinstance(got, str) and got.startswith("#LLM! ")):
                    bad.append(f"{f.__name__}: row {i}: shows {got!r} where the core refuses: {want['error'][i]}")
            elif not same(got, want[key][i], key, no_answer):
                bad.append(f"{f.__name__}: row {i} ({rows[i]['scenario']}): shows {got!r}, core {want[key][i]!r}")
    # every output at once: LLM_ESTIMATE takes every input of the core
    params = list(inspect.signature(udfs.LLM_ESTIMATE).parameters)
    for i, row in enumerate(rows):
        assert set(row) - {"scenario"} <= set(params), row
        used["LLM_ESTIMATE"] += 1
        names, values = udfs.LLM_ESTIMATE(*[_excel(row.get(p)) for p in params])
        shown = dict(zip(names, values))
        for key in F.OUTPUT_KEYS:
            if not same(shown[key], core[key][i], key, None):
                bad.append(f"LLM_ESTIMATE: row {i} ({row['scenario']}) {key}: shows {shown[key]!r}, "
                           f"core {core[key][i]!r}")
    assert bad == [], "\n".join(bad[:20]) + f"\n... {len(bad)} in all"
    assert min(used[f.__name__] for f, _ in FUNCTIONS) == used["LLM_ESTIMATE"] == len(rows), used


def test_fill_gives_the_forecast_of_the_core(book, cat):
    """`fill --compare-api-model gpt-4o` adds each row's horizon forecast, equal to the core's."""
    from llmcalc_xl.core.plan import HORIZON_KEYS

    rows, _, _, tmp, over_time = book
    src = _write_csv(rows, tmp / "scenarios_horizon.csv")
    fill_file(src, tmp / "horizon.csv", catalog=cat, compare_api_model="gpt-4o")
    records = list(csv.DictReader(open(tmp / "horizon.csv", encoding="utf-8")))
    horizon = over_time["horizon"]
    bad = [f"row {i} {key}: fill {records[i][key]!r}, core {horizon[key][i]!r}" for i in range(len(rows))
           for key in HORIZON_KEYS
           if not same(_csv_cell(records[i][key], key), horizon[key][i], key, None)]
    assert bad == [], "\n".join(bad[:20])
    assert sum(not math.isnan(x) for x in horizon["npv_usd"]) >= 50  # rows with a forecast


def test_llm_horizon_equals_the_core(book, cat):
    """LLM_HORIZON, as Excel calls it, on each row reduced to the arguments it takes, equals the core."""
    from llmcalc_xl.core.plan import horizon_many

    rows, *_ = book
    params = list(inspect.signature(udfs.LLM_HORIZON).parameters)
    reduced = [_reduced(params, dict(row, api_model="gpt-4o")) for row in rows]
    cols = {k: [r.get(k) for r in reduced] for k in params if k not in ("api_model", "figure")}
    want = horizon_many("gpt-4o", catalog=cat, **cols)
    bad = []
    for i, row in enumerate(reduced):
        for figure in ("npv_usd", "horizon_cost_api_usd", "crossover_month"):
            got = udfs.LLM_HORIZON(**{p: _excel(row.get(p)) for p in params if p != "figure"}, figure=figure)
            value = want[figure][i]
            if want["error"][i] is not None:
                ok = isinstance(got, str) and got.startswith("#LLM! ")
            elif math.isnan(value) and figure == "crossover_month" and not math.isnan(want["npv_usd"][i]):
                ok = got == "none"  # a forecast whose lead never changes
            elif math.isnan(value):
                ok = isinstance(got, str) and got.startswith("#LLM! ")
            else:
                ok = same(got, value, figure, None)
            if not ok:
                bad.append(f"row {i} ({rows[i]['scenario']}) {figure}: shows {got!r}, core {value!r}")
    assert bad == [], "\n".join(bad[:20]) + f"\n... {len(bad)} in all"
