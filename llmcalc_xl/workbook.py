"""The quote workbook: `llmcalc-xl build`.

A formatted workbook that computes by itself in Excel 2010+ or LibreOffice, with no add-in:
every derived number is a native formula (``formulas.py``) over the catalog tables, the
assumptions and the scenario inputs, so a user who edits a price or a token count sees every
total move. Sheets: Cover, Quote, Scenarios, Assumptions, Models, Hardware, Engines,
Precisions, Calc (the estimate, one column per quantity) and Sources.

openpyxl writes the file; this module is the adapter from the core's catalog and scenarios
to cells, and holds no arithmetic of its own.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
from pathlib import Path
from typing import Any, Iterable

from . import __version__
from . import formulas as F
from .catalog import Catalog, load_catalog
from .files import check_writable, open_workbook, replacing
from .errors import InvalidValueError

HEADER_ROW = 4          # column headers of Scenarios and Calc
ROW_TOKEN = "\x00"       # stands for the row number while a formula template is rendered once
SPARE_SCENARIO_ROWS = 10  # empty scenario rows below the quoted ones, every formula in place
FIRST_ROW = 5           # first scenario row
CATALOG_SPARE_ROWS = 200  # rows below each catalog table that its named ranges already cover

#: The worked scenarios of a quote built without a scenarios CSV. The first three are the
#: research notes' comparison (a 7B and a 13B model against GPT-4); the rest stress the
#: formulas: GQA and multi-GPU, FP8, MoE, MLA, sliding window with int4, GGUF on llama.cpp,
#: Apple, an API-only row and a model that does not fit.
DEFAULT_SCENARIOS = (
    dict(scenario="Llama 2 7B chat on one A100 40GB", model="llama-2-7b", hardware="a100-40gb",
         input_tokens=1000, output_tokens=500, batch=8, requests_per_month=1_000_000),
    dict(scenario="Llama 2 13B chat on one A100 40GB", model="llama-2-13b", hardware="a100-40gb",
         input_tokens=1000, output_tokens=500, batch=8, requests_per_month=1_000_000),
    dict(scenario="GPT-4 API, 500-token answers (research notes)", model="gpt-4", hardware="a100-40gb",
         input_tokens=0, output_tokens=500, requests_per_month=1_000_000, latency_s=3.5, price_per_hour=2.5),
    dict(scenario="Llama 3.1 70B FP8 on 4x H100", model="llama-3.1-70b", hardware="h100-sxm", gpus=4,
         precision="fp8", input_tokens=2000, output_tokens=400, batch=32, requests_per_month=5_000_000),
    dict(scenario="Mixtral 8x7B (MoE) on 2x A100 80GB", model="mixtral-8x7b", hardware="a100-80gb", gpus=2,
         input_tokens=1000, output_tokens=300, batch=16, requests_per_month=2_000_000),
    dict(scenario="DeepSeek-V3 (MLA, MoE) FP8 on 8x H200", model="deepseek-v3", hardware="h200", gpus=8,
         precision="fp8", input_tokens=3000, output_tokens=600, batch=32, requests_per_month=3_000_000),
    dict(scenario="Gemma 2 27B int4 on one L40S", model="gemma-2-27b", hardware="l40s", precision="int4",
         input_tokens=6000, output_tokens=500, batch=4, requests_per_month=500_000),
    dict(scenario="Llama 3 8B Q4_K_M on an RTX 4090", model="llama-3-8b", hardware="rtx-4090",
         precision="q4_k_m", input_tokens=800, output_tokens=300, requests_per_month=100_000),
    dict(scenario="Llama 3 8B Q4_0 on a Mac (M2 Max, owned)", model="llama-3-8b", hardware="apple-m2-max",
         precision="q4_0", input_tokens=500, output_tokens=200, requests_per_month=50_000),
    dict(scenario="GPT-4o API only", model="gpt-4o", input_tokens=2000, output_tokens=400,
         requests_per_month=1_000_000),
    dict(scenario="Llama 3.1 405B FP16 on one A100 80GB (does not fit)", model="llama-3.1-405b",
         hardware="a100-80gb", input_tokens=1000, output_tokens=200, requests_per_month=100_000),
)

def _put_formula(ws, row: int, col: int, formula: str, style: str | None = None, fmt: str | None = None):
    cell = ws.cell(row=row, column=col)
    cell.value = formula
    if style:
        cell.style = style
    if fmt:
        cell.number_format = fmt
    return cell


def _put_value(ws, row: int, col: int, value: Any, style: str | None = None, fmt: str | None = None):
    """A value, never a formula: text starting with = + - @ TAB CR LF stays text."""
    from openpyxl.cell.cell import TYPE_STRING

    cell = ws.cell(row=row, column=col)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = TYPE_STRING
    if style:
        cell.style = style
    if fmt:
        cell.number_format = fmt
    return cell


# --- the catalog sheets --------------------------------------------------------------------------

def _catalog_fields(cat: Catalog, group: str) -> list[str]:
    from .catalog import ApiModel, Engine, Hardware, Model, Precision

    if group == "models":
        fields = ["id", "kind"]
        for cls in (Model, ApiModel):
            for f in dataclasses.fields(cls):
                if f.name not in fields:
                    fields.append(f.name)
        return fields
    cls = {"hardware": Hardware, "engines": Engine, "precisions": Precision}[group]
    return [f.name for f in dataclasses.fields(cls)]


def _cell_of(value: Any) -> Any:
    if isinstance(value, tuple):
        return "; ".join(value)
    return value


def _write_catalog(wb, cat: Catalog, group: str, sheet: str, prefix: str, table_name: str) -> int:
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.table import Table, TableStyleInfo

    ws = wb.create_sheet(sheet)
    fields = _catalog_fields(cat, group)
    entries = cat.entries("models") + cat.entries("api_models") if group == "models" else cat.entries(group)
    for c, name in enumerate(fields, start=1):
        _put_value(ws, 1, c, name, "Header")
    for r, entry in enumerate(entries, start=2):
        for c, name in enumerate(fields, start=1):
            value = entry.kind if name == "kind" else getattr(entry, name, None)
            _put_value(ws, r, c, _cell_of(value), "Input")
    last = len(entries) + 1
    ref = f"A1:{get_column_letter(len(fields))}{last}"
    table = Table(displayName=table_name, ref=ref)
    table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
    ws.add_table(table)
    ws.freeze_panes = "B2"
    for c, name in enumerate(fields, start=1):
        ws.column_dimensions[get_column_letter(c)].width = max(10, min(40, len(name) + 4))
        _define(wb, f"{prefix}_{name}", f"'{sheet}'!${get_column_letter(c)}$2:${get_column_letter(c)}$"
                                        f"{last + CATALOG_SPARE_ROWS}")
    return len(entries)


def _write_built(wb, cat: Catalog) -> None:
    """A hidden record of the catalog values as built, so that `refresh` can tell a user's edit
    (a cell that differs from it) from a catalog update (the shipped value changed)."""
    ws = wb.create_sheet("Built")
    ws.sheet_state = "hidden"
    for c, h in enumerate(("sheet", "id", "field", "value"), start=1):
        _put_value(ws, 1, c, h, "Header")
    r = 2
    for group, sheet in CATALOG_SHEETS.items():
        entries = cat.entries("models") + cat.entries("api_models") if group == "models" else cat.entries(group)
        for e in entries:
            for name in _catalog_fields(cat, group):
                value = e.kind if name == "kind" else _cell_of(getattr(e, name, None))
                for c, v in enumerate((sheet, e.id, name, value), start=1):
                    _put_value(ws, r, c, v)
                r += 1


CATALOG_SHEETS = {"models": "Models", "hardware": "Hardware", "engines": "Engines", "precisions": "Precisions"}


def _define(wb, name: str, ref: str) -> None:
    from openpyxl.workbook.defined_name import DefinedName

    wb.defined_names[name] = DefinedName(name, attr_text=ref)


# --- the scenario and calculation sheets ------------------------------------------------------------

def _letters(n: int) -> list[str]:
    from openpyxl.utils import get_column_letter
    return [get_column_letter(i) for i in range(1, n + 1)]


class _Layout:
    """Where each input, output and calculation lives."""

    def __init__(self):
        self.calc = F.columns()
        letters = _letters(len(F.INPUTS) + 1 + len(F.OUTPUTS) + len(self.calc) + 5)
        self.input_col = {k: letters[i] for i, k in enumerate(F.INPUT_KEYS)}
        self.check_col = letters[len(F.INPUTS)]
        self.output_col = {k: letters[len(F.INPUTS) + 1 + i] for i, k in enumerate(F.OUTPUT_KEYS)}
        self.calc_col = {c.key: letters[i] for i, c in enumerate(self.calc)}
        fits = [self.calc_col[f"fits_{g}"] for g in F.GPU_CANDIDATES]
        self.fits_range = (fits[0], fits[-1])
        self._renderers: dict = {}

    def ref(self, key: str, row: int | str, sheet: str) -> str:
        if key in self.input_col:
            return f"{'' if sheet == 'Scenarios' else 'Scenarios!'}${self.input_col[key]}{row}"
        if key == "check":
            return f"{'' if sheet == 'Scenarios' else 'Scenarios!'}${self.check_col}{row}"
        if key == "fits_range":
            a, b = self.fits_range
            return f"{'' if sheet == 'Calc' else 'Calc!'}${a}{row}:${b}{row}"
        return f"{'' if sheet == 'Calc' else 'Calc!'}${self.calc_col[key]}{row}"

    def render(self, template: str, row: int, sheet: str) -> str:
        return self.renderer(template, sheet)(row)

    def renderer(self, template: str, sheet: str):
        """A function of the row number giving the formula: the template is parsed once, not per row."""
        key = (template, sheet)
        if key not in self._renderers:
            text = re.sub(r"\{(\w+)\}", lambda m: self.ref(m.group(1), ROW_TOKEN, sheet), template)
            self._renderers[key] = lambda row, text=text: text.replace(ROW_TOKEN, str(row))
        return self._renderers[key]


def scenario_headers() -> dict[str, str]:
    """The Scenarios sheet's header text of each input (how `refresh` finds the columns again)."""
    return {key: header if default is None else f"{header} (empty: {default:g})" for key, header, default in F.INPUTS}


def _write_scenarios(wb, layout: _Layout, scenarios: list[dict[str, Any]]) -> int:
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.styles import PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    ws = wb.create_sheet("Scenarios")
    _put_value(ws, 1, 1, "Scenarios", "Title")
    _put_value(ws, 2, 1, "Blue cells on yellow are inputs: change them, add rows below. Empty cells take the "
                         "default shown in the header. Green cells are results linked from the Calc sheet.", "Note")
    n_in = len(F.INPUTS)
    _put_value(ws, 3, 1, "Inputs", "Header")
    _put_value(ws, 3, n_in + 1, "Check", "Header")
    _put_value(ws, 3, n_in + 2, "Results (memory GiB over all GPUs; money USD)", "Header")
    for i, label in enumerate(scenario_headers().values(), start=1):
        _put_value(ws, HEADER_ROW, i, label, "Header")
    _put_value(ws, HEADER_ROW, n_in + 1, "Check", "Header")
    fmts = {}
    for i, (key, header, fmt, _, _) in enumerate(F.OUTPUTS, start=n_in + 2):
        _put_value(ws, HEADER_ROW, i, header, "Header")
        fmts[key] = fmt
    rows = list(scenarios) + [{}] * SPARE_SCENARIO_ROWS  # spare rows: formulas ready, blank until filled
    last = FIRST_ROW + len(rows) - 1
    for r, scenario in enumerate(rows, start=FIRST_ROW):
        for c, key in enumerate(F.INPUT_KEYS, start=1):
            value = scenario.get(key)
            _put_value(ws, r, c, value, "Input", "#,##0" if isinstance(value, (int, float)) and key.endswith(
                ("tokens", "month", "gpus", "batch")) else None)
        _put_formula(ws, r, n_in + 1, "=" + layout.render(F.CHECK, r, "Scenarios"), "Calculation")
        for c, (key, header, fmt, expr, na) in enumerate(F.OUTPUTS, start=n_in + 2):
            formula = (f'=IF(OR({{model}}="",{{check}}<>""),"",IF({na},"n/a",IFERROR({expr},"n/a")))')
            _put_formula(ws, r, c, layout.render(formula, r, "Scenarios"), "Link", fmt)
    # dropdowns fed by the catalog tables
    for key, name in (("model", "m_id"), ("hardware", "h_id"), ("precision", "p_id"), ("engine", "e_id"),
                      ("kv_precision", "p_id")):
        dv = DataValidation(type="list", formula1=f"={name}", allow_blank=True, showErrorMessage=True,
                            errorTitle="Not in the catalog", error=f"Pick a {key.replace('_', ' ')} from the list.")
        ws.add_data_validation(dv)
        col = layout.input_col[key]
        dv.add(f"{col}{FIRST_ROW}:{col}{last + 200}")
    for key in ("gpus", "input_tokens", "output_tokens", "batch", "requests_per_month", "context_tokens"):
        dv = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                            showErrorMessage=True, errorTitle="Not a number", error="Enter a number >= 0.")
        ws.add_data_validation(dv)
        col = layout.input_col[key]
        dv.add(f"{col}{FIRST_ROW}:{col}{last + 200}")
    fits_col = layout.output_col["fits"]
    red = PatternFill("solid", fgColor="F8CBAD")
    ws.conditional_formatting.add(f"{fits_col}{FIRST_ROW}:{fits_col}{last + 200}",
                                  FormulaRule(formula=[f"${fits_col}{FIRST_ROW}=FALSE"], fill=red))
    check_col = layout.check_col
    ws.conditional_formatting.add(f"{check_col}{FIRST_ROW}:{check_col}{last + 200}",
                                  FormulaRule(formula=[f'${check_col}{FIRST_ROW}<>""'], fill=red))
    widths = {"scenario": 44, "model": 16, "hardware": 14}
    for key, col in layout.input_col.items():
        ws.column_dimensions[col].width = widths.get(key, 12)
    ws.column_dimensions[layout.check_col].width = 28
    for key, col in layout.output_col.items():
        ws.column_dimensions[col].width = 14
    ws.row_dimensions[HEADER_ROW].height = 64
    ws.freeze_panes = f"C{FIRST_ROW}"
    ws.print_title_rows = f"3:{HEADER_ROW}"
    ws.print_title_cols = "A:A"
    return last


def _write_calc(wb, layout: _Layout, n_rows: int) -> None:
    ws = wb.create_sheet("Calc")
    _put_value(ws, 1, 1, "Calculation: one column per quantity, one row per scenario (rows match Scenarios).",
               "Title")
    _put_value(ws, 2, 1, "Every number here is a formula; change inputs on Scenarios, Assumptions or the catalog "
                         "sheets. Rows that do not apply show 0.", "Note")
    for i, c in enumerate(layout.calc, start=1):
        _put_value(ws, 3, i, c.key, "Note")
        _put_value(ws, HEADER_ROW, i, c.header or c.key, "Header")
    renderers = [layout.renderer(f"IFERROR({c.formula},0)" if c.guard else c.formula, "Calc") for c in layout.calc]
    assert ws.max_row == HEADER_ROW  # rows are appended from FIRST_ROW on
    for r in range(FIRST_ROW, FIRST_ROW + n_rows):
        ws.append(["=" + render(r) for render in renderers])  # default style: black, as formulas are
    ws.freeze_panes = f"A{FIRST_ROW}"
    ws.row_dimensions[HEADER_ROW].height = 45
    for col in layout.calc_col.values():
        ws.column_dimensions[col].width = 13


# --- cover, assumptions, quote, sources ---------------------------------------------------------------

def _write_assumptions(wb) -> None:

    ws = wb.create_sheet("Assumptions")
    _put_value(ws, 1, 1, "Assumptions", "Title")
    _put_value(ws, 2, 1, "One assumption per cell, with its unit and source. Blue cells are inputs.", "Note")
    for c, h in enumerate(("Name", "Value", "Unit", "Source", "As of"), start=1):
        _put_value(ws, 4, c, h, "Header")
    for r, (name, value, unit, source) in enumerate(F.ASSUMPTIONS, start=5):
        _put_value(ws, r, 1, name)
        _put_value(ws, r, 2, value, "Input")
        _put_value(ws, r, 3, unit)
        _put_value(ws, r, 4, source)
        _put_value(ws, r, 5, F.ASSUMPTION_DATES.get(name, F.CHECKED))
        _define(wb, name, f"Assumptions!$B${r}")
    _put_value(ws, 4, 7, "GPU counts tried", "Header")
    for i, g in enumerate(F.GPU_CANDIDATES, start=5):
        _put_value(ws, i, 7, g)
    _define(wb, "gpu_candidates", f"Assumptions!$G$5:$G${4 + len(F.GPU_CANDIDATES)}")
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 14
    ws.column_dimensions["C"].width = 16
    ws.column_dimensions["D"].width = 90
    ws.column_dimensions["E"].width = 12
    ws.column_dimensions["G"].width = 16
    _print_setup(ws)


def _fill_cover(ws, values: dict[str, Any], n_scen: int) -> None:
    """Replace the template's {placeholders} on the Cover sheet."""
    last = 4 + n_scen
    summary = (f'=IFERROR(COUNTIF(Scenarios!$B${FIRST_ROW}:$B${FIRST_ROW + n_scen - 1},"?*")&" scenarios: "'
               f'&TEXT(Quote!$E${last + 1},"#,##0")&" "&currency'
               f'&" a month as quoted; the same traffic on "&compare_api_model&" would cost "'
               f'&TEXT(Quote!$G${last + 1},"#,##0")&" "&currency&".","")')
    for row in ws.iter_rows():
        for cell in row:
            if not isinstance(cell.value, str) or "{" not in cell.value:
                continue
            key = cell.value.strip()[1:-1] if cell.value.strip().startswith("{") else None
            if key == "summary":
                cell.value = summary
            elif key in values:
                cell.value = values[key]
                if isinstance(values[key], str):
                    cell.data_type = "s"  # a client name starting with "=" stays text
            else:
                text = cell.value
                for k, v in values.items():
                    text = text.replace("{" + k + "}", str(v))
                _put_value(ws, cell.row, cell.column, text)


def _write_quote(wb, layout: _Layout, n_scen: int, n_charted: int) -> None:
    from openpyxl.chart import BarChart, Reference

    ws = wb.create_sheet("Quote", 1)
    _put_value(ws, 1, 1, "Quote: monthly cost per scenario, self-hosted or API", "Title")
    _put_formula(ws, 2, 1, '="Compared with the API model "&compare_api_model&" (Assumptions); money in "&currency'
                           '&" at "&TEXT(fx_rate,"0.0000")&" per USD."', "Note")
    headers = ("Scenario", "Model", "Hardware", "Requests per month", "Monthly cost", "Cost per request",
               "API monthly cost", "Break-even requests per month", "Cheaper")
    for c, h in enumerate(headers, start=1):
        _put_value(ws, 4, c, h, "Header")
    api_cost = ("((Scenarios!{r_in}*INDEX(m_input_usd_per_mtok,MATCH(compare_api_model,m_id,0))"
                "+Scenarios!{r_out}*INDEX(m_output_usd_per_mtok,MATCH(compare_api_model,m_id,0)))/1000000)")
    for i in range(n_scen):
        r, s = 5 + i, FIRST_ROW + i
        sc = lambda key: f"Scenarios!${layout.input_col[key]}{s}"  # noqa: E731
        out = lambda key: f"Scenarios!${layout.output_col[key]}{s}"  # noqa: E731
        calc = lambda key: f"Calc!${layout.calc_col[key]}{s}"  # noqa: E731
        blank = f'{sc("model")}=""'
        _put_formula(ws, r, 1, f'=IF({sc("scenario")}="",{sc("model")}&"",{sc("scenario")})', "Link")
        _put_formula(ws, r, 2, f"={sc('model')}&\"\"", "Link")
        _put_formula(ws, r, 3, f'=IF({blank},"",IF({sc("hardware")}="","(API)",{sc("hardware")}))', "Link")
        _put_formula(ws, r, 4, f'=IF({blank},"",N({sc("requests_per_month")}))', "Link", "#,##0")
        _put_formula(ws, r, 5, f'=IF({blank},"",IF({out("fits")}=FALSE,"does not fit",'
                               f'IF(ISNUMBER({out("monthly_cost_usd")}),{out("monthly_cost_usd")}*fx_rate,"n/a")))',
                     "Link", "#,##0")
        _put_formula(ws, r, 6, f'=IF({blank},"",IF(ISNUMBER({out("cost_per_request_usd")}),'
                               f'{out("cost_per_request_usd")}*fx_rate,"n/a"))', "Link", "#,##0.000000")
        unit_api = api_cost.format(r_in=f"${layout.calc_col['prompt']}{s}".replace("$", "Calc!$", 1),
                                   r_out=f"${layout.calc_col['output']}{s}".replace("$", "Calc!$", 1))
        unit_api = unit_api.replace("Scenarios!Calc!", "Calc!")
        _put_formula(ws, r, 7, f'=IF({blank},"",IFERROR(D{r}*{unit_api}*fx_rate,"n/a"))', "Calculation", "#,##0")
        # one always-on deployment over the API's price of one request, when it fits its capacity
        dep, cap = calc("deployment"), calc("capacity")
        _put_formula(ws, r, 8, f'=IF({blank},"",IF(OR({calc("is_api")},NOT({calc("has_hw")}),NOT({calc("price_known")}),'
                               f'NOT({calc("latency_known")})),"n/a",IFERROR(IF({dep}/{unit_api}<={cap},'
                               f'{dep}/{unit_api},"never"),"n/a")))', "Calculation", "#,##0")
        _put_formula(ws, r, 9, f'=IF({calc("is_api")},"",IF(AND(ISNUMBER(E{r}),ISNUMBER(G{r})),'
                               f'IF(E{r}<=G{r},"self-hosted","API"),""))', "Calculation")
    total = 5 + n_scen
    _put_value(ws, total, 1, "Total", "Header")
    for c in (4, 5, 7):
        col = "DEFG"[c - 4]
        _put_formula(ws, total, c, f"=SUM({col}5:{col}{total - 1})", "Calculation", "#,##0")
    for c, w in zip("ABCDEFGHI", (46, 16, 14, 14, 16, 16, 16, 18, 12)):
        ws.column_dimensions[c].width = w
    ws.row_dimensions[4].height = 30
    ws.print_title_rows = "4:4"
    ws.freeze_panes = "B5"
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Monthly cost per scenario"
    chart.y_axis.title = "per month"
    data = Reference(ws, min_col=5, min_row=4, max_row=4 + n_charted)
    api = Reference(ws, min_col=7, min_row=4, max_row=4 + n_charted)
    cats = Reference(ws, min_col=1, min_row=5, max_row=4 + n_charted)
    chart.add_data(data, titles_from_data=True)
    chart.add_data(api, titles_from_data=True)
    chart.set_categories(cats)
    chart.height, chart.width = 11, 24
    ws.add_chart(chart, f"A{total + 3}")
    _print_setup(ws)


def _write_sources(wb, cat: Catalog) -> None:
    ws = wb.create_sheet("Sources")
    _put_value(ws, 1, 1, "Sources of every catalog number and default", "Title")
    for c, h in enumerate(("Catalog", "Id", "Source", "As of", "Price source", "Price as of"), start=1):
        _put_value(ws, 3, c, h, "Header")
    r = 4
    for group in ("models", "api_models", "hardware", "engines", "precisions"):
        for e in cat.entries(group):
            values = (group, e.id, e.source, e.as_of, getattr(e, "price_source", ""), getattr(e, "price_as_of", ""))
            for c, v in enumerate(values, start=1):
                _put_value(ws, r, c, v)
            r += 1
    for name, _, unit, source in F.ASSUMPTIONS:
        for c, v in enumerate(("assumption", name, source, "", "", ""), start=1):
            _put_value(ws, r, c, v)
        r += 1
    for c, w in zip("ABCDEF", (12, 22, 110, 12, 60, 12)):
        ws.column_dimensions[c].width = w
    ws.freeze_panes = "A4"


#: Pages across a sheet prints on (fit to width); the rest print one page wide.
PRINT_WIDTH_PAGES = {"Scenarios": 3, "Calc": 8, "Models": 2, "Sources": 1}


def _print_setup(ws, landscape: bool = True) -> None:
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = PRINT_WIDTH_PAGES.get(ws.title, 1)
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = False


def _function_examples(rows: list[dict[str, Any]], layout: _Layout) -> list[tuple[str, str, Any, str | None]]:
    """(what, formula, expected value, native result cell) for the Functions sheet."""
    from . import udfs  # the functions themselves give the expected values, as Excel will

    def q(v):
        return f'"{v}"' if isinstance(v, str) else ("" if v is None else f"{v:g}")

    examples = [
        ("Cost of one GPT-4o request (1,000 in, 500 out)", 'LLM_COST("gpt-4o",1000,500)',
         udfs.LLM_COST("gpt-4o", 1000.0, 500.0), None),
        ("Does Llama 2 70B fit one A100 40GB?", 'LLM_FITS("llama-2-70b","a100-40gb")',
         udfs.LLM_FITS("llama-2-70b", "a100-40gb"), None),
        ("GiB Llama 3 8B needs in fp16", 'LLM_MEMORY("llama-3-8b")', udfs.LLM_MEMORY("llama-3-8b"), None),
        ("H100 SXM price per GPU-hour in the catalog", 'LLM_INFO("h100-sxm","price_usd_per_hour")',
         udfs.LLM_INFO("h100-sxm", "price_usd_per_hour"), None),
        ("Requests a month above which Llama 3 8B on an L4 beats GPT-4o",
         'LLM_BREAKEVEN("gpt-4o","llama-3-8b","l4",1000,500)',
         udfs.LLM_BREAKEVEN("gpt-4o", "llama-3-8b", "l4", 1000.0, 500.0), None),
    ]
    for i, row in enumerate(rows[:6]):
        r = FIRST_ROW + i
        args = [f"Scenarios!${layout.input_col[k]}{r}" for k in
                ("model", "input_tokens", "output_tokens", "hardware", "gpus", "batch", "precision", "engine",
                 "latency_s", "price_per_hour")]
        expected = udfs.LLM_COST(*[row.get(k) for k in ("model", "input_tokens", "output_tokens", "hardware", "gpus",
                                                        "batch", "precision", "engine", "latency_s",
                                                        "price_per_hour")])
        examples.append((f"Cost per request of scenario: {row.get('scenario') or row.get('model')}",
                         f"LLM_COST({','.join(args)})", expected,
                         f"Scenarios!${layout.output_col['cost_per_request_usd']}{r}"))
    return examples


def _write_functions(wb, layout: _Layout, rows: list[dict[str, Any]]) -> None:
    ws = wb.create_sheet("Functions")
    _put_value(ws, 1, 1, "Excel functions (=LLM_COST() and the rest): live examples", "Title")
    _put_value(ws, 2, 1, "These cells call the llmcalc-xl functions. They compute in Windows desktop Excel once the "
                         "xlwings add-in is installed and 'Import Functions' has run (README, 'In Excel'; save as "
                         ".xlsm). Elsewhere they show #NAME?; the rest of the workbook needs no add-in.", "Note")
    for c, h in enumerate(("What", "Formula", "Live result", "Expected (llmcalc-xl)", "Native workbook result"),
                          start=1):
        _put_value(ws, 4, c, h, "Header")
    for r, (what, formula, expected, native) in enumerate(_function_examples(rows, layout), start=5):
        _put_value(ws, r, 1, what)
        _put_value(ws, r, 2, "=" + formula)
        _put_formula(ws, r, 3, "=" + formula, "Calculation")
        _put_value(ws, r, 4, expected)
        if native:
            _put_formula(ws, r, 5, "=" + native, "Link")
    for c, w in zip("ABCDE", (60, 70, 16, 22, 24)):
        ws.column_dimensions[c].width = w


# --- the builder ---------------------------------------------------------------------------------------

def scenarios_for_build(rows: Iterable[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [dict(r) for r in (rows if rows is not None else DEFAULT_SCENARIOS)]


def load_template(path: str | Path | None = None):
    """The template workbook (default: the shipped one), with every house style present."""
    from .template import default_styles, default_template_path

    path = Path(path) if path else default_template_path()
    if not path.exists():
        raise InvalidValueError(f"Template '{path}' does not exist. Give a copy of templates/quote.xlsx.")
    wb = open_workbook(path, "Template")
    if "Cover" not in wb.sheetnames:
        raise InvalidValueError(f"Template '{path}' has no Cover sheet. Start from a copy of templates/quote.xlsx.")
    have = set(wb.named_styles)
    for style in default_styles():
        if style.name not in have:
            wb.add_named_style(style)
    return wb


def build_workbook(scenarios: Iterable[dict[str, Any]] | None = None, *, catalog: Catalog | Iterable[str] | None = None,
                   title: str = "LLM inference quote", client: str = "", prepared_by: str = "",
                   as_of: _dt.date | None = None, template: str | Path | None = None, with_functions: bool = False):
    """The quote as an openpyxl Workbook (not saved), filled into the template."""
    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog or ())
    rows = scenarios_for_build(scenarios)
    wb = load_template(template)
    ours = {"Quote", "Scenarios", "Assumptions", "Models", "Hardware", "Engines", "Precisions", "Calc", "Sources",
            "Built", "Functions"}
    for name in list(wb.sheetnames):
        if name in ours:
            del wb[name]
    extra = [ws.title for ws in wb.worksheets if ws.title != "Cover"]
    layout = _Layout()
    _write_assumptions(wb)
    _write_scenarios(wb, layout, rows)
    _write_calc(wb, layout, len(rows) + SPARE_SCENARIO_ROWS)
    _write_catalog(wb, cat, "models", "Models", "m", "ModelsTable")
    _write_catalog(wb, cat, "hardware", "Hardware", "h", "HardwareTable")
    _write_catalog(wb, cat, "engines", "Engines", "e", "EnginesTable")
    _write_catalog(wb, cat, "precisions", "Precisions", "p", "PrecisionsTable")
    _write_quote(wb, layout, len(rows) + SPARE_SCENARIO_ROWS, max(len(rows), 1))
    _write_sources(wb, cat)
    _write_built(wb, cat)
    if with_functions:
        _write_functions(wb, layout, rows)
    _fill_cover(wb["Cover"], {"title": title, "client": client, "prepared_by": prepared_by,
                              "as_of": as_of or _dt.date.today(), "version": f"llmcalc-xl {__version__}"},
                len(rows) + SPARE_SCENARIO_ROWS)
    order = ["Cover", "Quote", "Scenarios", "Assumptions", "Models", "Hardware", "Engines", "Precisions", "Calc",
             "Functions", "Sources", "Built"] + extra
    wb._sheets.sort(key=lambda ws: order.index(ws.title))
    wb.active = 0
    for ws in wb.worksheets:
        if ws.title not in extra and ws.title != "Built":
            _print_setup(ws, landscape=ws.title != "Cover")
    wb.properties.title = title
    wb.properties.creator = prepared_by or "llmcalc-xl"
    return wb


#: Above this many scenario rows the zip is deflated at level 1: ~25% faster to save, ~30% larger.
FAST_SAVE_ROWS = 2000


def _save(wb, path: str) -> None:
    import zipfile

    from openpyxl.writer.excel import ExcelWriter

    big = "Calc" in wb.sheetnames and wb["Calc"].max_row > FAST_SAVE_ROWS
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=1 if big else 6) as archive:
        ExcelWriter(wb, archive).save()


def save_atomically(wb, out: Path, force: bool = False) -> Path:
    """Write to a temporary file beside ``out``, then rename: no half-written quote."""
    out = Path(out)
    if out.suffix.lower() != ".xlsx":
        raise InvalidValueError(f"Output '{out}' must end in .xlsx.")
    check_writable(out)  # before the existence test: a file open in Excel is refused even with --force
    if out.exists() and not force:
        raise InvalidValueError(f"'{out}' already exists. Add --force to replace it, or choose another --out.")
    with replacing(out) as tmp:
        _save(wb, str(tmp))
    return out
