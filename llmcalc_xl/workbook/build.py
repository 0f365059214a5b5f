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

import numpy as np
from typing import Any, Iterable

from .. import __version__
from . import formulas as F
from ..catalogs.loader import CALIBRATED_FIELDS, TIER_FIELDS, TIERS, Catalog, as_date, load_catalog
from ..cell_text import safe_text
from ..files import check_writable, open_workbook, replacing
from .template import style_name
from .forecast_sheets import compared, write_forecast, write_sensitivity
from ..errors import InvalidValueError
from ..core.cost import fleet_breakeven_parts, token_cost_usd
from ..core.estimate import NOT_RUNNING_KEYS, quote_day
from ..core.options import CHOICE_OPTIONS, OPTIONS
from .symbolic import Expr, Symbol, as_text, call, concat, count_if, if_error, is_number, literal, or_blank, sum_if
from .xlsx_writer import ROW_TOKEN, cells_of, fast_rows

HEADER_ROW = 4          # column headers of Scenarios and Calc
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
    dict(scenario="Llama 3 8B Q4_0 on a Mac Studio (M3 Ultra, owned)", model="llama-3-8b", hardware="apple-m3-ultra",
         precision="q4_0", input_tokens=500, output_tokens=200, requests_per_month=50_000),
    dict(scenario="GPT-4o API only", model="gpt-4o", input_tokens=2000, output_tokens=400,
         requests_per_month=1_000_000),
    dict(scenario="Llama 3.1 405B FP16 on one A100 80GB (does not fit)", model="llama-3.1-405b",
         hardware="a100-80gb", input_tokens=1000, output_tokens=200, requests_per_month=100_000),
)

def _put_formula(ws, row: int, col: int, formula: str, style: str | None = None, fmt: str | None = None):
    if (cells := cells_of(ws, row)) is not None:  # a big sheet's rows: written at save, with values
        return cells.formula(row, col, formula, style_name(style) if style else None, fmt)
    formula = formula.replace(ROW_TOKEN, str(row))
    cell = ws.cell(row=row, column=col)
    cell.value = formula
    if style:
        cell.style = style_name(style)
    if fmt:
        cell.number_format = fmt
    return cell


def _put_value(ws, row: int, col: int, value: Any, style: str | None = None, fmt: str | None = None):
    """A value, never a formula: text starting with = + - @ TAB CR LF stays text."""
    from openpyxl.cell.cell import TYPE_STRING

    if (cells := cells_of(ws, row)) is not None:
        return cells.value(row, col, value, style_name(style) if style else None, fmt)
    cell = ws.cell(row=row, column=col)
    cell.value = safe_text(value)  # cell_text: characters XML cannot hold made safe
    if isinstance(value, str):
        cell.data_type = TYPE_STRING
    if style:
        cell.style = style_name(style)
    if fmt:
        cell.number_format = fmt
    return cell


# --- the catalog sheets --------------------------------------------------------------------------

def _catalog_fields(group: str) -> list[str]:
    from ..catalogs.loader import ApiModel, Engine, Hardware, Model, Precision

    if group == "models":
        fields = ["id", "kind"]
        for model_cls in (Model, ApiModel):
            for f in dataclasses.fields(model_cls):
                if f.name not in fields and "table" not in f.metadata and "mapping" not in f.metadata:  # a price schedule is no cell
                    fields.append(f.name)
        return fields
    cls = {"hardware": Hardware, "engines": Engine, "precisions": Precision}[group]
    fields = [f.name for f in dataclasses.fields(cls) if "table" not in f.metadata and "mapping" not in f.metadata]
    if group == "hardware":  # each tier's default price beside the on-demand one (the Prices sheet lists them all)
        at = fields.index("price_usd_per_hour") + 1
        fields[at:at] = [TIER_FIELDS[t] for t in TIERS[1:]]
    return fields


def _cell_of(value: Any) -> Any:
    if isinstance(value, tuple):
        return "; ".join(value)
    return value


def _write_catalog(wb, cat: Catalog, group: str, sheet: str, prefix: str, table_name: str) -> int:
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.table import Table, TableStyleInfo

    ws = wb.create_sheet(sheet)
    fields = _catalog_fields(group)
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
            for name in _catalog_fields(group):
                value = e.kind if name == "kind" else _cell_of(getattr(e, name, None))
                for c, v in enumerate((sheet, e.id, name, value), start=1):
                    _put_value(ws, r, c, v)
                r += 1


def _write_names(wb, cat: Catalog) -> None:
    """Every name the command line accepts (ids and aliases, as matched: lower case, without
    spaces, hyphens or underscores) and the catalog id it stands for; the Calc sheet looks
    typed names up here, so "H100" or "Llama 3 70B" work in a cell as on the command line."""
    ws = wb.create_sheet("Names")
    _put_value(ws, 1, 1, "Names you can type, and the catalog id each stands for", "Title")
    _put_value(ws, 2, 1, "Matched without regard to case, spaces, hyphens or underscores. Generated from the "
                         "catalog; an id added on a catalog sheet is matched as typed.", "Note")
    for c, h in enumerate(("Key", "Id", "Catalog", "Implies precision", "Quantises"), start=1):
        _put_value(ws, 4, c, h, "Header")
    r = 5
    implied, scopes = cat.implied_precisions(), cat.checkpoint_scopes()
    for group, letter in (("models", "m"), ("hardware", "h"), ("engines", "e"), ("precisions", "p")):
        for key, rid in sorted(cat.names(group).items()):
            precision = implied.get(key) if group == "models" else None
            scope = (scopes.get(key) or "all") if precision else None
            for c, v in enumerate((f"{letter}:{key}", rid, CATALOG_SHEETS[group], precision, scope), start=1):
                _put_value(ws, r, c, v)
            r += 1
    _define(wb, "n_key", f"Names!$A$5:$A${r - 1}")
    _define(wb, "n_id", f"Names!$B$5:$B${r - 1}")
    _define(wb, "n_precision", f"Names!$D$5:$D${r - 1}")
    _define(wb, "n_scope", f"Names!$E$5:$E${r - 1}")
    for col, width in zip("ABCDE", (40, 28, 12, 16, 18)):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A5"


def _write_prices(wb, cat: Catalog) -> None:
    """Every published price of GPU time: device, provider, tier, USD per GPU-hour, the instance it was
    divided from, source and date. A scenario that names a provider takes its price from here (Key)."""
    from ..catalogs.loader import offer_key

    ws = wb.create_sheet("Prices")
    _put_value(ws, 1, 1, "Published prices of GPU time, per device, provider and tier", "Title")
    _put_value(ws, 2, 1, "A price per instance is divided by the GPUs in it. A scenario's Provider picks the row "
                         "of its hardware and tier; an empty Provider takes the tier's default (Default = TRUE), "
                         "which is also the Hardware sheet's price column of that tier.", "Note")
    headers = ("Key", "Hardware", "Provider", "Tier", "USD per GPU-hour", "Default", "Instance", "Instance USD per hour",
               "GPUs per instance", "Source", "As of", "Notes")
    for c, h in enumerate(headers, start=1):
        _put_value(ws, 4, c, h, "Header")
    r = 5
    for h in cat.entries("hardware"):
        for p in h.prices:
            chosen = h.price(p.tier)
            row = (offer_key(h.id, p.provider, p.tier), h.id, p.provider, p.tier, p.usd_per_gpu_hour, p is chosen,
                   p.instance or None, p.instance_usd_per_hour, p.gpus_per_instance, p.source, p.as_of, p.notes or None)
            for c, v in enumerate(row, start=1):
                _put_value(ws, r, c, v, fmt="0.0000" if c == 5 else None)
            r += 1
    last = max(r - 1, 5)
    _define(wb, "o_key", f"Prices!$A$5:$A${last}")
    _define(wb, "o_usd_per_gpu_hour", f"Prices!$E$5:$E${last}")
    for col, width in zip("ABCDEFGHIJKL", (34, 14, 14, 12, 12, 8, 16, 12, 10, 60, 11, 40)):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A5"


#: The Calibrations sheet's columns, in order, each with the [[calibrations]] field it holds (refresh reads the
#: sheet back through this): Key is the Calc sheet's lookup (no field); Engine and Hardware hold the catalog ids
#: as resolved.
CALIBRATION_COLUMNS: dict[str, str | None] = {
    "Key": None, "Id": "id", "Engine": "engine", "Hardware": "hardware", **{f: f for f in CALIBRATED_FIELDS},
    "Measurement": "measurement", "Source": "source", "As of": "as_of", "Notes": "notes"}


def _write_calibrations(wb, cat: Catalog) -> None:
    """The engines' efficiencies calibrated on one device (``llmcalc-xl calibrate``): where a scenario's engine
    runs on its device, the efficiencies given here replace the Engines sheet's (Key: c:engine:hardware)."""
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet("Calibrations")
    _put_value(ws, 1, 1, "Engine efficiencies calibrated on one device", "Title")
    _put_value(ws, 2, 1, "Fitted to a measurement by llmcalc-xl calibrate. Where a scenario's engine runs on its "
                         "hardware, an efficiency given here replaces the Engines sheet's; an empty cell keeps it.",
               "Note")
    headers = list(CALIBRATION_COLUMNS)
    for c, h in enumerate(headers, start=1):
        _put_value(ws, 4, c, h, "Header")
    r = 5
    for (engine_id, hardware_id), e in cat.calibrations().items():
        resolved = {"Key": calibration_key(engine_id, hardware_id), "Engine": engine_id, "Hardware": hardware_id}
        for c, (h, f) in enumerate(CALIBRATION_COLUMNS.items(), start=1):
            v = resolved[h] if h in resolved else getattr(e, str(f))
            _put_value(ws, r, c, None if v == "" else v, "Input" if f in CALIBRATED_FIELDS else None)
        r += 1
    # two rows at least where there is one: Gnumeric's INDEX of a one-cell range is #REF!, which dropped a
    # lone calibration (the row below stays empty)
    last = max(r - 1, 6) if r > 5 else 5
    column = {h: get_column_letter(c) for c, h in enumerate(headers, start=1)}
    _define(wb, "c_key", f"Calibrations!${column['Key']}$5:${column['Key']}${last}")
    for f in CALIBRATED_FIELDS:
        _define(wb, f"c_{f}", f"Calibrations!${column[f]}$5:${column[f]}${last}")
    for col, width in zip(column.values(), (34, 24, 14, 14, 12, 12, 12, 60, 40, 11, 40)):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A5"
    if not cat.calibrations():  # nothing to look up: the quote reads and prints as without the sheet
        ws.sheet_state = "hidden"


def calibration_key(engine_id: str, hardware_id: str) -> str:
    """How the Calc sheet looks a calibration up on the Calibrations sheet (ids as resolved)."""
    return f"c:{engine_id}:{hardware_id}"


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
        self.calc, self.outputs = F.calc_sheet()
        basic = [("in", k) for k in F.INPUT_KEYS if k not in F.ADVANCED_INPUTS]
        order = basic + [("check", "check")] + [("out", k) for k in F.OUTPUT_KEYS] + \
            [("in", k) for k in F.ADVANCED_INPUTS]
        letters = _letters(max(len(order), len(self.calc)))
        col = dict(zip(order, letters))
        self.input_col = {k: col["in", k] for k in F.INPUT_KEYS}
        self.check_col = col["check", "check"]
        self.output_col = {k: col["out", k] for k in F.OUTPUT_KEYS}
        self.width = len(order)
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
        return lambda row, text=self.template(template, sheet): text.replace(ROW_TOKEN, str(row))

    def template(self, template: str, sheet: str) -> str:
        """The formula with ROW_TOKEN standing for its row."""
        key = (template, sheet)
        if key not in self._renderers:
            self._renderers[key] = re.sub(r"\{(\w+)\}", lambda m: self.ref(m.group(1), ROW_TOKEN, sheet), template)
        return self._renderers[key]


def scenario_headers() -> dict[str, str]:
    """The Scenarios sheet's header text of each input (how `refresh` finds the columns again)."""
    def label(header, empty):
        if empty is None:
            return header
        return f"{header} (empty: {empty:g})" if isinstance(empty, (int, float)) else f"{header} (empty: {empty})"
    return {key: label(header, empty) for key, header, empty in F.INPUTS}


def _write_scenarios(wb, layout: _Layout, scenarios: list[dict[str, Any]]) -> int:
    from openpyxl.worksheet.datavalidation import DataValidation

    ws = wb.create_sheet("Scenarios")
    fast_rows(ws, FIRST_ROW)
    _put_value(ws, 1, 1, "Scenarios", "Title")
    _put_value(ws, 2, 1, "Blue cells on yellow are inputs: change them, add rows below. Empty cells take the "
                         "default shown in the header. Green cells are results linked from the Calc sheet: memory "
                         "in GiB over all GPUs, money in USD as the catalog. Right of the results, device, engine and owned-"
                         "hardware overrides (empty: the catalog's or the default in the header).", "Note")
    from openpyxl.utils import column_index_from_string as number_of

    def num(key, kind="in"):
        return number_of({"in": layout.input_col, "out": layout.output_col}[kind][key])

    _put_value(ws, 3, 1, "Inputs", "Header")
    _put_value(ws, 3, number_of(layout.check_col), "Check", "Header")
    _put_value(ws, 3, num(F.OUTPUT_KEYS[0], "out"), "Results",
               "Header")
    _put_value(ws, 3, num(F.ADVANCED_INPUTS[0]), "Overrides",
               "Header")
    for key, label in scenario_headers().items():
        _put_value(ws, HEADER_ROW, num(key), label, "Header")
    _put_value(ws, HEADER_ROW, number_of(layout.check_col), "Check", "Header")
    for key, header, *_ in F.OUTPUTS:
        _put_value(ws, HEADER_ROW, num(key, "out"), header, "Header")
    rows = list(scenarios) + [{}] * SPARE_SCENARIO_ROWS  # spare rows: formulas ready, blank until filled
    last = FIRST_ROW + len(rows) - 1
    check = layout.template(F.CHECK, "Scenarios")  # ROW_TOKEN stands for the row: one template per column
    expressions = layout.outputs
    no_input = (call("TRIM", F.ref("model")) == "") | (F.ref("problems") != "")

    def shown(key: str) -> Symbol:
        """An output as the Scenarios sheet shows it: empty without a model or with input problems."""
        value = if_error(Expr(expressions[key]), "n/a")
        if key in NOT_RUNNING_KEYS:
            value = np.where(F.ref("no_fit"), "does not fit", value)
        return np.where(no_input, "", value)

    outputs = [(num(key, "out"), layout.template(literal(shown(key)).text, "Scenarios"), fmt)
               for key, header, fmt in F.OUTPUTS]
    for r, scenario in enumerate(rows, start=FIRST_ROW):
        for key in F.INPUT_KEYS:
            value = scenario.get(key)
            _put_value(ws, r, num(key), value, "Input", "#,##0" if isinstance(value, (int, float)) and key.endswith(
                ("tokens", "month", "gpus", "batch")) else None)
        _put_formula(ws, r, number_of(layout.check_col), "=" + check, "Calculation")
        for c, template, fmt in outputs:
            _put_formula(ws, r, c, "=" + template, "Link", fmt)
    # dropdowns fed by the catalog tables; any name the catalog knows may be typed as well (the
    # Check column says when one is not known), so the list does not refuse other text
    for key, name in (("model", "m_id"), ("hardware", "h_id"), ("precision", "p_id"), ("engine", "e_id"),
                      ("kv_precision", "p_id")):
        dv = DataValidation(type="list", formula1=name, allow_blank=True, showErrorMessage=False)
        ws.add_data_validation(dv)
        col = layout.input_col[key]
        dv.add(f"{col}{FIRST_ROW}:{col}{last + 200}")
    for key, words in CHOICE_OPTIONS.items():  # a short list of words: offered, other text flagged by Check
        dv = DataValidation(type="list", formula1='"' + ",".join(words) + '"', allow_blank=True,
                            showErrorMessage=False)
        ws.add_data_validation(dv)
        col = layout.input_col[key]
        dv.add(f"{col}{FIRST_ROW}:{col}{last + 200}")
    for key in ("input_tokens", "cached_input_tokens", "output_tokens", "requests_per_month",
                "context_tokens"):  # not gpus nor batch: they also take a word (auto, max)
        dv = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                            showErrorMessage=True, errorTitle="Not a number", error="Enter a number >= 0.")
        ws.add_data_validation(dv)
        col = layout.input_col[key]
        dv.add(f"{col}{FIRST_ROW}:{col}{last + 200}")
    # No conditional formats on these rows: LibreOffice 7.4's PDF export crashes evaluating one
    # over cells with this many formulas behind them. The Check and result cells say in words
    # what is wrong.
    widths = {"scenario": 42, "model": 15, "hardware": 12}
    for key, col in layout.input_col.items():
        ws.column_dimensions[col].width = widths.get(key, 11)
    ws.column_dimensions[layout.check_col].width = 26
    for key, col in layout.output_col.items():
        ws.column_dimensions[col].width = 12
    ws.row_dimensions[HEADER_ROW].height = 80
    ws.freeze_panes = f"C{FIRST_ROW}"
    ws.print_title_rows = f"3:{HEADER_ROW}"
    ws.print_title_cols = "A:A"
    ws.print_area = f"A1:{layout.output_col[F.OUTPUT_KEYS[-1]]}{last}"
    return last


def _write_calc(wb, layout: _Layout, n_rows: int) -> None:
    ws = wb.create_sheet("Calc")
    _put_value(ws, 1, 1, "Calculation: one column per quantity, one row per scenario (rows match Scenarios).",
               "Title")
    _put_value(ws, 2, 1, "Every number here is a formula; change inputs on Scenarios, Assumptions or the catalog "
                         "sheets. #N/A: the quantity does not apply to the row (an API model has no weights to hold).", "Note")
    for i, c in enumerate(layout.calc, start=1):
        _put_value(ws, 3, i, c.key, "Note")
        _put_value(ws, HEADER_ROW, i, c.header or c.key, "Header")
    cells = fast_rows(ws, FIRST_ROW)
    for i, c in enumerate(layout.calc, start=1):  # default style: black, as formulas are
        cells.formula_rows(i, FIRST_ROW, n_rows, "=" + layout.template(c.formula, "Calc"))
    ws.freeze_panes = f"A{FIRST_ROW}"
    ws.row_dimensions[HEADER_ROW].height = 45
    for col in layout.calc_col.values():
        ws.column_dimensions[col].width = 13


# --- cover, assumptions, quote, sources ---------------------------------------------------------------

def _write_assumptions(wb, day: str) -> None:

    ws = wb.create_sheet("Assumptions")
    _put_value(ws, 1, 1, "Assumptions", "Title")
    _put_value(ws, 2, 1, "One assumption per cell, with its unit and source. Blue cells are inputs.", "Note")
    for c, h in enumerate(("Name", "Value", "Unit", "Source", "As of"), start=1):
        _put_value(ws, 4, c, h, "Header")
    for r, (name, value, unit, source) in enumerate(F.ASSUMPTIONS, start=5):
        _put_value(ws, r, 1, name)
        _put_value(ws, r, 2, day if name == "quote_date" else value, "Input")
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


#: Cover placeholders whose value is a formula (not text to keep as text).
FORMULA_PLACEHOLDERS = ("stale",)


def _fill_cover(ws, values: dict[str, Any], n_scen: int) -> None:
    """Replace the template's {placeholders} on the Cover sheet."""
    t = quote_total_row(n_scen)
    counted, left_out = rows_in_totals(f"Quote!$K${QUOTE_FIRST_ROW}:$K${t - 1}")
    currency = Expr("currency")
    summary = "=" + or_blank(concat(
        counted, " scenarios: ", as_text(Expr(f"Quote!$E${t}"), "#,##0"), " ", currency,
        " a month as quoted; the same traffic on ", Expr("compare_api_model"), " would cost ",
        as_text(Expr(f"Quote!$H${t}"), "#,##0"), " ", currency, ".",
        np.where(left_out > 0, concat(" ", left_out, " more left out: see the Quote sheet."), ""))).text
    for row in ws.iter_rows():
        for cell in row:
            if not isinstance(cell.value, str) or "{" not in cell.value:
                continue
            key = cell.value.strip()[1:-1] if cell.value.strip().startswith("{") else None
            if key == "summary":
                cell.value = summary
            elif key in FORMULA_PLACEHOLDERS and isinstance(values.get(key), str):
                cell.value = values[key]  # a formula
            elif key in values:
                cell.value = values[key]
                if isinstance(values[key], str):
                    cell.data_type = "s"  # a client name starting with "=" stays text
            else:
                text = cell.value
                for k, v in values.items():
                    text = text.replace("{" + k + "}", str(v))
                _put_value(ws, cell.row, cell.column, text)


def rows_in_totals(in_totals: str) -> tuple[Symbol, Symbol]:
    """How many rows the Quote's totals count and leave out, from its "In totals" cells ("yes", or
    "no: " and why)."""
    return count_if(in_totals, "yes"), count_if(in_totals, "no*")


#: The Quote sheet's columns: header (money headers get the currency), number format, style.
QUOTE_COLUMNS = (
    ("Scenario", None, "Link"),
    ("Model", None, "Link"),
    ("Hardware", None, "Link"),
    ("Requests per month", "#,##0", "Link"),
    ("Monthly cost", "#,##0", "Link"),
    ("Effective cost per request", "#,##0.0000", "Calculation"),
    ("Marginal cost per request", "#,##0.0000", "Link"),
    ("Same traffic on the API, monthly", "#,##0", "Calculation"),
    ("Break-even requests per month", "#,##0", "Calculation"),
    ("Cheaper", None, "Calculation"),
    ("In totals", None, "Calculation"),
    ("Own, monthly", "#,##0", "Link"),
    ("Rent, monthly", "#,##0", "Link"),
    ("Monthly cost, low (P10)", "#,##0", "Link"),
    ("Monthly cost, high (P90)", "#,##0", "Link"),
)
MONEY_COLUMNS = {"Monthly cost", "Effective cost per request", "Marginal cost per request",
                 "Same traffic on the API, monthly", "Own, monthly", "Rent, monthly", "Monthly cost, low (P10)",
                 "Monthly cost, high (P90)"}
#: First scenario row of the Quote sheet (headers on the row above): the Scenarios sheet's, so that
#: each row's formulas are one formula moved down, written once as a shared formula.
QUOTE_FIRST_ROW = FIRST_ROW


def quote_total_row(n_scen: int) -> int:
    return QUOTE_FIRST_ROW + n_scen


def _write_quote(wb, layout: _Layout, n_scen: int, n_charted: int) -> None:
    from openpyxl.chart import BarChart, Reference

    ws = wb.create_sheet("Quote", 1)
    first, total = QUOTE_FIRST_ROW, quote_total_row(n_scen)
    head = first - 1
    fast_rows(ws, first)
    _put_value(ws, 1, 1, "Quote: monthly cost per scenario, self-hosted or API", "Title")
    _put_formula(ws, 2, 1, "=" + concat("Money in ", Expr("currency"), " at ", as_text(Expr("fx_rate"), "0.0000"),
                                        " per USD. Each scenario is also priced on the API model ",
                                        Expr("compare_api_model"), " (Assumptions) for the same traffic.").text, "Note")
    _put_value(ws, 3, 1, "What each column means, and which rows the totals leave out: below the totals.", "Note")
    for c, (header, fmt, style) in enumerate(QUOTE_COLUMNS, start=1):
        if header in MONEY_COLUMNS:
            _put_formula(ws, head, c, f'="{header} ("&currency&")"', "Header")
        else:
            _put_value(ws, head, c, header, "Header")

    fx = Expr("fx_rate")
    for i in range(n_scen):
        r, s = first + i, FIRST_ROW + i

        def sc(key: str) -> Symbol:
            return Expr(f"Scenarios!${layout.input_col[key]}{s}")

        def out(key: str) -> Symbol:
            return Expr(f"Scenarios!${layout.output_col[key]}{s}")

        def calc(key: str) -> Symbol:
            return Expr(f"Calc!${layout.calc_col[key]}{s}")

        def here(col: str) -> Symbol:
            return Expr(f"{col}{r}")

        blank = call("TRIM", sc("model")) == ""
        problems = calc("problems") != ""
        unusable = blank | problems
        no_fit = calc("no_fit")
        needs = np.where(is_number(out("gpus_needed")), concat("needs ", out("gpus_needed"), " GPUs"),
                         f"no GPU count up to {max(F.GPU_CANDIDATES)}")
        # the compared API's price of one request of this scenario: the core's own token cost
        api_request = token_cost_usd(calc("prompt"), calc("cached"), calc("output"), compared("input_usd_per_mtok"),
                                     compared("cached_input_usd_per_mtok"), compared("output_usd_per_mtok"))
        monthly, requests, api_monthly = here("E"), here("D"), here("H")
        breakeven = fleet_breakeven_parts(calc("deployment"), api_request, calc("capacity"), calc("peak_ratio"),
                                          calc("spares"))
        values = [
            np.where(sc("scenario") == "", concat(sc("model"), ""), concat(sc("scenario"), "")),
            np.where(blank, "", concat(calc("model_id"), "")),
            np.where(blank, "", np.where(calc("has_hw"), np.where(calc("hardware_id") == "", "custom device",
                                                                  calc("hardware_id")), "(API)")),
            np.where(blank, "", np.where(is_number(sc("requests_per_month")), sc("requests_per_month"), 0)),
            np.where(blank, "", np.where(problems, "check inputs",
                                         np.where(no_fit, concat("does not fit: ", needs),
                                                  np.where(is_number(out("monthly_cost_usd")),
                                                           out("monthly_cost_usd") * fx, "n/a")))),
            np.where(is_number(monthly), np.where(requests > 0, monthly / requests, ""), ""),
            np.where(is_number(monthly) & is_number(out("cost_per_request_usd")), out("cost_per_request_usd") * fx, ""),
            np.where(unusable, "", call("IFERROR", requests * api_request * fx, "n/a")),
            # the always-on fleet's break-even (replicas for the peak plus the spares), as breakeven_many; an
            # autoscaled rented fleet's is found by steps no formula holds: LLM_BREAKEVEN or plan give it
            np.where(unusable, "", np.where(calc("is_api") | ~calc("has_hw") | no_fit | ~is_number(calc("deployment"))
                                            | ~is_number(calc("capacity")), "n/a", np.where(
                calc("autoscaled") & ~calc("owned"), "autoscaled: see LLM_BREAKEVEN", call("IFERROR", np.where(
                    breakeven[1], breakeven[0], "never"), "n/a")))),
            np.where(calc("is_api") | ~is_number(monthly) | ~is_number(api_monthly), "",
                     np.where(monthly <= api_monthly, "self-hosted", "API")),
            np.where(blank, "", np.where(is_number(monthly), "yes", np.where(
                problems, "no: see Check on Scenarios",
                np.where(no_fit, "no: does not fit", np.where(requests == 0, "no: no requests per month",
                                                               "no: no price or speed"))))),
            # own / rent side by side: the same fleet bought and rented, whatever the row's pricing
            *(np.where(unusable | calc("is_api") | ~calc("has_hw") | no_fit, "", np.where(
                is_number(out(key)), out(key) * fx, "n/a")) for key in ("owned_monthly_cost_usd",
                                                                      "rented_monthly_cost_usd")),
            # the monthly cost's error band: the low end is the fast side (fewer replicas), the high end the slow
            *(np.where(~is_number(monthly), "", np.where(is_number(out(key)), out(key) * fx, "n/a"))
              for key in ("monthly_cost_usd_p10", "monthly_cost_usd_p90")),
        ]
        texts = [literal(v).text for v in values]
        for c, (formula, (header, fmt, style)) in enumerate(zip(texts, QUOTE_COLUMNS), start=1):
            _put_formula(ws, r, c, "=" + formula, style, fmt)
    rng = lambda col: f"{col}{first}:{col}{total - 1}"  # noqa: E731
    _put_value(ws, total, 1, "Total (rows in totals)", "Header")
    for col in "DEHNO":
        _put_formula(ws, total, "ABCDEFGHIJKLMNO".index(col) + 1, "=" + sum_if(rng("K"), "yes", rng(col)).text,
                     "Calculation", "#,##0")
    requests_total, monthly_total = Expr(f"D{total}"), Expr(f"E{total}")
    _put_formula(ws, total, 6, "=" + literal(np.where(requests_total > 0, monthly_total / requests_total, "")).text,
                 "Calculation", "#,##0.0000")
    counted, left_out = rows_in_totals(rng("K"))
    _put_formula(ws, total + 1, 1, "=" + concat(counted, " of ", counted + left_out, " scenarios are in the totals; ",
                                                left_out, " left out (In totals says why).").text, "Note")
    _put_value(ws, total + 2, 1, "Monthly cost: always-on self-hosted replicas sized for the traffic (GPUs x price x "
                                 "hours a month each), or the API's bill for the traffic. Effective cost per request "
                                 "= monthly cost / requests, idle time of always-on GPUs included.", "Note")
    _put_value(ws, total + 3, 1, "Marginal cost per request: the GPU time (at the utilisation) and API tokens of one "
                                 "more request. Rows that do not fit, or whose inputs the Check column flags, are "
                                 "left out of the totals.", "Note")
    _put_value(ws, total + 4, 1, "Own: the row's self-hosted fleet bought (capex over its life, power, upkeep; the "
                                 "peak's replicas, all day). Rent: the same fleet at the catalog's rental price of the "
                                 "row's tier (following the day with autoscale).", "Note")
    _put_value(ws, total + 5, 1, "Own and Rent are shown whatever the row's own pricing; n/a where the catalog has no "
                                 "purchase price and power, or no rental price, for the hardware.", "Note")
    _put_value(ws, total + 6, 1, "Monthly cost, low and high: the range 8 in 10 deployments measured fall in (P10-P90 of "
                                 "the engine's measured / estimated throughput; README, Error bands). Low is the fast "
                                 "side: fewer replicas. Their totals add the rows' ends. API rows: the price list.",
               "Note")
    for col, width in zip("ABCDEFGHIJKLMNO", (46, 16, 14, 13, 26, 14, 14, 16, 15, 11, 16, 13, 13, 14, 14)):
        ws.column_dimensions[col].width = width
    ws.row_dimensions[head].height = 45
    ws.print_title_rows = f"{head}:{head}"
    ws.freeze_panes = f"B{first}"
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Monthly cost per scenario"
    chart.y_axis.title = "per month"
    data = Reference(ws, min_col=5, min_row=head, max_row=head + n_charted)
    api = Reference(ws, min_col=8, min_row=head, max_row=head + n_charted)
    cats = Reference(ws, min_col=1, min_row=first, max_row=head + n_charted)
    chart.add_data(data, titles_from_data=True)
    chart.add_data(api, titles_from_data=True)
    chart.set_categories(cats)
    chart.height, chart.width = 11, 24
    ws.add_chart(chart, f"A{total + 8}")
    _print_setup(ws)


def _write_sources(wb, cat: Catalog) -> None:
    """One row per group of numbers of each entry (specs, price, speed), with the source and date of
    whichever file set that group."""
    ws = wb.create_sheet("Sources")
    _put_value(ws, 1, 1, "Sources of every catalog number and default", "Title")
    _put_value(ws, 2, 1, "Each entry's specs, price and speed figures have their own source and date: a catalog file "
                         "that sets only a price leaves the specs with the source they came from.", "Note")
    for c, h in enumerate(("Catalog", "Id", "Numbers", "Source", "As of", "From"), start=1):
        _put_value(ws, 3, c, h, "Header")
    r = 4
    for group in ("models", "api_models", "hardware", "engines", "precisions", "calibrations"):
        for e in cat.entries(group):
            for p in cat.provenance(e):
                values = (group, e.id, p.group, p.source, p.as_of, "catalog" if p.file == "shipped" else p.file)
                for c, v in enumerate(values, start=1):
                    _put_value(ws, r, c, v)
                r += 1
    for name, _, unit, source in F.ASSUMPTIONS:
        for c, v in enumerate(("assumption", name, "", source, F.ASSUMPTION_DATES.get(name, F.CHECKED), ""), start=1):
            _put_value(ws, r, c, v)
        r += 1
    for option in (o for o in OPTIONS if o.source):
        for c, v in enumerate(("option default", option.name, f"{option.default_text}: {option.source}", "", "", ""),
                              start=1):
            _put_value(ws, r, c, v)
        r += 1
    for col, width in zip("ABCDEF", (12, 22, 9, 110, 12, 30)):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A4"


def _quote_day(as_of: Any) -> _dt.date:
    """The quote's date as a date: the Cover's as-of may come back from a workbook as a date and time,
    a spreadsheet serial number (a cell that lost its date format) or text; else today."""
    if isinstance(as_of, _dt.datetime):
        return as_of.date()
    if isinstance(as_of, _dt.date):
        return as_of
    if isinstance(as_of, (int, float)) and not isinstance(as_of, bool) and 0 < as_of < 2_958_466:
        return _dt.date(1899, 12, 30) + _dt.timedelta(days=int(as_of))
    if isinstance(as_of, str):
        try:
            return _dt.date.fromisoformat(as_of.strip()[:10])
        except ValueError:
            pass
    return _dt.date.today()


#: A quote's stale entries are counted by a formula that names each: past this length, the count
#: is the one at build (a catalog with that many stale entries needs `catalog check` more than a cell).
MAX_STALE_FORMULA_CHARS = 8000


def _stale_count_formula(cat: Catalog, layout: _Layout, n_rows: int, day: _dt.date,
                         rows: list[dict[str, Any]]) -> str | int:
    """The Cover's count of the catalog entries the scenarios use (and the API model the Quote sheet
    compares with) that are retired, have an ended price or a price older than the default limit on
    the quote's date: a formula over the Calc sheet's resolved ids, so that a scenario typed in later
    counts too. The list of stale entries is the one on the day the quote was built."""
    from ..catalogs.check import DEFAULT_MAX_AGE_DAYS, find, ids_of_rows

    findings = find(cat, day, DEFAULT_MAX_AGE_DAYS)
    stale = {f.id: f.catalog for f in findings}
    if not stale:
        return 0
    last = FIRST_ROW + n_rows - 1
    column = {"api_models": layout.calc_col["model_id"], "hardware": layout.calc_col["hardware_id"]}
    used: Symbol = 0
    for eid, catalog in sorted(stale.items()):
        col = column[catalog]
        count = count_if(f"Calc!${col}${FIRST_ROW}:${col}${last}", "=" + re.sub(r"([*?~])", r"~\1", eid))
        if catalog == "api_models":
            count = count + (Expr("compare_api_model") == eid)
        used = used + (count > 0)
    formula = "=" + literal(used).text
    if len(formula) <= MAX_STALE_FORMULA_CHARS:
        return formula
    compared = next((v for n, v, *_ in F.ASSUMPTIONS if n == "compare_api_model"), None)
    return len(set(stale) & ids_of_rows(cat, list(rows) + [{"model": compared}]))


#: The sheets a printed (or PDF) quote holds, and the pages across each prints on (fit to width).
PRINTED_SHEETS = {"Cover": 1, "Quote": 1, "Forecast": 1, "Sensitivity": 1, "Scenarios": 4, "Assumptions": 1}
#: What each sheet that is not printed by default holds (its print area is this line only).
NOT_PRINTED = {
    "Models": "the model catalog", "Hardware": "the hardware catalog", "Engines": "the engine catalog",
    "Precisions": "the precision catalog", "Calc": "every step of the estimate, one column per quantity",
    "Sources": "the source of every catalog number", "Functions": "live examples of the Excel functions",
}


def _print_setup(ws, landscape: bool = True) -> None:
    """A4, fit to the sheet's page width. Reference sheets print only their title and a line
    saying how to print them: a printed quote is Cover, Quote, Scenarios and Assumptions."""
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = PRINTED_SHEETS.get(ws.title, 1)
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = False
    ws.page_setup.horizontalDpi = ws.page_setup.verticalDpi = None
    if ws.title in NOT_PRINTED:
        # a one-line stub, in a cell right of what the sheet holds (Gnumeric refuses the empty
        # even/first header elements openpyxl writes with a page header, so no header is used)
        ws.page_setup.fitToWidth = 1
        ws.page_setup.orientation = "portrait"
        cell = ws.cell(1, ws.max_column + 2)
        _put_value(ws, cell.row, cell.column, f"{ws.title}: {NOT_PRINTED[ws.title]}. Not printed by default: clear "
                                              "this sheet's print area (Page Layout > Print Area) to print it.", "Note")
        ws.print_area = cell.coordinate


def _function_examples(rows: list[dict[str, Any]], layout: _Layout,
                       cat: Catalog | None = None) -> list[tuple[str, str, Any, str | None]]:
    """(what, formula, expected value, native result cell) for the Functions sheet. The expected
    values come from the core, shown as the Excel functions show them (``cells``)."""
    from .. import cells
    from ..catalogs.info import info_many
    from ..core.estimate import estimate_many
    from ..core.plan import breakeven_many, horizon_many, owned_gpu_hour_many

    cat = cat or load_catalog()

    def core(key: str, kind: str, no_answer: str, **named: Any) -> Any:
        return cells.compute(lambda flat: estimate_many(catalog=cat, **flat), named,
                             lambda result, i: cells.cell_value(result[key][i], kind), no_answer,
                             about_memory=key in ("fits", "total_memory_gib"))

    priced = "No answer: give hardware (or latency_s and price_per_hour)"
    examples: list[tuple[str, str, Any, str | None]] = [
        ("Cost of one GPT-4o request (1,000 in, 500 out)", 'LLM_COST("gpt-4o",1000,500)',
         core("cost_per_request_usd", "float", priced, model="gpt-4o", input_tokens=1000.0, output_tokens=500.0),
         None),
        ("Does Llama 2 70B fit one A100 40GB?", 'LLM_FITS("llama-2-70b","a100-40gb")',
         core("fits", "bool", "No answer: give a hardware id", model="llama-2-70b", hardware="a100-40gb"), None),
        ("GiB Llama 3 8B needs in fp16", 'LLM_MEMORY("llama-3-8b")',
         core("total_memory_gib", "float", "Memory is not applicable to this model", model="llama-3-8b"), None),
        ("H100 SXM price per GPU-hour in the catalog", 'LLM_INFO("h100-sxm","price_usd_per_hour")',
         cells.compute(lambda flat: info_many(flat["id"], flat["field"], cat),
                       dict(id="h100-sxm", field="price_usd_per_hour"), lambda result, i: result["value"][i],
                       "No value"), None),
        ("Requests a month above which Llama 3 8B on an L4 beats GPT-4o",
         'LLM_BREAKEVEN("gpt-4o","llama-3-8b","l4",1000,500)',
         cells.compute(lambda flat: breakeven_many(catalog=cat, **flat),
                       dict(api_model="gpt-4o", model="llama-3-8b", hardware="l4", input_tokens=1000.0,
                            output_tokens=500.0),
                       lambda result, i: cells.cell_value(result["breakeven_requests_per_month"][i], "float"),
                       "No answer: give a priced hardware id (or price_per_hour)"), None),
        ("USD per GPU-hour of an RTX 4090 you own (catalog purchase price and TDP, default power and life)",
         'LLM_OWNED_GPU_HOUR("rtx-4090")',
         cells.compute(lambda flat: owned_gpu_hour_many(catalog=cat, **flat), dict(hardware="rtx-4090"),
                       lambda result, i: cells.cell_value(result["owned_usd_per_gpu_hour"][i], "float"), "No answer"),
         None),
        ("NPV over 36 months of Llama 3 8B on an L4 for 1,000,000 requests a month, GPT-4o the other option",
         'LLM_HORIZON("gpt-4o","llama-3-8b","l4",1000,500,1000000)',
         cells.compute(lambda flat: horizon_many(catalog=cat, **flat),
                       dict(api_model="gpt-4o", model="llama-3-8b", hardware="l4", input_tokens=1000.0,
                            output_tokens=500.0, requests_per_month=1e6),
                       lambda result, i: cells.cell_value(result["npv_usd"][i], "float"), "No answer"), None),
    ]
    keys = ("model", "input_tokens", "output_tokens", "hardware", "gpus", "batch", "precision", "engine",
            "latency_s", "price_per_hour", "tp", "dp", "ep")  # LLM_COST's arguments, in its order
    for i, row in enumerate(rows[:6]):
        r = FIRST_ROW + i
        args = [f"Scenarios!${layout.input_col[k]}{r}" for k in keys]
        expected = core("cost_per_request_usd", "float", priced, **{k: row.get(k) for k in keys})
        examples.append((f"Cost per request of scenario: {row.get('scenario') or row.get('model')}",
                         f"LLM_COST({','.join(args)})", expected,
                         f"Scenarios!${layout.output_col['cost_per_request_usd']}{r}"))
    return examples


def _write_functions(wb, layout: _Layout, rows: list[dict[str, Any]], cat: Catalog | None = None) -> None:
    ws = wb.create_sheet("Functions")
    _put_value(ws, 1, 1, "Excel functions (=LLM_COST() and the rest): live examples", "Title")
    _put_value(ws, 2, 1, "These cells call the llmcalc-xl functions. They compute in Windows desktop Excel once the "
                         "xlwings add-in is installed and 'Import Functions' has run (README, 'In Excel'; save as "
                         ".xlsm). Elsewhere they show #NAME?; the rest of the workbook needs no add-in.", "Note")
    for c, h in enumerate(("What", "Formula", "Live result", "Expected (llmcalc-xl)", "Native workbook result"),
                          start=1):
        _put_value(ws, 4, c, h, "Header")
    for r, (what, formula, expected, native) in enumerate(_function_examples(rows, layout, cat), start=5):
        _put_value(ws, r, 1, what)
        _put_value(ws, r, 2, "=" + formula)
        _put_formula(ws, r, 3, "=" + formula, "Calculation")
        _put_value(ws, r, 4, expected)
        if native:
            _put_formula(ws, r, 5, "=" + native, "Link")
    for col, width in zip("ABCDE", (60, 70, 16, 22, 24)):
        ws.column_dimensions[col].width = width


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
    try:
        day = quote_day(as_of)
    except InvalidValueError:  # a cover date typed as text ("Q4 2026"): prices as of today
        day = quote_day()
    cat = cat.on(day)  # API prices in force on the quote's date
    rows = scenarios_for_build(scenarios)
    wb = load_template(template)
    ours = {"Quote", "Forecast", "Sensitivity", "Scenarios", "Assumptions", "Models", "Hardware", "Prices", "Engines",
            "Calibrations", "Precisions", "Names", "Calc", "Sources", "Built", "Functions"}
    for name in list(wb.sheetnames):
        if name in ours:
            del wb[name]
    extra = [ws.title for ws in wb.worksheets if ws.title != "Cover"]
    layout = _Layout()
    _write_assumptions(wb, day)
    _write_scenarios(wb, layout, rows)
    _write_calc(wb, layout, len(rows) + SPARE_SCENARIO_ROWS)
    _write_catalog(wb, cat, "models", "Models", "m", "ModelsTable")
    _write_catalog(wb, cat, "hardware", "Hardware", "h", "HardwareTable")
    _write_prices(wb, cat)
    _write_catalog(wb, cat, "engines", "Engines", "e", "EnginesTable")
    _write_calibrations(wb, cat)
    _write_catalog(wb, cat, "precisions", "Precisions", "p", "PrecisionsTable")
    _write_names(wb, cat)
    wb["Names"].sheet_state = "hidden"  # a lookup table the formulas use; regenerated by refresh
    _write_quote(wb, layout, len(rows) + SPARE_SCENARIO_ROWS, max(len(rows), 1))
    write_forecast(wb, layout, len(rows) + SPARE_SCENARIO_ROWS, FIRST_ROW, HEADER_ROW, _longest_horizon(rows))
    write_sensitivity(wb, layout, len(rows) + SPARE_SCENARIO_ROWS, FIRST_ROW, HEADER_ROW)
    _write_sources(wb, cat)
    _write_built(wb, cat)
    if with_functions:
        _write_functions(wb, layout, rows, cat)
    _fill_cover(wb["Cover"], {"title": title, "client": client, "prepared_by": prepared_by,
                              "as_of": as_of or _dt.date.today(), "version": f"llmcalc-xl {__version__}",
                              "catalog_as_of": as_date(cat.as_of()) if cat.as_of() else "",
                              "stale": _stale_count_formula(cat, layout, len(rows) + SPARE_SCENARIO_ROWS,
                                                            _quote_day(as_of), rows)},
                len(rows) + SPARE_SCENARIO_ROWS)
    order = ["Cover", "Quote", "Forecast", "Sensitivity", "Scenarios", "Assumptions", "Models", "Hardware", "Prices", "Engines", "Calibrations",
             "Precisions", "Names",
             "Calc",
             "Functions", "Sources", "Built"] + extra
    wb._sheets.sort(key=lambda ws: order.index(ws.title))
    wb.active = 0
    for ws in wb.worksheets:
        if ws.title not in extra and ws.title not in ("Built", "Names"):
            _print_setup(ws, landscape=ws.title != "Cover")
    # one page tall: the Sensitivity sheet's tables and charts always; the Forecast's table, notes and chart
    # while the rows are few enough to read that way
    wb["Sensitivity"].page_setup.fitToHeight = 1
    if len(rows) + SPARE_SCENARIO_ROWS <= 40:
        wb["Forecast"].page_setup.fitToHeight = 1
    wb.properties.title = title
    wb.properties.creator = prepared_by or "llmcalc-xl"
    return wb


def _longest_horizon(rows: list[dict[str, Any]]) -> int:
    """The longest horizon of the scenarios built, in months (the Forecast chart's width)."""
    from ..core.options import BY_NAME

    default = int(BY_NAME["horizon_months"].default or 1)
    months = []
    for row in rows:
        value = row.get("horizon_months")
        months.append(int(value) if isinstance(value, (int, float)) and value == value and value >= 1 else default)
    return max(months, default=default)


#: Above this many scenario rows the zip is deflated at level 1: ~25% faster to save, ~30% larger.
FAST_SAVE_ROWS = 2000


def _save(wb, path: str) -> None:
    from . import xlsx_writer

    big = "Calc" in wb.sheetnames and xlsx_writer.max_row(wb["Calc"]) > FAST_SAVE_ROWS
    xlsx_writer.save(wb, path, compresslevel=1 if big else 6)


def save_atomically(wb, out: str | Path, force: bool = False) -> Path:
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
