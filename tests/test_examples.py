"""The committed example files are what `python -m llmcalc_xl.workbook.examples` makes today."""

import shutil
from pathlib import Path

from openpyxl import load_workbook

from llmcalc_xl.workbook.examples import build_examples

ROOT = Path(__file__).resolve().parents[1]
FILES = ("templates/quote.xlsx", "workbooks/quote.xlsx", "workbooks/example-scenarios.xlsx")


def content(path: Path):
    """Part by part, not byte by byte (openpyxl stamps the save time)."""
    wb = load_workbook(path)
    cells = [(ws.title, c.coordinate, c.value, c.style, c.number_format)
             for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    names = sorted((n, d.attr_text) for n, d in wb.defined_names.items())
    return wb.sheetnames, cells, names


def test_examples_are_up_to_date(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "workbooks").mkdir()
    shutil.copy(ROOT / "workbooks" / "example-scenarios.csv", tmp_path / "workbooks")
    build_examples(tmp_path)
    for rel in FILES:
        assert content(ROOT / rel) == content(tmp_path / rel), \
            f"{rel} is stale: run `python -m llmcalc_xl.workbook.examples` and commit the result"
