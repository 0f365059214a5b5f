"""Strict spreadsheet checks shared by every test that recalculates or inspects a workbook.

- LibreOffice recalculates with a private profile set to *always* recalculate an .xlsx on load
  (its default keeps the cached values of a file that says Excel wrote it, so a parity test
  would compare the tool with itself).
- Gnumeric (`ssconvert --recalc`) is a third engine, stricter about what it parses: it refuses
  a formula with a missing parenthesis where LibreOffice silently repairs it.
- Microsoft's Open XML SDK validator (npm `@ooxml-tools/validate`, the SDK compiled to
  WebAssembly; `.ci/run` installs it into `.ci/ooxml-validate/`) checks every part against
  the schemas Excel reads.
- A formula linter reads every formula from the saved file's XML, as Excel sees it, and
  tokenizes it with openpyxl's tokenizer: parentheses balanced outside string literals, only
  functions Excel 2010 knows, no stored formula starting with "=".

Where a tool is missing the tests that need it are skipped, except in CI (``CI`` set), where
they fail.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree
from openpyxl.formula.tokenizer import Token, Tokenizer, TokenizerError

ROOT = Path(__file__).resolve().parents[1]
IN_CI = bool(os.environ.get("CI"))

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
SSCONVERT = shutil.which("ssconvert")
NODE = shutil.which("node")
VALIDATOR = ROOT / ".ci" / "ooxml-validate" / "node_modules" / "@ooxml-tools" / "validate" / "dist" / "npm" / "index.js"


def _needs(present: bool, what: str, install: str):
    return pytest.mark.skipif(not present and not IN_CI, reason=f"{what} not installed ({install}; CI installs it)")


needs_libreoffice = _needs(SOFFICE is not None, "LibreOffice", "apt-get install libreoffice-calc-nogui")
needs_gnumeric = _needs(SSCONVERT is not None, "Gnumeric", "apt-get install gnumeric")
needs_validator = _needs(NODE is not None and VALIDATOR.exists(), "The Open XML SDK validator",
                         "npm install --prefix .ci/ooxml-validate @ooxml-tools/validate")

#: What a spreadsheet engine writes in a cell whose formula failed (LibreOffice: "Err:5xx").
ERROR_VALUES = ("#N/A", "#VALUE!", "#DIV/0!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "Err:")


def is_error(value) -> bool:
    return isinstance(value, str) and value.startswith(ERROR_VALUES)


def problem(check):
    """What a Check cell says is wrong (None when nothing): notes ("Note: ...", a retired model) are not problems."""
    return None if check in (None, "") or str(check).startswith("Note:") else check


def unexpected_errors(wb) -> list[tuple[str, str, str]]:
    """Error values in a computed workbook, except #N/A on the Calc sheet: the audit sheet's mark
    for a quantity that does not apply to a row (the core's NaN). Any other error, or any error on
    a sheet a reader uses (Scenarios, Quote, Cover...), is a defect."""
    return [(ws.title, c.coordinate, c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row
            if is_error(c.value) and not (ws.title == "Calc" and c.value == "#N/A")]


def load_values(path: Path):
    """The values a spreadsheet engine computed and cached (Gnumeric writes no default cell style,
    which openpyxl warns about and replaces with its own)."""
    import warnings

    from openpyxl import load_workbook

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Workbook contains no default style", UserWarning)
        return load_workbook(path, data_only=True)


# --- LibreOffice -----------------------------------------------------------------------------------

#: The user layer of LibreOffice's configuration: always recalculate an .xlsx on load (0), where the
#: default (1, "never") keeps the values the file caches. The key is declared in LibreOffice's
#: officecfg schema (officecfg/registry/schema/org/openoffice/Office/Calc.xcs, group Formula/Load).
RECALC_ALWAYS_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""

_profiles: dict[bool, Path] = {}


def libreoffice_profile(recalc_always: bool = True) -> Path:
    """A private LibreOffice profile for this test session, configured before its first launch."""
    if recalc_always not in _profiles:
        root = Path(tempfile.mkdtemp(prefix="llmcalc-lo-profile-"))
        atexit.register(shutil.rmtree, root, True)
        if recalc_always:
            (root / "user").mkdir()
            (root / "user" / "registrymodifications.xcu").write_text(RECALC_ALWAYS_XCU, encoding="utf-8")
        _profiles[recalc_always] = root
    return _profiles[recalc_always]


def recalculate(path: Path, tmp_path: Path, *, recalc_always: bool = True) -> Path:
    """LibreOffice opens the file, computes every formula and saves it with the values it cached."""
    assert SOFFICE, "LibreOffice is needed for this test: apt-get install libreoffice-calc-nogui"
    out = Path(tempfile.mkdtemp(prefix="libreoffice-", dir=tmp_path))
    profile = libreoffice_profile(recalc_always).as_uri()
    subprocess.run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation={profile}",
                    "--convert-to", "xlsx", "--outdir", str(out), str(path)], check=True, capture_output=True,
                   timeout=600)
    result = out / (Path(path).stem + ".xlsx")
    assert result.exists(), f"LibreOffice wrote nothing for {path}"
    return result


# --- Gnumeric --------------------------------------------------------------------------------------

#: What Gnumeric 1.12 says about every quote, all of it valid OOXML (the validator passes it): parts
#: its reader does not know, or drops. Anything else it says is a finding, such as a formula it
#: refused ("Could not find matching closing parenthesis", "Invalid expression").
GNUMERIC_KNOWN = tuple(re.compile(p) for p in (
    r"Unexpected element 'workbookProtection' in state : \n\tworkbook\n",   # empty: nothing is protected
    r"Unexpected element 'tableParts' in state : \n\tworksheet\n",          # the catalog sheets' Excel tables
    r"Unexpected element 'a:graphic' in state : \n\twsDr -> oneCellAnchor -> graphicFrame\n",  # the Quote chart
    r"(Quote|Forecast|Sensitivity)![A-Z]+[0-9]+ : Dropping missing object\n",  # ... which it then drops (charts)
    # print titles of rows and columns together (a union of two ranges)
    r"At A1: ''(\w+)'!\$\d+:\$\d+,'\1'!\$[A-Z]+:\$[A-Z]+' Multiple expressions are not supported in this context\n",
))


@dataclass
class GnumericResult:
    path: Path          # the recalculated workbook (.xlsx, the values Gnumeric computed cached)
    complaints: list[str]  # what Gnumeric said about the file beyond GNUMERIC_KNOWN: formulas it refused


def recalculate_gnumeric(path: Path, tmp_path: Path) -> GnumericResult:
    assert SSCONVERT, "Gnumeric is needed for this test: apt-get install gnumeric"
    out = Path(tempfile.mkdtemp(prefix="gnumeric-", dir=tmp_path)) / (Path(path).stem + ".xlsx")
    run = subprocess.run([SSCONVERT, "--recalc", str(path), str(out)], capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, HOME=str(out.parent)))
    assert run.returncode == 0 and out.exists(), run.stderr
    said = run.stdout + run.stderr
    for known in GNUMERIC_KNOWN:
        said = known.sub("", said)
    return GnumericResult(out, [line for line in said.splitlines() if line.strip()])


# --- the Open XML SDK validator --------------------------------------------------------------------

_VALIDATE_JS = """
import { readFile } from 'fs/promises';
import { pathToFileURL } from 'url';
const [library, version, ...files] = process.argv.slice(1);
const { default: validate } = await import(pathToFileURL(library).href);
const out = {};
for (const f of files) out[f] = await validate(await readFile(f), 'xlsx', version);
console.log(JSON.stringify(out));
"""

#: The oldest Excel the README promises: a part or attribute that Excel 2010 does not know is a finding.
OFFICE_VERSION = "Office2010"


def validate_ooxml(paths: list[Path]) -> dict[str, list[dict]]:
    """Every finding of the Open XML SDK validator, per file (one node process for all: ~7 s a file)."""
    assert NODE and VALIDATOR.exists(), (
        "The validator is needed: npm install --prefix .ci/ooxml-validate @ooxml-tools/validate")
    run = subprocess.run([NODE, "--input-type=module", "-e", _VALIDATE_JS, str(VALIDATOR), OFFICE_VERSION,
                          *map(str, paths)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


#: The child order of <font> in the schema (CT_Font). openpyxl writes name, family, color, sz, ...
#: in another order, which Excel reads without complaint; the validator reports the first child out
#: of order in each such font. That finding, and only that one, is known.
FONT_CHILD_ORDER = ("b", "i", "strike", "condense", "extend", "outline", "shadow", "u", "vertAlign", "sz", "color",
                    "name", "family", "charset", "scheme")
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_FONT_FINDING = re.compile(r"^/x:styleSheet\[1\]/x:fonts\[1\]/x:font\[(\d+)\]$")
_FONT_CHILD = re.compile(r"^The element has unexpected child element '" + re.escape(MAIN_NS) + r":(\w+)'\.$")


def is_openpyxl_font_order(finding: dict, xlsx: Path) -> bool:
    """True for the known finding only: a <font> of xl/styles.xml whose named child really does come
    after a child that the schema puts later (checked in the file, not assumed)."""
    path = finding.get("path", {})
    font = _FONT_FINDING.match(path.get("xpath", ""))
    child = _FONT_CHILD.match(finding.get("description", ""))
    if not (finding.get("id") == "Sch_UnexpectedElementContentExpectingComplex"
            and path.get("partUri") == "/xl/styles.xml" and font and child):
        return False
    with zipfile.ZipFile(xlsx) as z:
        styles = etree.fromstring(z.read("xl/styles.xml"))
    fonts = styles.findall(f"{{{MAIN_NS}}}fonts/{{{MAIN_NS}}}font")
    index = int(font.group(1)) - 1
    if index >= len(fonts):
        return False
    names = [etree.QName(e).localname for e in fonts[index]]
    name = child.group(1)
    if name not in names or any(n not in FONT_CHILD_ORDER for n in names):
        return False
    rank = FONT_CHILD_ORDER.index(name)
    return any(FONT_CHILD_ORDER.index(n) > rank for n in names[:names.index(name)])


# --- the formula linter ----------------------------------------------------------------------------

#: The worksheet functions the quote may use: each is in Excel 2010's set without an _xlfn. prefix
#: (openpyxl's FORMULAE, the built-ins of ECMA-376) and computes the same in Excel, LibreOffice and
#: Gnumeric. Not N(): Gnumeric gives #NUM! for N() of an empty cell (formulas.num is the portable form).
EXCEL_2010_FUNCTIONS = frozenset({
    "AND", "COUNTIF", "IF", "IFERROR", "INDEX", "INT", "ISNA", "ISNUMBER", "MATCH", "MAX", "MIN", "NOT", "OR",
    "ROUNDUP", "SEARCH", "SUBSTITUTE", "SUM", "TEXT", "ISTEXT", "LEFT", "LOWER", "NA", "TRIM", "SUMIF",
    "ABS", "ROUND",  # the Sensitivity sheet's sort by swing; both in every Excel version
    "LN",  # the request-rate view's percentile of the queue's wait; in every Excel version
})

#: Excel's longest formula (characters) and longest data-validation list source.
MAX_FORMULA_CHARS = 8192
MAX_VALIDATION_CHARS = 255


KINDS = ("cell", "data validation", "conditional format", "defined name", "chart reference")


@dataclass(frozen=True)
class Formula:
    kind: str    # one of KINDS
    sheet: str   # the worksheet it belongs to ("" for defined names and charts)
    where: str   # the cell, range or name
    text: str    # as stored (Excel stores formulas without the leading "=")


def _ns(tag: str) -> str:
    return f"{{{MAIN_NS}}}{tag}"


def _sheet_parts(z: zipfile.ZipFile) -> dict[str, str]:
    """Zip part of each worksheet -> its name."""
    rel_ns = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    targets = {r.get("Id"): r.get("Target") for r in etree.fromstring(z.read("xl/_rels/workbook.xml.rels"))}
    parts = {}
    for s in etree.fromstring(z.read("xl/workbook.xml")).iter(_ns("sheet")):
        target = targets[s.get(f"{{{rel_ns}}}id")]
        parts[target.lstrip("/") if target.startswith("/") else "xl/" + target] = s.get("name")
    return parts


def stored_formulas(xlsx: Path) -> list[Formula]:
    """Every formula the file stores, read from its XML parts (not from openpyxl's objects):
    cells of every sheet, data validations, conditional formats, defined names, chart references."""
    found: list[Formula] = []
    chart_ns = "http://schemas.openxmlformats.org/drawingml/2006/chart"
    with zipfile.ZipFile(xlsx) as z:
        sheets = _sheet_parts(z)
        for part, sheet in sheets.items():
            root = etree.fromstring(z.read(part))
            masters, children = set(), []
            for c in root.iter(_ns("c")):
                f = c.find(_ns("f"))
                if f is None:
                    continue
                if f.get("t") == "shared" and not f.text:
                    children.append((c.get("r"), f.get("si")))  # the text is its master's, moved
                    continue
                if f.get("t") == "shared":
                    masters.add(f.get("si"))
                found.append(Formula("cell", sheet, c.get("r"), f.text or ""))
            for where, si in children:
                if si not in masters:  # no text of its own and none to share: Excel would refuse it
                    found.append(Formula("cell", sheet, where, ""))
            for dv in root.iter(_ns("dataValidation")):
                for tag in ("formula1", "formula2"):
                    for f in dv.iter(_ns(tag)):
                        found.append(Formula("data validation", sheet, f"{dv.get('sqref')} {tag}", f.text or ""))
            for cf in root.iter(_ns("conditionalFormatting")):
                for f in cf.iter(_ns("formula")):
                    found.append(Formula("conditional format", sheet, cf.get("sqref"), f.text or ""))
        for d in etree.fromstring(z.read("xl/workbook.xml")).iter(_ns("definedName")):
            found.append(Formula("defined name", "", d.get("name"), d.text or ""))
        for part in sorted(n for n in z.namelist() if n.startswith("xl/charts/") and n.endswith(".xml")):
            for f in etree.fromstring(z.read(part)).iter(f"{{{chart_ns}}}f"):
                found.append(Formula("chart reference", "", part, f.text or ""))
    return found


def lint_formula(text: str, allowed: frozenset[str] = EXCEL_2010_FUNCTIONS,
                 max_chars: int = MAX_FORMULA_CHARS) -> list[str]:
    """What is wrong with one stored formula (empty: nothing)."""
    problems = []
    if not text.strip():
        return ["is empty"]
    if text.startswith("="):
        problems.append("starts with '=' (stored formulas never do)")
    if len(text) > max_chars:
        problems.append(f"is {len(text)} characters long, over Excel's {max_chars}")
    try:
        tokens = Tokenizer("=" + text).items
    except (TokenizerError, IndexError) as e:  # IndexError: a ")" with no "(" before it
        return problems + [f"does not parse: {type(e).__name__} {e}"]
    depth = 0
    for t in tokens:
        if t.subtype == Token.OPEN:
            depth += 1
        elif t.subtype == Token.CLOSE:
            depth -= 1
        if t.type == Token.FUNC and t.subtype == Token.OPEN:
            name = t.value[:-1]
            if name.upper() not in allowed:
                problems.append(f"uses {name}(), not in the allowed Excel 2010 functions")
        if t.type == Token.OPERAND and t.subtype == Token.RANGE and t.value.upper().startswith(("_XLFN.", "_XLPM.")):
            problems.append(f"uses {t.value}, which Excel 2010 does not know")
    if depth:
        problems.append(f"has {depth} more '(' than ')' outside string literals")
    return problems


def lint_workbook(xlsx: Path, allowed: dict[str, frozenset[str]] | None = None) -> tuple[list[Formula], list[str]]:
    """(every formula checked, findings as 'kind sheet!where: problem: formula').

    ``allowed`` adds functions for one sheet (the Functions sheet's =LLM_...() calls)."""
    formulas = stored_formulas(xlsx)
    findings = []
    for f in formulas:
        limit = MAX_VALIDATION_CHARS if f.kind == "data validation" else MAX_FORMULA_CHARS
        functions = EXCEL_2010_FUNCTIONS | (allowed or {}).get(f.sheet, frozenset())
        for problem in lint_formula(f.text, functions, limit):
            findings.append(f"{f.kind} {f.sheet}!{f.where}: {problem}: {f.text[:120]}")
    return formulas, findings


# --- comparing what a surface shows with the core --------------------------------------------------

REL_TOL = 1e-9


def same(got, want, key: str, no_answer) -> bool:
    """Does ``got`` (a value as a surface shows it) equal the core's ``want``? ``no_answer`` is what
    the surface shows where the core has none (NaN)."""
    from llmcalc_xl.core.estimate import BOOL_KEYS

    if want is None or (isinstance(want, float) and math.isnan(want)):
        return got == no_answer
    if key in BOOL_KEYS:
        return isinstance(got, bool) and got == bool(want)
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return False
    return math.isclose(float(got), float(want), rel_tol=REL_TOL, abs_tol=1e-12)


def core_of(rows: list[dict], catalog=None) -> dict:
    """The core's answers for scenario rows as a quote holds them (``estimate_many``)."""
    from llmcalc_xl import estimate_many
    from llmcalc_xl.workbook import formulas as F

    cols = {k: [r.get(k) for r in rows] for k in F.INPUT_KEYS if k != "scenario"}
    return estimate_many(cols.pop("model"), cols.pop("hardware"), catalog=catalog, **cols)


def mismatches(surface: str, rows: list[dict], core: dict, got, keys, no_answer, no_fit=None) -> list[str]:
    """Every (row, key) where ``got(i, key)`` differs from ``core[key][i]``, as readable lines.
    ``no_fit``: what the surface shows instead of a speed or cost of a deployment that does not
    fit (default: ``no_answer``)."""
    from llmcalc_xl.core.estimate import NOT_RUNNING_KEYS

    out = []
    for i, row in enumerate(rows):
        for key in keys:
            value, want = got(i, key), core[key][i]
            expected_none = no_answer
            if no_fit is not None and core["fits"][i] == 0 and key in NOT_RUNNING_KEYS:
                expected_none = no_fit
            if not same(value, want, key, expected_none):
                out.append(f"{surface}: row {i} ({row.get('scenario')}) {key}: shows {value!r}, core {want!r}")
    return out


def scenario_outputs(ws, n_rows: int):
    """got(i, key) for the Scenarios sheet of a recalculated quote (openpyxl, data_only)."""
    from openpyxl.utils import column_index_from_string

    from llmcalc_xl.workbook.build import FIRST_ROW, _Layout

    layout = _Layout()
    cols = {k: column_index_from_string(c) for k, c in layout.output_col.items()}
    cols["check"] = column_index_from_string(layout.check_col)
    values = {k: [ws.cell(FIRST_ROW + i, c).value for i in range(n_rows)] for k, c in cols.items()}
    return lambda i, key: values[key][i]


# --- the Forecast and Sensitivity sheets ------------------------------------------------------------

def horizon_core_of(rows: list[dict], catalog=None, api_model: str = "gpt-4o") -> dict:
    """The core's horizon forecast (with the monthly series) and sensitivity for scenario rows as a
    quote holds them, against the quote's compare_api_model."""
    from llmcalc_xl.core.plan import horizon_many, sensitivity_many
    from llmcalc_xl.workbook import formulas as F

    cols = {k: [r.get(k) for r in rows] for k in F.INPUT_KEYS if k != "scenario"}
    model, hardware = cols.pop("model"), cols.pop("hardware")
    share = next(v for n, v, *_ in F.ASSUMPTIONS if n == "sensitivity_share")
    return {"horizon": horizon_many(api_model, model, hardware, catalog=catalog, series=True, **cols),
            "sensitivity": sensitivity_many(model, hardware, catalog=catalog, share=share, **cols)}


def _no_answer(value) -> bool:
    return value is None or value == ""


def _same_number(got, want) -> bool:
    if want is None or (isinstance(want, float) and math.isnan(want)):
        return _no_answer(got)
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return False
    return math.isclose(float(got), float(want), rel_tol=REL_TOL, abs_tol=1e-9)


def forecast_mismatches(engine: str, wb, rows: list[dict], core: dict) -> list[str]:
    """Every cell of the Forecast and Sensitivity sheets (per scenario, per month, the totals and
    the tables) that differs from the core, as readable lines."""
    from openpyxl.utils import column_index_from_string as index

    from llmcalc_xl.core import forecast as FC
    from openpyxl.utils import get_column_letter as _column

    from llmcalc_xl.core.plan import HORIZON_KEYS, horizon_totals, sensitivity_total
    from llmcalc_xl.workbook import formulas as F
    from llmcalc_xl.workbook.build import FIRST_ROW, SPARE_SCENARIO_ROWS
    from llmcalc_xl.workbook.forecast_sheets import (MONTHS, SENSITIVITY_TABLES, SORTED_COLUMN, forecast_layout,
                                                     sensitivity_layout)

    out: list[str] = []
    h, s = core["horizon"], core["sensitivity"]
    ws = wb["Forecast"]
    column_of, _, _ = forecast_layout()

    def cell(sheet, row, letter):
        return sheet.cell(row, index(letter)).value

    series = {"quoted": "monthly_usd", "api": "monthly_api_usd", "cum_quoted": "cumulative_usd",
              "cum_api": "cumulative_api_usd"}
    for i, row in enumerate(rows):
        for name, key in (("requests", "requests_per_month"), ("replicas", "replicas")):
            for m in range(1, MONTHS + 1):
                got, want = cell(ws, FIRST_ROW + i, column_of[(name, m)]), h[key][i, m - 1]
                if not _same_number(got, want):
                    out.append(f"{engine}: Forecast row {i} {name} month {m}: shows {got!r}, core {want!r}")
    for i, row in enumerate(rows):
        r = FIRST_ROW + i
        usable = not math.isnan(h["npv_usd"][i])
        for key in HORIZON_KEYS:
            got, want = cell(ws, r, column_of[(key, None)]), h[key][i]
            if key == "crossover_month" and math.isnan(want):
                ok = got == "none" if usable else _no_answer(got)
            else:
                ok = _same_number(got, want)
            if not ok:
                out.append(f"{engine}: Forecast row {i} ({row.get('scenario')}) {key}: shows {got!r}, core {want!r}")
        for name, key in series.items():
            for m in range(1, MONTHS + 1):
                got, want = cell(ws, r, column_of[(name, m)]), h[key][i, m - 1]
                if not _same_number(got, want):
                    out.append(f"{engine}: Forecast row {i} {name} month {m}: shows {got!r}, core {want!r}")
    total = FIRST_ROW + len(rows) + SPARE_SCENARIO_ROWS
    totals = horizon_totals(h)
    for key in HORIZON_KEYS:
        got, want = cell(ws, total, column_of[(key, None)]), totals[key]
        ok = (got == "none") if key == "crossover_month" and math.isnan(want) else _same_number(got, want)
        if not ok:
            out.append(f"{engine}: Forecast total {key}: shows {got!r}, core {want!r}")
    for name, key in series.items():
        for m in range(1, MONTHS + 1):
            got, want = cell(ws, total, column_of[(name, m)]), totals[key][m - 1]
            if not _same_number(got, want):
                out.append(f"{engine}: Forecast total {name} month {m}: shows {got!r}, core {want!r}")
    sens = wb["Sensitivity"]
    working = sensitivity_layout()
    keys = ["base"] + [f"{k}_{side}" for k, _ in FC.DRIVERS for side in ("down", "up")]
    for i, row in enumerate(rows):
        for key in keys:
            got, want = cell(sens, FIRST_ROW + i, working[(key, None)]), s[f"{key}_usd"][i]
            if not _same_number(got, want):
                out.append(f"{engine}: Sensitivity row {i} ({row.get('scenario')}) {key}: shows {got!r}, "
                           f"core {want!r}")
    shown = int(next(v for n, v, *_ in F.ASSUMPTIONS if n == "sensitivity_scenario")) - 1
    total_s = sensitivity_total(s)
    for top, want_of in zip(SENSITIVITY_TABLES, (lambda key: s[f"{key}_usd"][shown], lambda key: total_s[f"{key}_usd"])):
        for j, (driver, _) in enumerate(FC.DRIVERS):
            r = top + 2 + j
            for col, key in (("B", f"{driver}_down"), ("C", "base"), ("D", f"{driver}_up")):
                got, want = cell(sens, r, col), want_of(key)
                if not _same_number(got, want):
                    out.append(f"{engine}: Sensitivity table at row {r} {key}: shows {got!r}, core {want!r}")
        # the chart's copy of the table, sorted by swing as `llmcalc-xl sensitivity` sorts (stable)
        base = want_of("base")
        changes = [(label, want_of(f"{d}_down") - base, want_of(f"{d}_up") - base) for d, label in FC.DRIVERS]
        order = sorted(changes, key=lambda x: -(round(abs(x[2] - x[1]), 2) if x[1] == x[1] and x[2] == x[2] else 0.0))
        for j, (label, down, up) in enumerate(order):
            r = top + 2 + j
            shown = [cell(sens, r, _column(SORTED_COLUMN + c)) for c in (2, 3, 4)]
            if shown[0] != label or not (_same_number(shown[1], down) and _same_number(shown[2], up)):
                out.append(f"{engine}: Sensitivity sorted table at row {r}: shows {shown!r}, core {(label, down, up)!r}")
    return out
