"""A freshly built quote stores, beside every formula, the value it computes.

A viewer that does not recalculate (a mail preview, a phone) shows these values, and
`llmcalc-xl export` reads them. They must be the core's numbers, and what a spreadsheet
computes: LibreOffice, told to recalculate every formula on load (it otherwise keeps cached
values), is the second engine.
"""

import csv
import math
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook
from openpyxl.utils import column_index_from_string

from llmcalc_xl import load_catalog
from llmcalc_xl.workbook import formulas as F
from llmcalc_xl.core.estimate import NOT_RUNNING_KEYS
from llmcalc_xl.workbook import xlsx_writer
from llmcalc_xl.cli.main import main
from llmcalc_xl.workbook.build import DEFAULT_SCENARIOS, FIRST_ROW, _Layout, build_workbook, save_atomically

from .random_scenarios import random_scenarios as _random_scenarios
from .spreadsheets import core_of as _core
from .spreadsheets import mismatches, needs_libreoffice, recalculate


def random_scenarios(n: int, seed: int) -> list[dict]:
    """n scenarios the core accepts (names as users type them, every option): the shared book."""
    return _random_scenarios(n, seed, load_catalog(()))


@pytest.fixture(scope="module")
def quotes(tmp_path_factory):
    """The default quote and a random book, as built."""
    tmp = tmp_path_factory.mktemp("cached")
    default = save_atomically(build_workbook(None), tmp / "default.xlsx")
    rows = random_scenarios(250, seed=20261130)
    book = save_atomically(build_workbook(rows), tmp / "random.xlsx")
    return tmp, {default: list(DEFAULT_SCENARIOS), book: rows}


def _assert_outputs_equal_the_core(path: Path, rows: list[dict]) -> int:
    ws = load_workbook(path, data_only=True, read_only=True)["Scenarios"]
    layout = _Layout()
    index = {k: column_index_from_string(layout.output_col[k]) - 1 for k in F.OUTPUT_KEYS}
    core = _core(rows)
    last = FIRST_ROW + len(rows) + 9
    table = list(ws.iter_rows(min_row=FIRST_ROW, max_row=last, values_only=True))
    spare = [(i, key, values[c]) for i, values in enumerate(table[len(rows):], start=len(rows))
             for key, c in index.items() if values[c] not in (None, "")]
    assert spare == []  # the spare rows show nothing
    bad = mismatches("stored values", rows, core, lambda i, key: table[i][index[key]], F.OUTPUT_KEYS, "n/a",
                     no_fit="does not fit")
    assert bad == [], "\n".join(bad[:20])
    checked = len(rows) * len(index)
    return checked


def test_cached_outputs_equal_the_core(quotes):
    _, built = quotes
    checked = sum(_assert_outputs_equal_the_core(path, rows) for path, rows in built.items())
    assert checked == (len(DEFAULT_SCENARIOS) + 250) * len(F.OUTPUT_KEYS)


def test_a_larger_random_book_equals_the_core(tmp_path):
    rows = random_scenarios(2000, seed=7)
    assert [e for e in _core(rows)["error"] if e is not None] == []  # a valid book, so every row computes
    path = save_atomically(build_workbook(rows), tmp_path / "big.xlsx")
    assert _assert_outputs_equal_the_core(path, rows) == 2000 * len(F.OUTPUT_KEYS)


def _same(ours, theirs) -> bool:
    if isinstance(ours, bool) or isinstance(theirs, bool):
        return ours is theirs
    if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)):
        return math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-12)
    return (ours or "") == (theirs or "")


@needs_libreoffice
def test_every_formula_cell_holds_what_libreoffice_computes(quotes):
    tmp, built = quotes
    paths = list(built)
    for path in paths:
        theirs_path = recalculate(path, tmp)
        formulas = load_workbook(path)
        ours = load_workbook(path, data_only=True)
        theirs = load_workbook(theirs_path, data_only=True)
        checked, wrong = 0, []
        for ws in formulas.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    if cell.data_type != "f":
                        continue
                    a = ours[ws.title][cell.coordinate].value
                    b = theirs[ws.title][cell.coordinate].value
                    checked += 1
                    if not _same(a, b):
                        wrong.append((ws.title, cell.coordinate, a, b, cell.value[:80]))
        assert wrong == [], wrong[:10]
        assert checked > 200 * len(built[path]), checked


def test_export_reads_a_just_built_quote(quotes, tmp_path):
    _, built = quotes
    path, rows = list(built.items())[1]
    out = tmp_path / "scenarios.csv"
    r = CliRunner().invoke(main, ["export", str(path), "--out", str(out)])
    assert r.exit_code == 0, r.output
    records = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [rec["model"] for rec in records] == [row["model"] for row in rows]
    core = _core(rows)
    for i, rec in enumerate(records):
        for key in ("cost_per_request_usd", "monthly_cost_usd", "total_memory_gib", "ttft_s"):
            want = core[key][i]
            if core["fits"][i] == 0 and key in NOT_RUNNING_KEYS:
                assert rec[key] == "does not fit", (rows[i], key)
            elif math.isnan(want):
                assert rec[key] == "n/a", (rows[i], key)
            else:
                assert math.isclose(float(rec[key]), want, rel_tol=1e-9, abs_tol=1e-12), (rows[i], key)


def test_export_says_when_a_workbook_was_never_calculated(tmp_path):
    """A file written by something that stores no values (an older build, a script) still gets the fix."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Scenarios"
    layout = _Layout()
    ws[f"{layout.input_col['model']}{FIRST_ROW}"] = "llama-3-8b"
    ws[f"{layout.output_col['cost_per_request_usd']}{FIRST_ROW}"] = "=1+1"
    wb.save(tmp_path / "old.xlsx")
    r = CliRunner().invoke(main, ["export", str(tmp_path / "old.xlsx")])
    assert r.exit_code == 2 and "has never been calculated" in r.output


def test_every_formula_cell_has_a_value(quotes):
    from lxml import etree

    _, built = quotes
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    for path in built:
        with zipfile.ZipFile(path) as z:
            sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
            formulas = without = 0
            for name in sheets:
                for c in etree.fromstring(z.read(name)).iterfind(".//m:c[m:f]", ns):
                    formulas += 1
                    without += c.find("m:v", ns) is None
        assert formulas > 1000 and without == 0, (path.name, formulas, without)


def test_the_file_still_asks_excel_to_recalculate(quotes):
    _, built = quotes
    with zipfile.ZipFile(next(iter(built))) as z:
        workbook = z.read("xl/workbook.xml").decode()
    assert 'fullCalcOnLoad="1"' in workbook


def test_every_formula_the_workbook_writes_is_known():
    """Strict: an unknown function, a reference the evaluator cannot follow, a cycle would raise."""
    results = xlsx_writer.computed(build_workbook(None), strict=True)
    assert results.skipped == []
    results = xlsx_writer.computed(build_workbook(None, with_functions=True), strict=False)
    assert results.skipped and all(where.startswith("Functions!C") and "LLM_" in why
                                   for where, why in results.skipped)


def test_shared_formulas_read_back_as_each_row_is_written(quotes):
    _, built = quotes
    path, rows = list(built.items())[1]
    wb = load_workbook(path)
    layout = _Layout()
    last = FIRST_ROW + len(rows) + 9
    for r in (FIRST_ROW, FIRST_ROW + 1, last):
        for c in layout.calc:
            want = "=" + layout.render(c.formula, r, "Calc")
            assert wb["Calc"][f"{layout.calc_col[c.key]}{r}"].value == want
        assert wb["Scenarios"][f"{layout.check_col}{r}"].value == "=" + layout.render(F.CHECK, r, "Scenarios")
    with zipfile.ZipFile(path) as z:
        names = {ws.title: f"xl/worksheets/sheet{i}.xml" for i, ws in enumerate(wb.worksheets, start=1)}
        calc = z.read(names["Calc"]).decode()
    assert calc.count('t="shared" ref=') == len(layout.calc)


def test_openpyxl_save_of_a_built_workbook_keeps_every_row(tmp_path):
    wb = build_workbook([dict(scenario="a", model="llama-3-8b", hardware="l4")])
    wb.save(tmp_path / "q.xlsx")
    ws = load_workbook(tmp_path / "q.xlsx", data_only=True)["Scenarios"]
    layout = _Layout()
    assert ws[f"{layout.input_col['model']}{FIRST_ROW}"].value == "llama-3-8b"
    want = _core([dict(model="llama-3-8b", hardware="l4")])["cost_per_request_usd"][0]
    assert math.isclose(ws[f"{layout.output_col['cost_per_request_usd']}{FIRST_ROW}"].value, want, rel_tol=1e-9)


def test_the_writer_keeps_the_last_write_of_each_cell(tmp_path):
    """Rows kept for the save: one formula over many rows, cells written over it (through the store
    and through openpyxl), text, booleans and errors, each stored with its value."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "S"
    ws["A1"] = "header"
    cells = xlsx_writer.fast_rows(ws, 5)
    for r in range(5, 11):
        cells.value(r, 1, r - 4)                       # A5:A10 = 1..6
    cells.formula_rows(2, 5, 6, "=$A" + xlsx_writer.ROW_TOKEN + "*2")
    cells.formula(7, 2, "=100")                        # over the run, through the store
    ws["B8"] = "=A8+0.5"                               # over the run, through openpyxl
    cells.formula(5, 3, '=IF(A5>3,"big",A5>0)')        # C5: a boolean
    cells.formula(6, 3, '=IF(A6>3,"big",A6>0)')        # C6: a boolean
    cells.formula(9, 3, '=IF(A9>3,"big",A9>0)')        # C9: text
    cells.formula(10, 3, "=1/(A10-6)")                 # C10: an error
    path = tmp_path / "w.xlsx"
    xlsx_writer.save(wb, str(path), strict=True)
    values = load_workbook(path, data_only=True)["S"]
    formulas = load_workbook(path)["S"]
    assert [values[f"B{r}"].value for r in range(5, 11)] == [2, 4, 100, 4.5, 10, 12]
    assert [formulas[f"B{r}"].value for r in range(5, 11)] == ["=$A5*2", "=$A6*2", "=100", "=A8+0.5", "=$A9*2",
                                                                "=$A10*2"]
    assert [values[f"C{r}"].value for r in (5, 6, 9, 10)] == [True, True, "big", "#DIV/0!"]
    assert values["A1"].value == "header" and values.max_row == 10
