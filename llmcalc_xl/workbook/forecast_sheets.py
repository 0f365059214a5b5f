"""The quote's Forecast and Sensitivity sheets, generated from the core's own arithmetic.

``core/forecast.py`` states the horizon forecast and the sensitivity once, with numpy operations.
Here it is called on formula symbols (``symbolic.py``) whose leaves are the row's cells of the
Calc and Scenarios sheets, and each quantity it names with ``let`` becomes a cell of the row: the
rows of both sheets are the Scenarios rows, so each column holds one formula moved down (a shared
formula), as on the Calc sheet.

- Forecast: per scenario, its horizon inputs, the NPVs, totals and crossover month, then one
  block of month columns each for the monthly cost as quoted, the same traffic on the compared API
  (Assumptions: compare_api_model), both cumulative, and the crossover found so far. Below the
  rows, each month's total over the rows the quote's totals count, and a chart of the cumulative
  totals.
- Sensitivity: each scenario's monthly cost with each driver moved down and up by
  sensitivity_share (Assumptions), to the right; on the left the chosen scenario
  (sensitivity_scenario) and the quote's total, with a tornado chart of each.

Money is in the quote's currency (x fx_rate), as on the Quote sheet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import cost as _cost
from ..core import forecast as FC
from ..core.defaults import MAX_HORIZON_MONTHS
from ..core.options import BY_NAME
from . import formulas as F
from .symbolic import (Expr, as_text, call, concat, if_error, is_number, largest, literal, lookup, or_blank,
                       total as column_total)
from .template import style_name

MONTHS = MAX_HORIZON_MONTHS
_PLACE = re.compile("\x01([a-z_0-9]+)@([0-9]*)\x01")


@dataclass
class Cell:
    key: tuple[str, int | None]
    text: str          # formula template: {calc keys} and placeholders of this sheet's cells
    numeric: bool


#: The cells that hold a condition (TRUE/FALSE); every other holds a number or "" (no answer).
CONDITIONS = ("ok", "upfront", "dearer_first")


class RowSheet:
    """The core's ``let`` for a sheet whose rows are the Scenarios rows: each named quantity is a
    cell of the row, placed later (``place``); a numeric one is read back as a number or NaN."""

    def __init__(self):
        self.cells: dict[tuple[str, int | None], Cell] = {}

    def let(self, name: str, month: Any, value: Any) -> Any:
        key = (name, month)
        if key in self.cells:
            raise ValueError(f"{name} (month {month}) is named twice")
        value = literal(value)
        self.cells[key] = Cell(key, value.text, name not in CONDITIONS)
        # a cell holds a number, a condition or "" (no answer: every cell is written IFERROR(...,"")), never an
        # error; "" fails arithmetic as NaN does (and that cell shows "" again), and where the core compares a
        # month's costs both are numbers on every row that has a forecast
        return Expr(f"\x01{name}@{'' if month is None else month}\x01")

    def one(self, name: str, value: Any) -> Any:
        return self.let(name, None, value)


def rendered(text: str, column_of: dict[tuple[str, int | None], str]) -> str:
    """Placeholders of the sheet's own cells as references to the row's cell ($AB + the row)."""
    from .xlsx_writer import ROW_TOKEN

    def ref(m):
        key = (m.group(1), int(m.group(2)) if m.group(2) else None)
        return f"${column_of[key]}{ROW_TOKEN}"
    return _PLACE.sub(ref, text)


def _calc(key: str, na: bool = True) -> Any:
    return F.ref(key, na=na, numeric=True)


def _flag(key: str) -> Any:
    return F.ref(key)


def usable() -> Any:
    """The rows the quote's totals count: a model, no input problems, it runs, a monthly cost."""
    return (call("TRIM", F.ref("model")) != "") & (F.ref("problems") == "") & ~F.ref("no_fit") \
        & is_number(F.ref("monthly"))


def compared(field: str) -> Any:
    """A field of the API model the quote compares with (Assumptions: compare_api_model)."""
    cell = call("INDEX", Expr(f"m_{field}"), call("MATCH", Expr("compare_api_model"), Expr("m_id"), 0))
    return np.where(is_number(cell), cell, np.nan)


def api_request_usd() -> Any:
    """The compared API's price of one request of the row: the core's token cost."""
    return _cost.token_cost_usd(_calc("prompt"), _calc("cached"), _calc("output"), compared("input_usd_per_mtok"),
                                compared("cached_input_usd_per_mtok"), compared("output_usd_per_mtok"))


#: The Forecast sheet's columns left of the months: key, header, number format.
FORECAST_SUMMARY = (
    ("h_months", "Horizon months", "0"),
    ("h_growth", "Traffic growth a month", "0.0%"),
    ("h_api", "API price change a year", "0.0%"),
    ("h_gpu", "GPU price change a year", "0.0%"),
    ("h_discount", "Discount rate a year", "0.0%"),
    ("npv_usd", "NPV as quoted", "#,##0"),
    ("npv_api_usd", "NPV on the API", "#,##0"),
    ("horizon_cost_usd", "Total as quoted", "#,##0"),
    ("horizon_cost_api_usd", "Total on the API", "#,##0"),
    ("crossover_month", "Crossover month", "0"),
)
#: The month blocks: name, title, shown.
FORECAST_BLOCKS = (
    ("requests", "Requests", True),
    ("replicas", "Replicas paid for (rented: the month's traffic, on average over the day with autoscale; owned: "
                 "the most so far)", True),
    ("quoted", "Monthly cost as quoted", True),
    ("api", "Monthly cost of the same traffic on the API", True),
    ("cum_quoted", "Cumulative cost as quoted", True),
    ("cum_api", "Cumulative cost on the API", True),
    ("crossover", "Crossover month found by this month (working)", True),
)


def forecast_cells() -> RowSheet:
    """The Forecast sheet's cells of one row, from ``core.forecast.forecast`` on the row's cells."""
    sheet = RowSheet()
    ok = sheet.one("ok", usable())
    cells = F.CatalogCells()
    fx = Expr("fx_rate")

    def horizon(key, option):
        return sheet.one(key, np.where(ok, cells.number(option), np.nan))

    h = FC.Horizon(months=horizon("h_months", "horizon_months"), growth=horizon("h_growth", "growth_per_month"),
                   api_change=horizon("h_api", "api_price_change_per_year"),
                   gpu_change=horizon("h_gpu", "gpu_price_change_per_year"),
                   discount=horizon("h_discount", "discount_rate"))
    b = FC.base(
        requests=sheet.one("requests", np.where(ok, _calc("requests"), np.nan)),
        peak_ratio=_calc("peak_ratio"), spares=_calc("spares"), capacity=_calc("capacity"),
        deployment=_calc("deployment") * fx, token_cost=_calc("token_cost") * fx, infra=_calc("infra") * fx,
        is_api=_flag("is_api"), hosted=_flag("hosted"), owned=_flag("owned"),
        upfront_yes=F.ref("capex_upfront_word") == "yes", rate=_calc("rate"),
        price_given=is_number(F.ref("price_per_hour")), capex=_calc("capex") * fx,
        own_capital=_calc("own_capital") * fx, gpus=_calc("gpus_in"), api_request=api_request_usd() * fx,
        hours_per_month=Expr("hours_per_month"), autoscale=_flag("autoscaled"), peak_hours=_calc("peak_hours"))
    # the composite parts once per row, so that each month's formula refers to them
    b = FC.Base(**{**b.__dict__, **{k: sheet.one(k, getattr(b, k))
                                    for k in ("upfront", "running", "capex_per_replica", "api_request", "scaled")}})
    FC.forecast(b, h, sheet.let, MONTHS)
    return sheet


#: The Sensitivity sheet's working columns: each driver down and up.
SENSITIVITY_KEYS = ("base",) + tuple(f"{k}_{side}" for k, _ in FC.DRIVERS for side in ("down", "up"))


def sensitivity_cells() -> RowSheet:
    """The Sensitivity sheet's working cells of one row, from ``core.forecast.sensitivity``."""
    sheet = RowSheet()
    ok = sheet.one("ok", usable())
    fx = Expr("fx_rate")
    cells = F.CatalogCells()
    b = FC.SensitivityBase(
        requests=sheet.one("requests", np.where(ok, _calc("requests"), np.nan)), peak_ratio=_calc("peak_ratio"),
        spares=_calc("spares"), capacity=_calc("capacity"), deployment=_calc("deployment") * fx,
        token_cost=_calc("token_cost") * fx, infra=_calc("infra") * fx, is_api=_flag("is_api"),
        hosted=_flag("hosted"), util=_calc("util"), gpus=_calc("gpus_in"),
        owned_parts=_flag("owned") & ~is_number(F.ref("price_per_hour")), own_capital=_calc("own_capital") * fx,
        own_power=_calc("own_power") * fx, own_maintenance=_calc("own_maintenance") * fx,
        capex=_calc("capex") * fx, years=_calc("years"), residual=_calc("residual"), rate=_calc("rate"),
        hours_per_month=Expr("hours_per_month"), scaled=_flag("autoscaled") & ~_flag("owned"),
        peak_hours=_calc("peak_hours"))
    del cells
    FC.sensitivity(b, Expr("sensitivity_share"), sheet.one)
    return sheet


# --- writing the sheets ---------------------------------------------------------------------------------

def _letter(i: int) -> str:
    from openpyxl.utils import get_column_letter
    return get_column_letter(i)


def _row_formula(cell: Cell, column_of: dict, layout, sheet: str, ok_col: str) -> str:
    """The template of a Forecast row cell: no answer shows empty (a usable row whose lead never
    changes shows "none" as its crossover month), never an error."""
    from .xlsx_writer import ROW_TOKEN

    if cell.key != ("crossover_month", None):
        return _numeric_template(cell, column_of, layout, sheet)
    shown = crossover_shown(Expr(f"${ok_col}{ROW_TOKEN}"), Expr(rendered(cell.text, column_of)))
    return "=" + layout.template(literal(shown).text, sheet)


def crossover_shown(counted: Any, month: Any) -> Any:
    """A crossover month as the sheet shows it: the month, "none" where the lead never changes,
    empty where there is no forecast (``counted`` False)."""
    return np.where(counted, np.where(is_number(month), month, "none"), "")


def scenario_label() -> Any:
    """The Scenarios row's name, or its model where it has none (as the Quote sheet's first column)."""
    return np.where(F.ref("scenario") == "", concat(F.ref("model"), ""), concat(F.ref("scenario"), ""))


def _numeric_template(cell: Cell, column_of: dict, layout, sheet: str) -> str:
    """The template of a row cell: a number, or empty where there is no answer (a condition: FALSE)."""
    text = Expr(rendered(cell.text, column_of))
    return "=" + layout.template((or_blank(text) if cell.numeric else if_error(text, False)).text, sheet)


def forecast_layout(sheet: RowSheet | None = None) -> tuple[dict[tuple[str, int | None], str], dict[str, int], int]:
    """The Forecast sheet's column of each cell of a row ((name, month) -> letter), the first column
    of each month block, and the first working column: the scenario, the summary, a gap, the month
    blocks (a gap after each), then the working cells."""
    sheet = sheet or forecast_cells()
    column_of: dict[tuple[str, int | None], str] = {}
    col = 2
    for key, _, _ in FORECAST_SUMMARY:
        column_of[(key, None)] = _letter(col)
        col += 1
    col += 1
    block_start = {}
    for name, _, _ in FORECAST_BLOCKS:
        block_start[name] = col
        for m in range(1, MONTHS + 1):
            column_of[(name, m)] = _letter(col)
            col += 1
        col += 1
    working_start = col
    for place in sheet.cells:
        if place not in column_of:
            column_of[place] = _letter(col)
            col += 1
    return column_of, block_start, working_start


#: The Sensitivity sheet's working cells start in this column (J), right of its tables.
SENSITIVITY_WORK_COLUMN = 16
#: Where each table's drivers, sorted by swing for the tornado chart, begin (K: swing, rank, driver, changes).
SORTED_COLUMN = 11
#: The first row of the table of the scenario shown, and of the quote's total (their titles).
SENSITIVITY_TABLES = (6, 18)
#: The tornado charts' row, below the tables and the notes.
CHART_ROW = 35


def sensitivity_layout(sheet: RowSheet | None = None) -> dict[tuple[str, int | None], str]:
    sheet = sheet or sensitivity_cells()
    return {key: _letter(SENSITIVITY_WORK_COLUMN + 1 + i) for i, key in enumerate(sheet.cells)}


def write_forecast(wb, layout, n_rows: int, first: int, header: int, charted_months: int = MONTHS) -> None:
    """The Forecast sheet (rows as on Scenarios, ``n_rows`` of them from row ``first``); its chart
    shows months 1 to ``charted_months`` (the longest horizon of the scenarios built)."""
    from openpyxl.chart import LineChart, Reference

    from .build import _print_setup, _put_formula, _put_value
    from .xlsx_writer import fast_rows

    sheet = forecast_cells()
    ws = wb.create_sheet("Forecast")
    cells = fast_rows(ws, first)
    total = first + n_rows
    last = total - 1
    column_of, block_start, working_start = forecast_layout(sheet)
    _put_value(ws, 1, 1, "Forecast: each scenario month by month over its horizon, as quoted and on the API", "Title")
    _put_formula(ws, 2, 1, '="Money in "&currency&". Month 1 is the quote\'s month. The same traffic is also priced on '
                           'the API model "&compare_api_model&" (Assumptions). What each column means: below the totals."',
                 "Note")
    for key, end, title in (("h_months", "h_discount", "Inputs of each scenario (Scenarios sheet)"),
                            ("npv_usd", "crossover_month", "Over the horizon")):
        _put_value(ws, 3, _col(column_of[(key, None)]), title, "Header")
        ws.merge_cells(f"{column_of[(key, None)]}3:{column_of[(end, None)]}3")
    _put_value(ws, header, 1, "Scenario", "Header")
    for key, title, fmt in FORECAST_SUMMARY:
        c = column_of[(key, None)]
        money = fmt.startswith("#")
        if money:
            _put_formula(ws, header, _col(c), f'="{title} ("&currency&")"', "Header")
        else:
            _put_value(ws, header, _col(c), title, "Header")
    for name, title, _ in FORECAST_BLOCKS:
        money = name in ("quoted", "api", "cum_quoted", "cum_api")
        _put_formula(ws, 3, block_start[name], f'="{title} ("&currency&"), month:"' if money else f'="{title}, month:"',
                     "Header")
        for m in range(1, MONTHS + 1):
            _put_value(ws, header, block_start[name] + m - 1, m, "Header")
    _put_value(ws, 3, working_start, "Working cells (each row's inputs to the months)", "Header")
    for place in sheet.cells:
        if _col(column_of[place]) >= working_start:
            _put_value(ws, header, _col(column_of[place]), place[0], "Header")
    # the rows
    cells.formula_rows(1, first, n_rows, "=" + layout.template(scenario_label().text, "Forecast"), style_name("Link"))
    formats: dict[tuple[str, int | None], str | None] = {(k, None): f for k, _, f in FORECAST_SUMMARY}
    ok_col = column_of[("ok", None)]
    for place, cell in sheet.cells.items():
        index = _col(column_of[place])
        number_format = formats.get(place, "#,##0" if place[1] is not None and place[0] != "crossover" else None)
        style = style_name("Calculation") if index < working_start else None
        cells.formula_rows(index, first, n_rows, _row_formula(cell, column_of, layout, "Forecast", ok_col), style,
                           number_format)
    # totals: the rows the quote's totals count (the others are empty)
    _put_value(ws, total, 1, "Total (rows in totals)", "Header")
    for name in ("npv_usd", "npv_api_usd", "horizon_cost_usd", "horizon_cost_api_usd"):
        c = column_of[(name, None)]
        _put_formula(ws, total, _col(c), "=" + column_total(f"{c}{first}:{c}{last}").text, "Calculation", "#,##0")
    months_col = column_of[("h_months", None)]
    longest = largest(f"${months_col}${first}:${months_col}${last}")
    for name in ("quoted", "api", "cum_quoted", "cum_api"):
        for m in range(1, MONTHS + 1):
            c = column_of[(name, m)]
            month_sum = FC.month_total(m, longest, column_total(f"{c}{first}:{c}{last}"))
            _put_formula(ws, total, _col(c), "=" + or_blank(month_sum).text, "Calculation", "#,##0")
    totals = RowSheet()
    def total_cell(name: str, m: int) -> Any:  # a number, or NaN where the total row is empty
        ref = Expr(f"{column_of[(name, m)]}{total}")
        return np.where(is_number(ref), ref, np.nan)  # type: ignore[call-overload]

    cum = {name: [total_cell(name, m) for m in range(1, MONTHS + 1)] for name in ("cum_quoted", "cum_api")}
    crossing = FC.crossover_of(cum["cum_quoted"], cum["cum_api"], totals.let)
    for m in range(1, MONTHS + 1):
        cell = totals.cells[("crossover", m)]
        text = _PLACE.sub(lambda x: f"{column_of[('crossover', int(x.group(2)))]}{total}", cell.text)
        _put_formula(ws, total, _col(column_of[("crossover", m)]), "=" + or_blank(Expr(text)).text, "Calculation", "0")
    c = column_of[("crossover_month", None)]
    final = _PLACE.sub(lambda x: f"{column_of[('crossover', int(x.group(2)))]}{total}", literal(crossing).text)
    shown = crossover_shown(is_number(Expr(f'{column_of[("npv_usd", None)]}{total}')), Expr(final))
    _put_formula(ws, total, _col(c), "=" + literal(shown).text, "Calculation", "0")
    notes = (
        "Each scenario's horizon, traffic growth, price changes and discount rate are its inputs on the Scenarios "
        f"sheet (left empty: {BY_NAME['horizon_months'].default_text} months, no change, no discounting).",
        "Month m: traffic x (1 + growth)^(m-1); rented GPU-hours x (1 + GPU price change)^((m-1)/12); API tokens x "
        "(1 + API price change)^((m-1)/12).",
        "Rented replicas follow the month's traffic; owned hardware is never sold (sized for the most traffic so far).",
        "Owned hardware with capex_upfront yes and a cost of capital of 0 pays its purchase in the month it is "
        "bought, then its running costs; otherwise its GPU-hour (capital spread over its life).",
        "NPV: each month's cost discounted at the row's rate as an end-of-month cash flow, (1 + rate)^(-m/12).",
        "Crossover month: the month in which the option dearer in month 1 becomes the cheaper to date (none: the "
        "lead never changes within the horizon).",
        "Total row: each month's sum over the scenarios in the quote's totals; the chart shows its cumulative sums.",
    )
    for i, text in enumerate(notes):
        _put_value(ws, total + 1 + i, 1, text, "Note")
    ws.column_dimensions["A"].width = 46
    for name, _, _ in FORECAST_SUMMARY:
        ws.column_dimensions[column_of[(name, None)]].width = 12
    for place, letter in column_of.items():
        if place[1] is not None:
            ws.column_dimensions[letter].width = 10
    ws.row_dimensions[header].height = 45
    ws.freeze_panes = f"B{first}"
    charted = max(1, min(MONTHS, charted_months))
    chart = LineChart()
    chart.title = "Cumulative cost, quote total"
    chart.y_axis.title = "cumulative"
    chart.x_axis.title = "month"
    for name, label in (("cum_quoted", "As quoted"), ("cum_api", "On the API")):
        start = block_start[name]
        ref = Reference(ws, min_col=start, max_col=start + charted - 1, min_row=total, max_row=total)
        chart.add_data(ref, from_rows=True, titles_from_data=False)
        chart.series[-1].tx = _series_title(label)
        chart.series[-1].smooth = False  # a spline overshoots where the totals end
    chart.set_categories(Reference(ws, min_col=block_start["quoted"], max_col=block_start["quoted"] + charted - 1,
                                   min_row=header, max_row=header))
    chart.height, chart.width = 9, 22
    ws.add_chart(chart, f"A{total + len(notes) + 2}")
    ws.print_area = f"A1:{column_of[('crossover_month', None)]}{total + len(notes) + 21}"
    _print_setup(ws)


def _series_title(text: str):
    from openpyxl.chart.series import SeriesLabel

    return SeriesLabel(v=text)


def _col(letter: str) -> int:
    from openpyxl.utils import column_index_from_string
    return column_index_from_string(letter)


def write_sensitivity(wb, layout, n_rows: int, first: int, header: int) -> None:
    """The Sensitivity sheet: the chosen scenario and the quote's total on the left, each scenario's
    working cells on the right (rows as on Scenarios)."""
    from openpyxl.chart import BarChart, Reference

    from .build import _print_setup, _put_formula, _put_value
    from .xlsx_writer import fast_rows

    sheet = sensitivity_cells()
    ws = wb.create_sheet("Sensitivity")
    cells = fast_rows(ws, first)
    last = first + n_rows - 1
    work = SENSITIVITY_WORK_COLUMN
    column_of = sensitivity_layout(sheet)
    _put_value(ws, 1, 1, "Sensitivity: the monthly cost when one driver moves, the others as quoted", "Title")
    _put_formula(ws, 2, 1, "=" + concat("Monthly cost in ", Expr("currency"), " with each driver down and up by ",
                                        as_text(Expr("sensitivity_share"), "0%"),
                                        " (Assumptions: sensitivity_share), the other inputs as quoted. How each driver "
                                        "acts: below.").text, "Note")
    _put_value(ws, 3, 1, "Share each driver moves", "Header")
    _put_formula(ws, 3, 2, "=sensitivity_share", "Link", "0%")
    _put_value(ws, 4, 1, "Scenario shown (Quote row; on Assumptions)", "Header")
    _put_formula(ws, 4, 2, "=sensitivity_scenario", "Link", "0")
    _put_formula(ws, 4, 3, "=" + or_blank(concat(lookup(f"Quote!$A${first}:$A${last}", Expr("sensitivity_scenario")),
                                                  "")).text, "Link")
    heads = ("Driver", "Driver down", "As quoted", "Driver up", "Change, driver down", "Change, driver up")
    tables = tuple(zip(SENSITIVITY_TABLES, ("The scenario shown", "The quote's total (rows in totals)")))
    for top, title in tables:
        _put_value(ws, top, 1, title, "Header")
        for c, h in enumerate(heads, start=1):
            _put_value(ws, top + 1, c, h, "Header")
        for i, (key, label) in enumerate(FC.DRIVERS):
            r = top + 2 + i

            def pick(name):
                rng = f"${column_of[(name, None)]}${first}:${column_of[(name, None)]}${last}"
                if top == tables[0][0]:
                    return or_blank(lookup(rng, Expr("sensitivity_scenario")))
                return column_total(rng)

            _put_value(ws, r, 1, label)
            _put_formula(ws, r, 2, "=" + pick(f"{key}_down").text, "Calculation", "#,##0")
            _put_formula(ws, r, 3, "=" + pick("base").text, "Calculation", "#,##0")
            _put_formula(ws, r, 4, "=" + pick(f"{key}_up").text, "Calculation", "#,##0")
            # a change of a table without figures ("") is an error, shown empty
            for c, change in enumerate(FC.changes_usd(Expr(f"B{r}"), Expr(f"C{r}"), Expr(f"D{r}")), start=5):
                _put_formula(ws, r, c, "=" + or_blank(change).text, "Calculation", "#,##0")
    # each table sorted by swing for its tornado chart (the widest on top, ties in the table's order), as
    # `llmcalc-xl sensitivity` lists them: a swing and a rank per driver, then the drivers by rank
    n = len(FC.DRIVERS)
    for top, _ in tables:
        _put_value(ws, top, SORTED_COLUMN, "Sorted by swing, for the chart", "Header")
        for c, h in enumerate(("Swing", "Rank", "Driver", "Change, driver down", "Change, driver up")):
            _put_value(ws, top + 1, SORTED_COLUMN + c, h, "Header")
        swing, rank = _letter(SORTED_COLUMN), _letter(SORTED_COLUMN + 1)
        rows = range(top + 2, top + 2 + n)
        swings = [Expr(f"${swing}${q}", numeric=True) for q in rows]
        ranks = FC.swing_ranks(swings)  # the places as `llmcalc-xl sensitivity` sorts the drivers
        for i, r in enumerate(rows):
            _put_formula(ws, r, SORTED_COLUMN, "=" + literal(FC.swing_usd(Expr(f"E{r}"), Expr(f"F{r}"))).text,
                         "Calculation", "#,##0")
            _put_formula(ws, r, SORTED_COLUMN + 1, "=" + literal(ranks[i]).text, "Calculation", "0")

            def ranked(col, j=i + 1):
                """The cell of column ``col`` in the row ranked j (each rank is one row's)."""
                out: Any = ""
                for q in reversed(rows):
                    rank_q, value_q = Expr(f"${rank}${q}"), Expr(f"${col}${q}")
                    out = np.where(rank_q == j, value_q, out)  # type: ignore[call-overload]
                return "=" + literal(out).text

            _put_formula(ws, r, SORTED_COLUMN + 2, ranked("A"), "Calculation")
            _put_formula(ws, r, SORTED_COLUMN + 3, ranked("E"), "Calculation", "#,##0")
            _put_formula(ws, r, SORTED_COLUMN + 4, ranked("F"), "Calculation", "#,##0")
    # the working cells
    _put_value(ws, 3, work, "Working: each scenario's monthly cost with each driver moved (rows as on Scenarios)",
               "Header")
    _put_value(ws, header, work, "Scenario", "Header")
    cells.formula_rows(work, first, n_rows, "=" + layout.template(scenario_label().text, "Sensitivity"),
                       style_name("Link"))
    labels = dict(FC.DRIVERS)
    for place, cell in sheet.cells.items():
        name = place[0]
        driver, _, side = name.rpartition("_")
        title = {"ok": "In totals?", "requests": "Requests per month", "base": "As quoted"}.get(
            name, f"{labels.get(driver, driver)}: {side}")
        _put_value(ws, header, _col(column_of[place]), title, "Header")
        cells.formula_rows(_col(column_of[place]), first, n_rows,
                           _numeric_template(cell, column_of, layout, "Sensitivity"), None,
                           "#,##0" if cell.numeric and name != "requests" else None)
    ws.column_dimensions["A"].width = 40
    for letter in "BCD":
        ws.column_dimensions[letter].width = 13
    for letter in "EF":
        ws.column_dimensions[letter].width = 20
    ws.column_dimensions[_letter(SORTED_COLUMN + 2)].width = 40
    for c in (3, 4):
        ws.column_dimensions[_letter(SORTED_COLUMN + c)].width = 20
    ws.column_dimensions[_letter(work)].width = 40
    for key in column_of.values():
        ws.column_dimensions[key].width = 13
    ws.row_dimensions[header].height = 45
    for top, title in tables:
        chart = BarChart()
        chart.type = "bar"
        chart.grouping = "clustered"
        chart.overlap = 100
        chart.title = f"Tornado: {title.split(' (')[0].lower()}"
        data = Reference(ws, min_col=SORTED_COLUMN + 3, max_col=SORTED_COLUMN + 4, min_row=top + 1,
                         max_row=top + 1 + len(FC.DRIVERS))
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=SORTED_COLUMN + 2, min_row=top + 2, max_row=top + 1 + len(FC.DRIVERS)))
        chart.y_axis.title = "change of the monthly cost"
        chart.x_axis.tickLblPos = "low"  # the drivers' names left of the bars, clear of those going down
        chart.x_axis.scaling.orientation = "maxMin"  # the widest swing on top
        chart.legend.position = "b"
        chart.height, chart.width = 9, 14
        ws.add_chart(chart, f"{'A' if top == tables[0][0] else 'D'}{CHART_ROW}")
    how = (
        "GPU price: the USD per GPU-hour. Throughput: the requests a replica serves. Tokens per request: API tokens, and "
        "a request's GPU time in proportion (first order).",
        "Utilisation: the share of time the GPUs do useful work (at most 1), so the capacity in proportion. API price: "
        "the API's token prices.",
        "Owned hardware priced by its own GPU-hour: capex moves capital and maintenance, depreciation years the capital, "
        "electricity the power.",
        "Replicas are whole: a move too small to change their count changes nothing (rows in the tables at 0).",
    )
    for i, text in enumerate(how):
        _put_value(ws, 30 + i, 1, text, "Note")
    ws.print_area = f"A1:I{CHART_ROW + 18}"
    _print_setup(ws)
