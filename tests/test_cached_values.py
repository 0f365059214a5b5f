"""A freshly built quote stores, beside every formula, the value it computes.

A viewer that does not recalculate (a mail preview, a phone) shows these values, and
`llmcalc-xl export` reads them. They must be the core's numbers, and what a spreadsheet
computes: LibreOffice, told to recalculate every formula on load (it otherwise keeps cached
values), is the second engine.
"""

import csv
import math
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook
from openpyxl.utils import column_index_from_string

from llmcalc_xl import estimate_many, load_catalog
from llmcalc_xl import formulas as F
from llmcalc_xl.estimate import NOT_RUNNING_KEYS
from llmcalc_xl import xlsx_writer
from llmcalc_xl.cli import main
from llmcalc_xl.workbook import DEFAULT_SCENARIOS, FIRST_ROW, _Layout, build_workbook, save_atomically

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_libreoffice = pytest.mark.skipif(SOFFICE is None and not os.environ.get("CI"),
                                       reason="LibreOffice not installed (CI installs it)")

#: LibreOffice profile setting: recalculate every formula of an .xlsx on load (0: always).
RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">
<value>0</value></prop></item>
</oor:items>
"""


def recalculated(paths: list[Path], tmp: Path) -> list[Path]:
    """LibreOffice's own values for every formula (cached values ignored), one run for all files."""
    assert SOFFICE, "LibreOffice is needed for this test: apt-get install libreoffice-calc-nogui"
    profile = tmp / "lo-profile"
    (profile / "user").mkdir(parents=True, exist_ok=True)
    (profile / "user" / "registrymodifications.xcu").write_text(RECALC_ALWAYS, encoding="utf-8")
    out = tmp / "recalculated"
    subprocess.run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation=file://{profile}",
                    "--convert-to", "xlsx", "--outdir", str(out), *map(str, paths)], check=True,
                   capture_output=True, timeout=900)
    return [out / p.name for p in paths]


def random_scenarios(n: int, seed: int) -> list[dict]:
    """n scenarios the core accepts, drawn from every catalog id and option."""
    cat = load_catalog(())
    rng = np.random.default_rng(seed)
    models = [m.id for m in cat.entries("models") + cat.entries("api_models")]
    hardware = [h.id for h in cat.entries("hardware")]
    precisions = [p.id for p in cat.entries("precisions")]
    engines = [e.id for e in cat.entries("engines")]
    rows = []
    for i in range(4 * n):
        r = dict(scenario=f"deal {i}", model=str(rng.choice(models)))
        draws = [("hardware", 0.85, lambda: str(rng.choice(hardware))),
                 ("gpus", 0.6, lambda: int(rng.choice([1, 2, 3, 4, 8, 16]))),
                 ("precision", 0.4, lambda: str(rng.choice(precisions))),
                 ("engine", 0.3, lambda: str(rng.choice(engines))),
                 ("input_tokens", 0.9, lambda: int(rng.integers(0, 20_000))),
                 ("output_tokens", 0.9, lambda: int(rng.integers(0, 3000))),
                 ("batch", 0.7, lambda: int(rng.integers(1, 256))),
                 ("requests_per_month", 0.8, lambda: int(rng.integers(0, 50_000_000))),
                 ("context_tokens", 0.2, lambda: int(rng.integers(1, 200_000))),
                 ("kv_precision", 0.15, lambda: str(rng.choice(["fp8", "fp16", "int8", "bf16"]))),
                 ("latency_s", 0.1, lambda: float(rng.uniform(0.1, 20))),
                 ("price_per_hour", 0.15, lambda: float(rng.uniform(0.1, 12)))]
        for key, p, draw in draws:
            if rng.random() < p:
                r[key] = draw()
        rows.append(r)
    error = _core(rows)["error"]
    good = [r for r, e in zip(rows, error) if e is None]
    assert len(good) >= n
    return good[:n]


def _core(rows):
    cols = {k: [r.get(k) for r in rows] for k in F.INPUT_KEYS if k != "scenario"}
    return estimate_many(cols.pop("model"), cols.pop("hardware"), **cols)


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
    checked = 0
    last = FIRST_ROW + len(rows) + 9
    for i, values in enumerate(ws.iter_rows(min_row=FIRST_ROW, max_row=last, values_only=True)):
        for key, c in index.items():
            got = values[c]
            if i >= len(rows):  # the spare rows show nothing
                assert got in (None, ""), (i, key, got)
                continue
            want = core[key][i]
            if core["fits"][i] == 0 and key in NOT_RUNNING_KEYS:
                assert got == "does not fit", (rows[i], key, got)
            elif isinstance(want, float) and math.isnan(want):
                assert got == "n/a", (rows[i], key, got)
            elif key == "fits":  # a yes/no answer: the core's 1.0/0.0 is TRUE/FALSE in the sheet
                assert got is bool(want), (rows[i], key, got, want)
            else:
                assert isinstance(got, (int, float)) and not isinstance(got, bool), (rows[i], key, got)
                assert math.isclose(got, float(want), rel_tol=1e-9, abs_tol=1e-12), (rows[i], key, got, want)
            checked += 1
    return checked


def test_cached_outputs_equal_the_core(quotes):
    _, built = quotes
    checked = sum(_assert_outputs_equal_the_core(path, rows) for path, rows in built.items())
    assert checked == (len(DEFAULT_SCENARIOS) + 250) * len(F.OUTPUT_KEYS)


def test_a_larger_random_book_equals_the_core(tmp_path):
    rows = random_scenarios(2000, seed=7)
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
    for path, theirs_path in zip(paths, recalculated(paths, tmp)):
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
            want = "=" + layout.render(f"IFERROR({c.formula},0)" if c.guard else c.formula, r, "Calc")
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
