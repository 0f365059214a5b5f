"""The one escaping rule for text cells (llmcalc_xl.cell_text), in CSVs and in workbooks."""

import io
import sys
import unicodedata

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from llmcalc_xl.cell_text import escape_arrow, runs_as_formula, safe_text


@pytest.mark.parametrize("text, escaped", [
    ("=1+1", "'=1+1"),
    ("+1+1", "'+1+1"),
    ("-2+3", "'-2+3"),
    ("@SUM(1,1)", "'@SUM(1,1)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1", "'\r=1"),
    ("\nx", "'\nx"),
    (" =1+1", "' =1+1"),               # leading space: LibreOffice can still read a formula
    ("\u00a0=1+1", "'\u00a0=1+1"),     # no-break space
    ("\u3000@SUM(1)", "'\u3000@SUM(1)"),  # ideographic space
    ("\u200b=1", "'\u200b=1"),         # zero-width space
    ("\ufeff=1", "'\ufeff=1"),         # byte-order mark
    ("\x01=1", "'\x01=1"),
    ("\uff1d1+1", "'\uff1d1+1"),       # full-width equals sign
    ("-", "'-"),
    ("llama-3-8b", "llama-3-8b"),
    ("a=1", "a=1"),
    ("'=1+1", "'=1+1"),                # already escaped by the user: left alone
    ("-5", "-5"),                      # plain numbers are numbers, not formulas
    ("+1.5e3", "+1.5e3"),
    (" -7 ", " -7 "),
    ("-1,5", "-1,5"),
    ("", ""),
])
def test_csv_cells(text, escaped):
    assert safe_text(text, csv=True) == escaped
    assert runs_as_formula(text) == (escaped != text)


@pytest.mark.parametrize("value", [None, 0, -5, -2.5, 1e300, True, float("nan")])
def test_numbers_are_never_escaped(value):
    assert safe_text(value, csv=True) is value and safe_text(value) is value


def test_workbook_text_keeps_formula_signs_and_loses_only_what_xml_cannot_hold():
    assert safe_text("=1+1") == "=1+1"  # the writer stores it as text; an apostrophe would show
    assert safe_text("a\x00b\x01c\x0bd\x1fe\ufffef\uffff") == "a\ufffdb\ufffdc\ufffdd\ufffde\ufffdf\ufffd"
    assert safe_text("tab\tcr\rlf\n") == "tab\tcr\rlf\n"  # XML holds these


def test_every_character_survives_a_workbook(tmp_path):
    everything = "".join(chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF)
    text = safe_text(everything)
    assert not ILLEGAL_CHARACTERS_RE.search(text)
    chunks = [text[i:i + 30000] for i in range(0, len(text), 30000)]  # a cell holds 32,767 characters
    wb = Workbook()
    for i, chunk in enumerate(chunks, start=1):
        wb.active.cell(i, 1).value = chunk  # openpyxl refuses what XML cannot hold; lxml too, at save
    wb.save(tmp_path / "all.xlsx")
    back = load_workbook(tmp_path / "all.xlsx").active
    assert [back.cell(i, 1).value for i in range(1, len(chunks) + 1)] == chunks


def test_the_blanks_are_every_control_format_and_separator_character():
    """The hard-coded class must cover what unicodedata calls Cc, Cf, Zs, Zl, Zp (or space)."""
    missed = [hex(c) for c in range(sys.maxunicode + 1)
              if (unicodedata.category(chr(c)) in ("Cc", "Cf", "Zs", "Zl", "Zp") or chr(c).isspace())
              and chr(c) not in "\t\r\n" and not runs_as_formula(chr(c) + "=1")]
    assert not missed


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(st.one_of(st.text(max_size=12),
                          st.text(alphabet=" \u00a0\u200b\t\r\n=+-@0123456789.,eE'x\x01\ufeff", max_size=8)),
                min_size=1, max_size=30))
def test_the_vectorised_csv_path_agrees_with_the_cell_path(texts):
    expected = [safe_text(t, csv=True) for t in texts]
    array = pa.array(texts, pa.string())
    assert escape_arrow(array).to_pylist() == expected
    # as fill hands them over: dictionary-encoded (ids, notes), in chunks, sliced, with wide offsets
    assert escape_arrow(array.dictionary_encode()).to_pylist() == expected
    assert escape_arrow(pa.chunked_array([array[:1], array[1:]])).to_pylist() == expected
    assert escape_arrow(pa.array(["x"] + texts, pa.large_string()).slice(1)).to_pylist() == expected


def test_fill_escapes_dictionary_encoded_result_columns():
    from llmcalc_xl.batch.fill import _escaped

    table = pa.table({"=h": pa.array(["=1", "a"]).dictionary_encode(), "n": pa.array([1.5, 2.0])})
    out = _escaped(table)
    assert out.column_names == ["'=h", "n"]
    assert out.column("'=h").to_pylist() == ["'=1", "a"] and out.column("n").to_pylist() == [1.5, 2.0]


def test_null_cells_stay_null():
    assert escape_arrow(pa.array([None, "=1"], pa.string())).to_pylist() == [None, "'=1"]


def test_escaped_csv_reads_back_as_the_text_with_an_apostrophe():
    import csv
    buf = io.StringIO()
    csv.writer(buf).writerow([safe_text(t, csv=True) for t in ("=1+1", "a,b", '"q"', "\n=x")])
    assert next(csv.reader(io.StringIO(buf.getvalue()))) == ["'=1+1", "a,b", '"q"', "'\n=x"]
