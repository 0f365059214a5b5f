"""The quote template: named styles and the cover page that `llmcalc-xl build` fills.

A team restyles its quote by editing a copy of ``templates/quote.xlsx`` in Excel (the named
styles Quote Input, Quote Calculation, Quote Link, Quote Header, Quote Title, Quote Note; the
Cover sheet's text, layout and logo) and building with ``--template``. The builder replaces the Cover's placeholders
({title}, {client}, {prepared_by}, {as_of}, {version}, {catalog_as_of}, {summary}, {stale}) and adds the other sheets.
Any further sheet of the template (terms, a disclaimer) is kept after them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PLACEHOLDERS = ("title", "client", "prepared_by", "as_of", "version", "catalog_as_of", "summary", "stale")
STYLE_NAMES = ("Input", "Calculation", "Link", "Header", "Title", "Note")
#: Our styles carry this prefix: Excel has built-in styles named Input, Calculation, Title and Note,
#: and a custom style of the same name would clash with them.
STYLE_PREFIX = "Quote "


def style_name(role: str) -> str:
    """The named style of a role ("Input" -> "Quote Input")."""
    return STYLE_PREFIX + role


def default_styles():
    """The house styles (FAST / ICAEW: inputs blue on light yellow, formulas black, links green)."""
    from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side

    line = Border(bottom=Side(style="thin", color="BFBFBF"))
    return [
        NamedStyle(style_name("Input"), font=Font(color="0000FF"), fill=PatternFill("solid", fgColor="FFF2CC"),
                   border=line),
        NamedStyle(style_name("Calculation"), font=Font(color="000000"), border=line),
        NamedStyle(style_name("Link"), font=Font(color="008000"), border=line),
        NamedStyle(style_name("Header"), font=Font(bold=True, color="FFFFFF"),
                   fill=PatternFill("solid", fgColor="1F3864"),
                   alignment=Alignment(wrap_text=True, vertical="top")),
        NamedStyle(style_name("Title"), font=Font(bold=True, size=16, color="1F3864")),
        NamedStyle(style_name("Note"), font=Font(italic=True, color="595959"), alignment=Alignment(wrap_text=False)),
    ]


def default_template():
    """The default template as an openpyxl Workbook: styles and the Cover sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment

    wb = Workbook()
    for style in default_styles():
        wb.add_named_style(style)
    ws = wb.active
    ws.title = "Cover"
    ws["A1"] = "{title}"
    ws["A1"].style = style_name("Title")
    rows = [("Client", "{client}", "Input"), ("Prepared by", "{prepared_by}", "Input"), ("As of", "{as_of}", "Input")]
    for r, (label, placeholder, style) in enumerate(rows, start=3):
        ws.cell(r, 1, label)
        ws.cell(r, 2, placeholder).style = style_name(style)
    ws["B5"].number_format = "yyyy-mm-dd"
    ws["A6"] = "Valid until"
    ws["B6"] = "=B5+30"
    ws["B6"].style = style_name("Calculation")
    ws["B6"].number_format = "yyyy-mm-dd"
    ws["A7"] = "Version"
    ws["B7"] = "{version}"
    ws["A8"] = "Catalog as of"
    ws["B8"] = "{catalog_as_of}"
    ws["B8"].number_format = "yyyy-mm-dd"
    ws["A9"] = "Summary"
    ws["B9"] = "{summary}"
    ws["B9"].style = style_name("Calculation")
    ws["A10"] = "Stale catalog entries"
    ws["B10"] = "{stale}"
    ws["B10"].style = style_name("Calculation")
    ws["B10"].number_format = "0"  # a count; what it counts is said beside it, where the text has room
    ws["C10"] = ("used by this quote: retired models, ended prices, or prices older than 90 days on the as-of date "
                 "(llmcalc-xl catalog check lists them)")
    ws["C10"].style = style_name("Note")
    for cell in ("B9", "C10"):  # long texts wrap inside the printed columns instead of running past them
        ws[cell].alignment = Alignment(wrap_text=True, vertical="top")
    for cell in ("A9", "A10", "B10"):
        ws[cell].alignment = Alignment(vertical="top")
    ws.row_dimensions[9].height = 30
    ws.row_dimensions[10].height = 45
    ws["A11"], ws["B11"] = "Key to the cells", ""
    ws["A11"].style = ws["B11"].style = style_name("Header")
    for r, (label, style) in enumerate((("Input: type here", "Input"), ("Formula: computed", "Calculation"),
                                        ("Link: from another sheet", "Link")), start=12):
        ws.cell(r, 1, label)
        ws.cell(r, 2, 123).style = style_name(style)
    ws["A16"] = "Sheets: Quote (totals and the API comparison), Scenarios (inputs and results), Assumptions,"
    ws["A17"] = "the catalogs (Models, Hardware, Engines, Precisions), Calc (every step of the estimate) and Sources."
    ws["A16"].style = ws["A17"].style = style_name("Note")
    ws["C1"] = "(your logo here)"
    ws["C1"].style = style_name("Note")
    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = 70
    ws.column_dimensions["C"].width = 45
    ws.page_setup.orientation = "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    return wb


def default_template_path() -> Path:
    """The shipped template: inside the installed package, or templates/ of a source checkout."""
    shipped = resources.files("llmcalc_xl") / "templates" / "quote.xlsx"
    if shipped.is_file():
        return Path(str(shipped))
    return Path(__file__).resolve().parents[2] / "templates" / "quote.xlsx"
