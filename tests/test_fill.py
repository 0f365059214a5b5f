"""`llmcalc-xl fill`: every row kept and priced or explained, CSVs as Excel writes them."""

import csv
import json
import math

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from openpyxl.utils import column_index_from_string

from llmcalc_xl.cli.main import main
from llmcalc_xl.core.estimate import OUTPUT_KEYS
from llmcalc_xl.workbook.build import FIRST_ROW, _Layout

from .spreadsheets import needs_libreoffice, recalculate

HEADER = ["scenario", "Model", "Hardware", "GPUs", "Input Tokens", "output-tokens", "requests_per_month", "owner"]
TEN = [
    ["chat", "llama-3-8b", "l4", "1", "1000", "500", "100000", "ann"],
    ["big", "llama-3.1-70b", "h100-sxm", "4", "2000", "300", "1000000", "bob"],
    ["api", "gpt-4o", "", "", "1000", "500", "100000", "cy"],
    ["bad model", "llama-9", "l4", "1", "1000", "500", "10", "dee"],
    ["neg", "llama-3-8b", "l4", "1", "-5", "500", "10", "ed"],
    ['=HYPERLINK("http://x","click")', "llama-3-8b", "l4", "1", "100", "50", "10", "fi"],
    ["commas", "llama-3-8b", "l4", "1", "1,000", "500", "10", "gu"],
    ["empty model", "", "l4", "1", "1000", "500", "10", "ha"],
    ["moe", "mixtral-8x7b", "a100-80gb", "2", "1000", "300", "10", "io"],
    ["mac", "llama-3-8b", "apple-m3-ultra", "1", "500", "200", "10", "ju"],
]


def write_csv(path, rows, delimiter=",", encoding="utf-8", newline="\n"):
    with open(path, "w", newline="", encoding=encoding) as fh:
        csv.writer(fh, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return path


def read_out(path):
    return list(csv.DictReader(open(path, encoding="utf-8")))


@pytest.mark.parametrize("dialect", [
    dict(delimiter=",", encoding="utf-8", newline="\n"),
    dict(delimiter=";", encoding="utf-8-sig", newline="\r\n"),   # Excel in a European locale
    dict(delimiter="\t", encoding="utf-8", newline="\r\n"),
])
def test_ten_rows_in_order_bad_ones_explained(tmp_path, dialect):
    src = write_csv(tmp_path / "in.csv", [HEADER] + TEN, **dialect)
    with open(src, "a", encoding="utf-8") as fh:
        fh.write(dialect["newline"] * 2)  # blank trailing lines
    r = CliRunner().invoke(main, ["fill", str(src), "--out", str(tmp_path / "out.csv")])
    assert r.exit_code == 0, r.output
    semicolons = dialect["delimiter"] == ";"  # Excel where the comma is the decimal mark: "1,000" is 1
    assert ("Priced 10 rows: 7 ok, 3 with an error" if semicolons else "Priced 10 rows: 6 ok, 4 with an error") \
        in r.output
    out = read_out(tmp_path / "out.csv")
    assert [o["owner"] for o in out] == [row[7] for row in TEN]  # order kept, unknown column carried
    status = {o["owner"]: (o["status"], o["error"]) for o in out}
    assert status["dee"][0] == "error" and status["dee"][1].startswith("Unknown model 'llama-9'. Did you mean:")
    assert status["ed"] == ("error", "input_tokens must be >= 0, got -5")
    if semicolons:
        assert status["gu"] == ("ok", "") and out[6]["input_tokens_result"] == "1"
    else:
        assert status["gu"][1].startswith("input_tokens '1,000' could be 1000 (',' separating thousands) or 1 "
                                          "(',' as decimal mark)")
    assert status["ha"][1].startswith("model is empty")
    assert [o["status"] for o in out].count("ok") == (7 if semicolons else 6)
    assert out[5]["scenario"] == "'=HYPERLINK(\"http://x\",\"click\")"  # escaped text, never a live formula
    assert out[0]["Input Tokens"] == "1000" and out[0]["input_tokens_result"] == "1000"


def test_good_rows_equal_estimate_json(tmp_path):
    src = write_csv(tmp_path / "in.csv", [HEADER] + TEN)
    CliRunner().invoke(main, ["fill", str(src), "--out", str(tmp_path / "out.csv")])
    for row, out in zip(TEN, read_out(tmp_path / "out.csv")):
        if out["status"] != "ok":
            assert all(out[k] == "" for k in OUTPUT_KEYS)
            continue
        args = ["estimate", "--model", row[1], "--input-tokens", row[4], "--output-tokens", row[5],
                "--requests-per-month", row[6], "--json"]
        if row[2]:
            args += ["--hardware", row[2], "--gpus", row[3]]
        want = json.loads(CliRunner().invoke(main, args).output)
        for key in OUTPUT_KEYS:
            if want[key] is None:
                assert out[key] == "", key
            elif isinstance(want[key], bool):
                assert out[key] == str(want[key]).lower(), key
            else:
                assert math.isclose(float(out[key]), want[key], rel_tol=1e-12), key


def test_xlsx_output_keeps_text_as_text(tmp_path):
    src = write_csv(tmp_path / "in.csv", [HEADER] + TEN)
    r = CliRunner().invoke(main, ["fill", str(src), "--out", str(tmp_path / "out.xlsx")])
    assert r.exit_code == 0, r.output
    ws = load_workbook(tmp_path / "out.xlsx")["Results"]
    label = ws.cell(7, 1)
    assert label.value == '=HYPERLINK("http://x","click")' and label.data_type == "s"
    header = [c.value for c in ws[1]]
    cost = ws.cell(2, header.index("cost_per_request_usd") + 1)
    assert isinstance(cost.value, float) and cost.data_type == "n"
    assert ws.cell(5, header.index("status") + 1).value == "error"


def test_strict_fails_after_writing(tmp_path):
    src = write_csv(tmp_path / "in.csv", [HEADER] + TEN)
    r = CliRunner().invoke(main, ["fill", str(src), "--out", str(tmp_path / "out.csv"), "--strict"])
    assert r.exit_code == 1 and len(read_out(tmp_path / "out.csv")) == 10
    good = write_csv(tmp_path / "good.csv", [HEADER] + TEN[:3])
    assert CliRunner().invoke(main, ["fill", str(good), "--strict"]).exit_code == 0
    assert (tmp_path / "good.results.csv").exists()


@pytest.mark.parametrize("content, message", [
    (b"PK\x03\x04 rest of a zip", "is a workbook, not a CSV"),
    (b"\x00\x01\x02\x03binary", "is not a text file"),
    (b"name,price\nx,1\n", "has no model column (columns found: name, price)"),
    (b"", "is empty"),
    (b"\xff\xfe\x00m\x00o\x00d\x00e\x00l", "is not"),
])
def test_a_file_that_is_not_a_scenarios_csv(tmp_path, content, message):
    src = tmp_path / "in.csv"
    src.write_bytes(content)
    r = CliRunner().invoke(main, ["fill", str(src), "--out", str(tmp_path / "out.csv")])
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]  # nothing half-written


def test_output_rules(tmp_path):
    src = write_csv(tmp_path / "in.csv", [HEADER] + TEN[:2])
    r = CliRunner().invoke(main, ["fill", str(src), "--out", str(tmp_path / "out.json")])
    assert r.exit_code == 2 and "must end in .csv or .xlsx" in r.output
    r = CliRunner().invoke(main, ["fill", str(src), "--out", str(tmp_path / "nope" / "out.csv")])
    assert r.exit_code == 2 and "does not exist" in r.output


@needs_libreoffice
def test_rows_into_a_workbook_stay_live_and_equal_the_core(tmp_path):
    src = write_csv(tmp_path / "in.csv", [HEADER] + TEN)
    quote = tmp_path / "quote.xlsx"
    r = CliRunner().invoke(main, ["fill", str(src), "--out", str(tmp_path / "out.csv"), "--workbook", str(quote)])
    assert r.exit_code == 0, r.output
    assert "Put 6 scenarios into a new quote" in r.output
    out = [o for o in read_out(tmp_path / "out.csv") if o["status"] == "ok"]
    ws = load_workbook(recalculate(quote, tmp_path), data_only=True)["Scenarios"]
    layout = _Layout()
    col = column_index_from_string(layout.output_col["cost_per_request_usd"])
    label = column_index_from_string(layout.input_col["scenario"])
    for i, o in enumerate(out):
        assert ws.cell(FIRST_ROW + i, label).value == o["scenario"].lstrip("'")
        assert math.isclose(ws.cell(FIRST_ROW + i, col).value, float(o["cost_per_request_usd"]), rel_tol=1e-9)
    # again into the same quote: refreshed, the user's cover kept
    wb = load_workbook(quote)
    wb["Cover"]["B3"] = "Kept client"
    wb.save(quote)
    r = CliRunner().invoke(main, ["fill", str(src), "--workbook", str(quote)])
    assert r.exit_code == 0 and "0 added, 6 updated, 0 kept" in r.output, r.output
    assert load_workbook(quote)["Cover"]["B3"].value == "Kept client"


def test_csv_text_numbers_exact_and_text_round_trips():
    """The CSV writer (polars) prints each float so that it reads back to the same double, whole
    floats with ".0"; text with separators, quotes and line ends reads back as written; a gap is an
    empty cell, an empty text a quoted one; the header may hold the same name twice."""
    import io

    import pyarrow as pa

    from llmcalc_xl.batch.fill import _csv_text

    floats = [0.1 + 0.2, 4.0, 1e15, 1e22, 5e-324, 1.7976931348623157e308, -0.0, 2 / 3, 123456.789, None]
    texts = ["a,b", 'say "hi"', "two\nlines", " lead", "", None, "'=1+1", "é", "x", "y"]
    table = pa.table([pa.array(floats, pa.float64()), pa.array(texts, pa.string()),
                      pa.array(list(range(9)) + [None], pa.int64()), pa.array([True, False] * 5)],
                     names=["n, 1", "'=x", "'=x", "flag"])
    body = bytes(_csv_text(table, with_header=True)).decode("utf-8")
    rows = list(csv.reader(io.StringIO(body, newline="")))
    assert rows[0] == ["n, 1", "'=x", "'=x", "flag"]
    assert len(rows) == 11
    for row, number, text, count in zip(rows[1:], floats, texts, list(range(9)) + [None]):
        assert (row[0] == "") if number is None else (float(row[0]) == number and
                                                      math.copysign(1, float(row[0])) == math.copysign(1, number))
        assert row[1] == (text or "")
        assert row[2] == ("" if count is None else str(count))
    assert [r[3] for r in rows[1:]] == ["true", "false"] * 5
    lines = body.split("\n")
    assert lines[1].startswith("0.30000000000000004,") and lines[2].startswith("4.0,")  # shortest round trip
    assert ',"",' in body  # an empty text is kept apart from a gap
    assert bytes(_csv_text(table.slice(0, 0), with_header=True)).decode() == '"n, 1",\'=x,\'=x,flag\n'


def test_own_status_error_and_result_named_columns_keep_their_values(tmp_path):
    # a user's own "Status", "error" and "ttft_s" columns are carried through as typed; the results of
    # those names come with a _result suffix, and the command says so
    rows = [["model", "hardware", "Status", "error", "ttft_s"],
            ["llama-3-8b", "l4", "approved", "none seen", "keep me"],
            ["llama-9", "l4", "draft", "", "x"]]
    src = write_csv(tmp_path / "in.csv", rows)
    r = CliRunner().invoke(main, ["fill", str(src), "--out", str(tmp_path / "out.csv")])
    assert r.exit_code == 0, r.output
    assert "Note: the CSV's own columns 'Status', 'error', 'ttft_s' keep their values" in r.output
    out = read_out(tmp_path / "out.csv")
    assert [(o["Status"], o["error"], o["ttft_s"]) for o in out] == [("approved", "none seen", "keep me"),
                                                                      ("draft", "", "x")]
    assert [o["status_result"] for o in out] == ["ok", "error"]
    assert out[0]["error_result"] == "" and out[1]["error_result"].startswith("Unknown model 'llama-9'")
    assert float(out[0]["ttft_s_result"]) > 0 and out[1]["ttft_s_result"] == ""


def test_a_results_file_fed_in_again_loses_no_column(tmp_path):
    # its status, status_result and error_result are the CSV's own: the new results go beside them
    rows = [["model", "hardware", "status", "status_result", "error_result", "ttft_s_result"],
            ["llama-9", "l4", "ok", "ok", "", "0.1"]]
    src = write_csv(tmp_path / "in.csv", rows)
    r = CliRunner().invoke(main, ["fill", str(src), "--out", str(tmp_path / "out.csv")])
    assert r.exit_code == 0, r.output
    out = read_out(tmp_path / "out.csv")[0]
    assert (out["status"], out["status_result"], out["error_result"], out["ttft_s_result"]) == ("ok", "ok", "", "0.1")
    assert out["status_result_2"] == "error" and out["error"].startswith("Unknown model 'llama-9'")


def test_column_names_in_the_notes_are_shown_safely(tmp_path):
    # a name with a control character reaches the terminal escaped, quoted like the unused-columns warning
    src = write_csv(tmp_path / "in.csv", [["model", "hardware", "status\x1f"], ["llama-3-8b", "l4", "mine"]])
    r = CliRunner().invoke(main, ["fill", str(src), "--out", str(tmp_path / "out.csv")])
    assert r.exit_code == 0 and "'status\\x1f'" in r.output and "\x1f" not in r.output
    assert read_out(tmp_path / "out.csv")[0]["status\x1f"] == "mine"
