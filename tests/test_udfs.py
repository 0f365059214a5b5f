"""The Excel functions, called as xlwings calls them: numbers as floats, empty cells as None,
ranges as lists of lists (every argument is declared ndim=2). Results must equal the core's."""

import importlib
import inspect
import io
import math
import re
import sys
import types

import pytest

from llmcalc_xl import estimate
from llmcalc_xl.excel import functions as udfs
from llmcalc_xl.core.plan import breakeven_many

FUNCTIONS = {name: f for name, f in vars(udfs).items() if name.startswith("LLM_") and callable(f)}


def cell(v):
    """A single cell as xlwings passes it to an ndim=2 argument."""
    return [[v]]


# --- the checks the issue names --------------------------------------------------------------

def test_worked_example_cost():
    got = udfs.LLM_COST(cell("gpt-4"), cell(0.0), cell(500.0), cell("a100-40gb"), latency_s=cell(3.5),
                        price_per_hour=cell(2.5))
    assert abs(got - (0.03 + 3.5 / 3600 * 2.5)) < 1e-6


def test_fits_examples():
    assert udfs.LLM_FITS(cell("llama-2-70b"), cell("a100-40gb")) is False
    assert udfs.LLM_FITS(cell("llama-2-7b"), cell("a100-80gb")) is True


def test_a_3x1_range_gives_a_3x1_array():
    got = udfs.LLM_COST([["llama-3-8b"], ["mistral-7b"], ["gpt-4o"]], cell(1000.0), cell(500.0), cell("l4"))
    assert len(got) == 3 and all(len(row) == 1 for row in got)
    assert all(isinstance(row[0], float) for row in got)


def test_unknown_model_names_it_in_the_cell_and_the_others_compute():
    got = udfs.LLM_COST([["llama-3-8b"], ["llama-9-9b"], ["gpt-4o"]], cell(1000.0), cell(500.0), cell("l4"))
    assert got[1][0].startswith("#LLM! Unknown model 'llama-9-9b'. Did you mean: ")
    assert isinstance(got[0][0], float) and isinstance(got[2][0], float)


# --- parity with the core, function by function -----------------------------------------------

CASES = [
    dict(model="llama-3-8b", hardware="l4", input_tokens=1000.0, output_tokens=500.0),
    dict(model="llama-3.1-70b", hardware="h100-sxm", input_tokens=2000.0, output_tokens=300.0, gpus=4.0,
         batch=16.0, precision="fp8"),
    dict(model="mixtral-8x7b", hardware="a100-80gb", input_tokens=500.0, output_tokens=200.0, gpus=2.0,
         engine="tensorrt-llm"),
    dict(model="llama-3-8b", hardware="apple-m3-ultra", input_tokens=300.0, output_tokens=100.0, precision="q4_k_m"),
    dict(model="gemma-2-27b", hardware="l40s", input_tokens=6000.0, output_tokens=1000.0, precision="int4"),
]


def _call(f, case, *names):
    args = [cell(case.get(n)) for n in names]
    return f(*args)


@pytest.mark.parametrize("case", CASES)
def test_every_estimate_function_equals_the_core(case):
    core = estimate(**{k: v for k, v in case.items()}).to_dict()
    speed_args = ("model", "hardware", "input_tokens", "output_tokens", "gpus", "batch", "precision", "engine")
    assert _call(udfs.LLM_TPOT, case, *speed_args) == core["tpot_s"]
    assert _call(udfs.LLM_LATENCY, case, *speed_args) == core["latency_s"]
    assert _call(udfs.LLM_THROUGHPUT, case, *speed_args) == core["throughput_tokens_per_s"]
    ttft = udfs.LLM_TTFT(*[cell(case.get(n)) for n in ("model", "hardware", "input_tokens", "gpus", "batch",
                                                       "precision", "engine")])
    # LLM_TTFT prices the prompts alone (README): no answer tokens, which under load (batch > 1) also
    # sets how often the other clients' prompts arrive
    assert ttft == estimate(**dict(case, output_tokens=0)).ttft_s
    cost_args = ("model", "input_tokens", "output_tokens", "hardware", "gpus", "batch", "precision", "engine")
    assert _call(udfs.LLM_COST, case, *cost_args) == core["cost_per_request_usd"]
    assert _call(udfs.LLM_COST_PER_MTOK, case, *cost_args) == core["cost_per_mtok_usd"]
    monthly = udfs.LLM_MONTHLY_COST(cell(case["model"]), cell(2e6), *[cell(case.get(n)) for n in cost_args[1:]])
    assert monthly == estimate(**case, requests_per_month=2e6).monthly_cost_usd
    fit_args = dict(model=case["model"], hardware=case["hardware"], gpus=case.get("gpus"), batch=case.get("batch"),
                    precision=case.get("precision"), engine=case.get("engine"))
    context = case["input_tokens"] + case["output_tokens"]
    memory_core = estimate(**fit_args, input_tokens=context, output_tokens=0)
    assert udfs.LLM_FITS(*[cell(fit_args[n]) for n in ("model", "hardware", "gpus")], cell(context),
                         *[cell(fit_args[n]) for n in ("batch", "precision", "engine")]) is memory_core.fits
    assert udfs.LLM_MAX_BATCH(cell(case["model"]), cell(case["hardware"]), cell(case.get("gpus")), cell(context),
                              cell(case.get("precision")), cell(case.get("engine"))) == \
        estimate(**dict(fit_args, batch=None), input_tokens=context, output_tokens=0).max_batch
    assert udfs.LLM_GPUS_NEEDED(cell(case["model"]), cell(case["hardware"]), cell(None), cell(case.get("batch")),
                                cell(case.get("precision")), cell(case.get("engine"))) == core["gpus_needed"]
    no_hw = estimate(case["model"], batch=case.get("batch"), precision=case.get("precision"))
    for part, key in (("total", "total_memory_gib"), ("weights", "weights_gib"), ("kv_cache", "kv_cache_gib"),
                      ("activations", "activations_gib"), ("overhead", "overhead_gib")):
        got = udfs.LLM_MEMORY(cell(case["model"]), cell(None), cell(case.get("batch")), cell(case.get("precision")),
                              cell(part))
        assert got == getattr(no_hw, key), part


def test_breakeven_equals_the_core():
    got = udfs.LLM_BREAKEVEN(cell("gpt-4o"), cell("llama-3-8b"), cell("l4"), cell(1000.0), cell(500.0))
    core = breakeven_many("gpt-4o", "llama-3-8b", "l4", input_tokens=1000.0, output_tokens=500.0)
    assert got == core["breakeven_requests_per_month"][0]
    # independent arithmetic: one L4 all month over GPT-4o's price of one request
    l4 = estimate("llama-3-8b", "l4").price_per_hour
    assert got == pytest.approx(l4 * 730 / (1000 * 2.5e-6 + 500 * 10e-6), rel=1e-12)
    never = udfs.LLM_BREAKEVEN(cell("gpt-4o-mini"), cell("llama-3.1-405b"), cell("h200"), cell(1000.0), cell(500.0),
                               cell(8.0))
    assert never == "never"


def test_breakeven_of_a_fleet_for_the_peak_with_a_spare():
    # F = one L4 all month, a = GPT-4o's price of one request, C = a replica's capacity, p = 2, k = 1:
    # n = max(1, ceil(k F p / (a C - F p))) replicas for the peak, V = (n + k) F / a (README, plan)
    got = udfs.LLM_BREAKEVEN(cell("gpt-4o"), cell("llama-3-8b"), cell("l4"), cell(1000.0), cell(500.0), cell(None),
                             cell(8.0), cell(None), cell(None), cell(None), cell(2.0), cell(1.0))
    one = estimate("llama-3-8b", "l4", batch=8, input_tokens=1000, output_tokens=500)
    f, a, c = one.price_per_hour * 730, 1000 * 2.5e-6 + 500 * 10e-6, one.capacity_requests_per_month
    n = max(1, math.ceil(1 * f * 2 / (a * c - f * 2)))
    assert got == pytest.approx((n + 1) * f / a, rel=1e-12)
    assert got > udfs.LLM_BREAKEVEN(cell("gpt-4o"), cell("llama-3-8b"), cell("l4"), cell(1000.0), cell(500.0),
                                    cell(None), cell(8.0))  # a spare costs volume


def test_estimate_is_two_rows_of_names_and_values():
    got = udfs.LLM_ESTIMATE(cell("llama-3-8b"), cell("l4"))
    core = estimate("llama-3-8b", "l4").to_dict()
    names, values = got
    assert len(names) == len(values)
    for name, value in zip(names, values):
        if name in core:
            assert value == core[name], name


def test_estimate_takes_every_option_of_the_core_and_passes_each_on():
    from llmcalc_xl.core.estimate import OPTION_NAMES

    assert set(inspect.signature(udfs.LLM_ESTIMATE).parameters) == set(OPTION_NAMES)
    # each option given alone reaches the core: a value no option accepts is refused by name
    for option in OPTION_NAMES:
        if option in ("model", "hardware", "engine", "precision", "kv_precision"):
            continue
        got = udfs.LLM_ESTIMATE(cell("llama-3-8b"), **{option: cell(-7.5)})
        # a number rule names the option ("batch must be >= 1"); a word rule also quotes the value
        assert isinstance(got, str) and (got.startswith(f"#LLM! {option} must be")
                                         or got.startswith(f"#LLM! {option} -7.5 must be")), (option, got)


def test_info_and_tables(cat):
    assert udfs.LLM_INFO(cell("H100"), cell("price_usd_per_hour")) == cat.hardware("h100-sxm").price_usd_per_hour
    assert udfs.LLM_INFO(cell("gpt-4"), cell("output_usd_per_mtok")) == 60.0
    assert udfs.LLM_INFO(cell("h100-sxm"), cell("price")).startswith("#LLM! field 'price' is not a field of")
    models = udfs.LLM_MODELS(cell(None))
    assert models[0][0] == "id" and len(models) == 1 + len(cat.ids("models")) + len(cat.ids("api_models"))
    assert len(udfs.LLM_MODELS(cell("api"))) == 1 + len(cat.ids("api_models"))
    hardware = udfs.LLM_HARDWARE()
    assert len({len(row) for row in hardware}) == 1 and len(hardware) == 1 + len(cat.ids("hardware"))


# --- how Excel users call them ----------------------------------------------------------------

def test_plain_scalars_and_1d_lists_work_too():
    assert udfs.LLM_COST("gpt-4o", 1000.0, 500.0) == estimate("gpt-4o").cost_per_request_usd
    assert udfs.LLM_COST(["gpt-4o", "gpt-4o-mini"], 1000.0, 500.0) == [
        [estimate("gpt-4o").cost_per_request_usd], [estimate("gpt-4o-mini").cost_per_request_usd]]


def test_row_and_column_ranges_broadcast_to_a_table():
    got = udfs.LLM_COST([["gpt-4o", "gpt-4o-mini"]], [[100.0], [1000.0], [10000.0]], cell(500.0))
    assert len(got) == 3 and all(len(r) == 2 for r in got)
    assert got[2][1] == estimate("gpt-4o-mini", input_tokens=10000, output_tokens=500).cost_per_request_usd


def test_ranges_of_different_shapes_are_refused_in_one_cell():
    got = udfs.LLM_COST([["gpt-4o"], ["gpt-4o-mini"]], [[1.0], [2.0], [3.0]], cell(500.0))
    assert got == "#LLM! Ranges of different shapes (2x1 and 3x1) cannot be combined. Use ranges of one shape, " \
                  "or single cells."


def test_empty_cells_take_the_defaults():
    assert udfs.LLM_COST(cell("llama-3-8b"), cell(None), cell(None), cell("l4")) == \
        estimate("llama-3-8b", "l4").cost_per_request_usd


@pytest.mark.parametrize("bad, message", [
    ("1,000", "#LLM! input_tokens must be a plain number, got '1,000'. Write it without thousands separators, e.g. 1000."),
    (True, "#LLM! input_tokens must be a number, got True."),
    (-5.0, "#LLM! input_tokens must be >= 0, got -5."),
    ("lots", "#LLM! input_tokens must be a number, got 'lots'."),
])
def test_bad_numbers_show_a_message(bad, message):
    assert udfs.LLM_COST(cell("gpt-4o"), cell(bad), cell(500.0)) == message


def test_memory_of_an_api_model_is_not_applicable():
    assert udfs.LLM_MEMORY(cell("gpt-4o")).startswith("#LLM! memory is not applicable to API model 'gpt-4o'")


def test_the_message_explains_the_question_asked(cat):
    slow = [m.id for m in cat.entries("api_models") if m.output_tokens_per_s is None][0]
    got = udfs.LLM_COST(cell(slow), cell(100.0), cell(10.0), cell("l4"))
    assert got.startswith(f"#LLM! No published speed for API model '{slow}': pass latency_s")
    assert udfs.LLM_FITS(cell(slow), cell("l4")).startswith("#LLM! memory is not applicable")


def test_open_model_without_hardware_says_what_is_missing():
    got = udfs.LLM_LATENCY(cell("llama-3-8b"), cell(None), cell(1000.0), cell(500.0))
    assert got.startswith("#LLM! ") and "hardware" in got


def test_genuine_bugs_still_raise(monkeypatch):
    def broken(**kwargs):
        raise ZeroDivisionError("a bug")
    monkeypatch.setattr(udfs, "estimate_many", broken)
    with pytest.raises(ZeroDivisionError):
        udfs.LLM_COST(cell("gpt-4o"), cell(1.0), cell(1.0))


# --- the contract Excel needs -------------------------------------------------------------------

EXCEL_CELL = re.compile(r"^[A-Z]{1,3}[0-9]+$|^R[0-9]*C[0-9]*$")


def _sample(name):
    p = inspect.signature(FUNCTIONS[name]).parameters
    values = {"model": "llama-3-8b", "api_model": "gpt-4o", "input_tokens": 100.0,
              # the L4 has no purchase price in the catalog: owned hardware's cost needs one that has
              "hardware": "rtx-4090" if name == "LLM_OWNED_GPU_HOUR" else "l4",
              "output_tokens": 10.0, "requests_per_month": 1000.0, "id": "h100-sxm", "field": "memory_gib",
              "requests_per_s": 0.5}
    return [cell(values.get(n)) if p[n].default is inspect.Parameter.empty or n == "hardware" else None for n in p]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_excel_contract(name):
    f = FUNCTIONS[name]
    assert re.match(r"^[A-Z][A-Z0-9_]*$", name) and not EXCEL_CELL.match(name) and name.startswith("LLM_")
    params = list(inspect.signature(f).parameters.values())
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params)
    seen_optional = False
    for p in params:  # defaults only at the end
        if p.default is not inspect.Parameter.empty:
            seen_optional = True
        else:
            assert not seen_optional, f"{name}: required {p.name} after an optional one"
    optional = [p.name for p in params if p.default is not inspect.Parameter.empty]
    order = [n for n in udfs.OPTIONAL_ORDER if n in optional]
    extra = [n for n in optional if n not in udfs.OPTIONAL_ORDER]
    assert [n for n in optional if n in udfs.OPTIONAL_ORDER] == order, f"{name}: optional order"
    assert extra in ([], ["input_tokens", "output_tokens"], ["kind"]), f"{name}: {extra}"
    doc = f.__doc__.strip().split("\n")[0]
    assert 10 < len(doc) <= 100
    for p in params:
        assert p.name in udfs.ARG_DOCS and len(udfs.ARG_DOCS[p.name]) <= 255
    out = f(*_sample(name))
    assert not (isinstance(out, str) and out.startswith("#LLM!")), out
    if isinstance(out, list):  # rectangular
        assert all(isinstance(row, list) for row in out) and len({len(row) for row in out}) == 1


def test_vba_wrapper_from_xlwings_own_generator(monkeypatch):
    """xlwings writes a VBA module from the functions' metadata when a user clicks Import
    Functions (Windows only). Generate that text here with xlwings' own code, the Windows
    COM modules stubbed, and check every function is in it with its arguments."""
    pythoncom = types.SimpleNamespace(CoInitialize=lambda: None, IID_IDispatch=None)
    win32com = types.ModuleType("win32com")
    client = types.ModuleType("win32com.client")
    client.Dispatch = lambda *a, **k: None
    win32com.client = client
    for name, mod in (("pythoncom", pythoncom), ("pywintypes", types.SimpleNamespace(com_error=Exception)),
                      ("win32com", win32com), ("win32com.client", client)):
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.delitem(sys.modules, "xlwings.udfs", raising=False)
    xlw_udfs = importlib.import_module("xlwings.udfs")
    import xlwings
    monkeypatch.setattr(xlwings, "func", xlw_udfs.xlfunc)
    monkeypatch.setattr(xlwings, "arg", xlw_udfs.xlarg)
    monkeypatch.setattr(xlwings, "ret", xlw_udfs.xlret)
    monkeypatch.delitem(sys.modules, "llmcalc_xl.excel.functions")
    try:
        module = importlib.import_module("llmcalc_xl.excel.functions")
        out = io.StringIO()
        xlw_udfs.generate_vba_wrapper("llmcalc_xl.excel.functions", module, out, types.SimpleNamespace(Name="quote.xlsm"))
        vba = out.getvalue().replace(" _\n ", " ")  # xlwings continues a long line with " _" (VBA's limit: 1,023)
        for name, f in FUNCTIONS.items():
            params = inspect.signature(f).parameters.values()
            sig = ", ".join(("Optional " if p.default is not inspect.Parameter.empty else "") + p.name for p in params)
            assert f"Function {name}({sig})" in vba, name
            assert f'XLPy.CallUDF("llmcalc_xl.excel.functions", "{name}"' in vba, name
            meta = getattr(module, name).__xlfunc__
            assert all(a["options"].get("ndim") == 2 for a in meta["args"]), name
            assert meta["ret"]["doc"].startswith(f.__doc__.strip().split("\n")[0])
    finally:
        sys.modules.pop("llmcalc_xl.excel.functions", None)
        sys.modules.pop("xlwings.udfs", None)
        importlib.import_module("llmcalc_xl.excel.functions")


def test_udf_module_is_light_to_import():
    # xlwings itself imports pandas when it is installed; what is ours must stay out
    import subprocess
    code = "import sys, llmcalc_xl.excel.functions; print('click' in sys.modules, 'openpyxl' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_catalog_from_the_environment_variable(tmp_path, monkeypatch):
    user = tmp_path / "ours.toml"
    user.write_text('[[hardware]]\nid = "h100-sxm"\nprice_usd_per_hour = 1.0\nprice_provider = "contract"\n'
                    'price_source = "contract 7"\nprice_as_of = "2026-10-01"\nsource = "catalog + contract"\n'
                    'as_of = "2026-10-01"\n')
    monkeypatch.setenv("LLMCALC_XL_CATALOG", str(user))
    assert udfs.LLM_INFO(cell("h100-sxm"), cell("price_usd_per_hour")) == 1.0
    got = udfs.LLM_COST(cell("llama-3-8b"), cell(1000.0), cell(500.0), cell("h100-sxm"))
    assert math.isclose(got, estimate("llama-3-8b", "h100-sxm", price_per_hour=1.0).cost_per_request_usd)


def test_the_functions_work_without_xlwings(tmp_path):
    """xlwings is the optional `excel` extra: without it the functions are plain Python functions
    and `build --with-functions` still writes its examples."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['xlwings'] = None\n"  # an import of xlwings now fails
            "from llmcalc_xl.excel import functions as udfs\n"
            "assert udfs.xw is None\n"
            "print(udfs.LLM_COST('gpt-4o', 1000.0, 500.0))\n"
            "from click.testing import CliRunner\n"
            "from llmcalc_xl.cli.main import main\n"
            f"r = CliRunner().invoke(main, ['build', '--with-functions', '--out', r'{tmp_path / 'q.xlsx'}'])\n"
            "assert r.exit_code == 0, r.output\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    # gpt-4o: $2.50 per million input, $10 per million output (catalog): 1000 x 2.5e-6 + 500 x 1e-5
    assert float(r.stdout) == pytest.approx(0.0075, rel=1e-12)
