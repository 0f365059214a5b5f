"""Strict checks of the quote workbook (tests/spreadsheets.py): each check can fail, and the quote passes.

- a formula linter over every formula the file stores (cells, data validations, conditional
  formats, defined names, chart references);
- Gnumeric, which refuses formulas LibreOffice silently repairs, recalculates the default quote;
- Microsoft's Open XML SDK validator passes every workbook the project builds or ships;
- LibreOffice recalculates instead of trusting the values a file caches.
"""

import zipfile
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree
from openpyxl import Workbook
from openpyxl.utils.formulas import FORMULAE

from llmcalc_xl.excel import functions as udfs
from llmcalc_xl.workbook import formulas as F
from llmcalc_xl.cli.main import main
from llmcalc_xl.workbook.build import DEFAULT_SCENARIOS, build_workbook, save_atomically

from .spreadsheets import (problem, EXCEL_2010_FUNCTIONS, KINDS, ROOT, unexpected_errors, is_openpyxl_font_order, lint_formula,
                           lint_workbook, load_values, mismatches, needs_gnumeric, needs_libreoffice, needs_validator,
                           recalculate, recalculate_gnumeric, scenario_outputs, validate_ooxml)
from .test_workbook import STRESS, _core

ROWS = list(DEFAULT_SCENARIOS) + STRESS


@pytest.fixture(scope="module")
def quote(tmp_path_factory):
    """The default quote plus the stress rows, as `llmcalc-xl build` saves it."""
    return save_atomically(build_workbook(ROWS), tmp_path_factory.mktemp("strict") / "quote.xlsx")


@pytest.fixture(scope="module")
def with_functions(tmp_path_factory):
    out = tmp_path_factory.mktemp("functions") / "quote.xlsx"
    r = CliRunner().invoke(main, ["build", "--with-functions", "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


# --- the linter --------------------------------------------------------------------------------------

@pytest.mark.parametrize("formula, problem", [
    ('IF(A1="","",IF(A2>0,1,2)', "1 more '(' than ')'"),      # the Check column's old missing ")"
    ("SUM(A1:A3))", "does not parse"),
    ("=m_id", "starts with '='"),                               # the dropdowns' old list source
    ("N(A1)+1", "uses N()"),                                    # #NUM! in Gnumeric for an empty cell
    ("_xlfn.STDEV.S(A1:A3)", "_xlfn"),
    ("XLOOKUP(1,A1:A3,B1:B3)", "uses XLOOKUP()"),               # Excel 365 only
    ("IF(A1," + "1+" * 5000 + "1,0)", "over Excel's 8192"),
])
def test_the_linter_finds_what_excel_would_refuse(formula, problem):
    assert any(problem in p for p in lint_formula(formula)), lint_formula(formula)


@pytest.mark.parametrize("formula", [
    'IF(A1="(","a)",(1+2)*3)',                    # parentheses inside text do not count
    "'Scenarios'!$3:$4,'Scenarios'!$A:$A",        # print titles: a union of two ranges
    "Assumptions!$B$5", 'SEARCH(";"&A1&";",";"&SUBSTITUTE(B1," ","")&";")',
])
def test_the_linter_passes_good_formulas(formula):
    assert lint_formula(formula) == []


def test_the_allowed_functions_are_excel_2010_built_ins():
    """openpyxl's FORMULAE: the functions of ECMA-376 that Excel stores without an _xlfn. prefix."""
    assert EXCEL_2010_FUNCTIONS <= FORMULAE


def test_the_linter_reads_formulas_from_the_file(tmp_path):
    """A formula hidden anywhere in the file is found: cells, validations, formats, names, charts."""
    from openpyxl.chart import BarChart, Reference
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.workbook.defined_name import DefinedName
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = "Data"
    ws["A1"], ws["A2"] = 1, "=IF(A1>0,1"
    dv = DataValidation(type="list", formula1="=names")
    ws.add_data_validation(dv)
    dv.add("B1:B5")
    ws.conditional_formatting.add("C1:C5", FormulaRule(formula=["N(C1)>0"]))
    wb.defined_names["names"] = DefinedName("names", attr_text="Data!$A$1:$A$3)")
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=1, min_row=1, max_row=3))
    ws.add_chart(chart, "E5")
    wb.save(tmp_path / "bad.xlsx")
    formulas, findings = lint_workbook(tmp_path / "bad.xlsx")
    assert {f.kind for f in formulas} == set(KINDS)
    assert sorted(f.split(": ")[0] for f in findings) == [
        "cell Data!A2", "conditional format Data!C1:C5", "data validation Data!B1:B5 formula1", "defined name !names"]


def test_every_formula_of_the_quote_lints_clean(quote):
    formulas, findings = lint_workbook(quote)
    assert findings == []
    kinds = Counter(f.kind for f in formulas)
    # each column of the big sheets is one shared formula: its text is linted once, for every row
    # the quote has no conditional format (LibreOffice's PDF export crashed on them); the linter's
    # own test shows it reads them
    assert set(kinds) == set(KINDS) - {"conditional format"} and kinds["cell"] > 200, kinds
    dropdowns = [f.text for f in formulas if f.kind == "data validation" and not f.text[0].isdigit()]
    assert sorted(set(dropdowns)) == ['"on-demand,reserved-1y,reserved-3y,spot,owned"', '"yes,no"', "e_id", "h_id", "m_id",
                                      "p_id"]  # choices: lists of words


def test_the_functions_sheet_only_adds_the_llm_functions(with_functions):
    llm = frozenset(name for name in dir(udfs) if name.startswith("LLM_"))
    formulas, findings = lint_workbook(with_functions, allowed={"Functions": llm})
    assert findings == []
    assert any(f.sheet == "Functions" and f.text.startswith("LLM_COST(") for f in formulas)


# --- Gnumeric ----------------------------------------------------------------------------------------

@needs_gnumeric
def test_gnumeric_reports_a_formula_it_refuses(tmp_path):
    wb = Workbook()
    wb.active["A1"] = "=IF(A2>0,1,2"
    wb.active["A3"] = "=1+2"
    wb.save(tmp_path / "bad.xlsx")
    result = recalculate_gnumeric(tmp_path / "bad.xlsx", tmp_path)
    assert len(result.complaints) == 1 and "Could not find matching closing parenthesis" in result.complaints[0]
    assert load_values(result.path).active["A3"].value == 3


@needs_gnumeric
def test_gnumeric_computes_the_quote_like_the_core(quote, tmp_path):
    result = recalculate_gnumeric(quote, tmp_path)
    assert result.complaints == []
    wb = load_values(result.path)
    errors = unexpected_errors(wb)
    assert errors == []
    got = scenario_outputs(wb["Scenarios"], len(ROWS))
    assert [problem(got(i, "check")) for i in range(len(ROWS)) if problem(got(i, "check"))] == []
    bad = mismatches("Gnumeric", ROWS, _core(ROWS), got, F.OUTPUT_KEYS, "n/a", no_fit="does not fit")
    assert bad == [], "\n".join(bad[:20])


# --- the Open XML SDK validator ----------------------------------------------------------------------

SHIPPED = [ROOT / "templates" / "quote.xlsx", *sorted((ROOT / "workbooks").glob("*.xlsx"))]


@needs_validator
def test_the_open_xml_validator_passes_every_workbook(with_functions, tmp_path):
    built = save_atomically(build_workbook(None), tmp_path / "default.xlsx")
    paths = [built, with_functions, *SHIPPED]
    assert len(paths) >= 5
    findings = validate_ooxml(paths)
    unknown = {p: [f for f in found if not is_openpyxl_font_order(f, Path(p))] for p, found in findings.items()}
    assert unknown == {str(p): [] for p in paths}
    # the known finding is there (the validator ran and read styles.xml): openpyxl's <font> order
    assert all(findings[str(p)] for p in paths)


def test_only_openpyxl_font_order_is_forgiven(quote):
    """The known finding matches on its id, part, path, message and the font really being out of order."""
    with zipfile.ZipFile(quote) as z:
        styles = etree.fromstring(z.read("xl/styles.xml"))
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    fonts = [[etree.QName(e).localname for e in font] for font in styles.iter(f"{ns}font")]
    out_of_order = next(i for i, names in enumerate(fonts, start=1) if names[:3] == ["name", "family", "color"])
    in_order = next(i for i, names in enumerate(fonts, start=1) if names == ["color"])

    def finding(font=out_of_order, child="color", id_="Sch_UnexpectedElementContentExpectingComplex",
                part="/xl/styles.xml"):
        return {"id": id_, "errorType": 0, "path": {"xpath": f"/x:styleSheet[1]/x:fonts[1]/x:font[{font}]",
                                                     "partUri": part},
                "description": "The element has unexpected child element "
                               f"'http://schemas.openxmlformats.org/spreadsheetml/2006/main:{child}'."}

    assert is_openpyxl_font_order(finding(), quote)
    assert not is_openpyxl_font_order(finding(font=in_order), quote)      # that font is in schema order
    assert not is_openpyxl_font_order(finding(child="name"), quote)       # name is where the schema wants it
    assert not is_openpyxl_font_order(finding(child="u"), quote)          # not a child of that font
    assert not is_openpyxl_font_order(finding(id_="Sch_InvalidElementContentExpectingComplex"), quote)
    assert not is_openpyxl_font_order(finding(part="/xl/worksheets/sheet1.xml"), quote)
    assert not is_openpyxl_font_order(dict(finding(), description=finding()["description"] + " More."), quote)


# --- LibreOffice -------------------------------------------------------------------------------------

def _with_cached_value(src: Path, dst: Path, cell_xml: bytes, cached: bytes) -> Path:
    """Copy of an .xlsx whose formula cell caches a value of our choosing, as Excel would have saved it."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                assert data.count(cell_xml) == 1
                data = data.replace(cell_xml, cached)
            zout.writestr(item, data)
    return dst


@needs_libreoffice
def test_libreoffice_recalculates_instead_of_trusting_cached_values(tmp_path):
    wb = Workbook()
    wb.active["A1"], wb.active["B1"] = 1, "=A1*3"
    wb.save(tmp_path / "plain.xlsx")
    stale = _with_cached_value(tmp_path / "plain.xlsx", tmp_path / "stale.xlsx",
                               b"<f>A1*3</f><v></v>", b"<f>A1*3</f><v>99</v>")
    assert load_values(stale).active["B1"].value == 99
    assert load_values(recalculate(stale, tmp_path)).active["B1"].value == 3
    # LibreOffice's own default keeps what the file says: the setting is what makes the tests honest
    assert load_values(recalculate(stale, tmp_path, recalc_always=False)).active["B1"].value == 99

