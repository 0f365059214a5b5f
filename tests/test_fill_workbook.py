"""`fill --workbook` and `build --scenarios`: the quote gets the CSV's inputs, never a computed
result, with names written as catalog ids; an existing quote's rows are kept, updated by label,
or replaced on request."""

import csv

from click.testing import CliRunner
from openpyxl import load_workbook

from llmcalc_xl.cli.main import main
from llmcalc_xl.workbook.quote import merge_scenarios
from llmcalc_xl.workbook.build import FIRST_ROW, _Layout


def _csv(path, rows):
    keys = sorted({k for r in rows for k in r})
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, keys)
        w.writeheader()
        w.writerows(rows)
    return path


def _inputs(path):
    ws = load_workbook(path)["Scenarios"]
    layout = _Layout()
    rows = []
    r = FIRST_ROW
    while ws[f"{layout.input_col['model']}{r}"].value:
        rows.append({k: ws[f"{c}{r}"].value for k, c in layout.input_col.items()})
        r += 1
    return rows


ROWS = [
    dict(scenario="chat", model="Llama 3 70B", hardware="H100", gpus=4, precision="FP8", batch=8,
         requests_per_month=1000000),
    dict(scenario="cached api", model="gpt-4o", input_tokens=10000, cached_input_tokens=6000, output_tokens=500,
         requests_per_month=100000),
    dict(model="llama-3-8b", hardware="A100 80GB", utilization=0.4, decode_mbu=0.5, requests_per_month=300000),
]


def test_inputs_stay_inputs_with_names_as_catalog_ids(tmp_path):
    src = _csv(tmp_path / "s.csv", ROWS)
    quote = tmp_path / "q.xlsx"
    r = CliRunner().invoke(main, ["fill", str(src), "--out", str(tmp_path / "r.csv"), "--workbook", str(quote)])
    assert r.exit_code == 0, r.output
    got = _inputs(quote)
    assert [g["model"] for g in got] == ["llama-3-70b", "gpt-4o", "llama-3-8b"]
    assert [g["hardware"] for g in got] == ["h100-sxm", None, "a100-80gb"]
    assert got[0]["precision"] == "fp8" and got[0]["scenario"] == "chat"
    assert got[2]["scenario"] == "llama-3-8b on A100 80GB"  # what the user typed, kept as the label
    # the options arrive; nothing computed is written into an input
    assert got[1]["cached_input_tokens"] == 6000
    assert got[2]["utilization"] == 0.4 and got[2]["decode_mbu"] == 0.5
    assert all(g["latency_s"] is None and g["price_per_hour"] is None for g in got)
    assert all(g["engine"] is None and g["kv_precision"] is None for g in got)


def test_an_existing_quote_keeps_its_rows_and_updates_by_label(tmp_path):
    quote = tmp_path / "q.xlsx"
    r = CliRunner().invoke(main, ["build", "--out", str(quote)])
    assert r.exit_code == 0, r.output
    before = _inputs(quote)
    first = before[0]["scenario"]
    src = _csv(tmp_path / "s.csv", [dict(scenario=first, model="llama-3-8b", hardware="l4"),
                                    dict(scenario="new one", model="gpt-4o", requests_per_month=5)])
    r = CliRunner().invoke(main, ["fill", str(src), "--out", str(tmp_path / "r.csv"), "--workbook", str(quote)])
    assert r.exit_code == 0, r.output
    assert f"1 added, 1 updated, {len(before) - 1} kept" in r.output
    after = _inputs(quote)
    assert len(after) == len(before) + 1
    assert after[0]["scenario"] == first and after[0]["hardware"] == "l4"
    assert after[1:len(before)] == before[1:]
    assert after[-1]["scenario"] == "new one"
    r = CliRunner().invoke(main, ["fill", str(src), "--out", str(tmp_path / "r.csv"), "--workbook", str(quote),
                                  "--replace"])
    assert r.exit_code == 0, r.output
    assert f"{len(before) + 1} replaced by 2" in r.output
    assert [g["scenario"] for g in _inputs(quote)] == [first, "new one"]


def test_replace_without_a_workbook_is_refused(tmp_path):
    src = _csv(tmp_path / "s.csv", ROWS)
    r = CliRunner().invoke(main, ["fill", str(src), "--replace"])
    assert r.exit_code == 2 and "--replace needs --workbook" in r.output


def test_merge_rules():
    old = [dict(scenario="a", model="x"), dict(scenario="b", model="y"), dict(scenario=None, model="z")]
    new = [dict(scenario="b", model="y2"), dict(scenario=None, model="w"), dict(scenario="b", model="y3")]
    rows, n = merge_scenarios(old, new)
    assert [r["model"] for r in rows] == ["x", "y2", "z", "w", "y3"]
    assert n == dict(added=2, updated=1, kept=2, replaced=0)
    rows, n = merge_scenarios(old, new, replace=True)
    assert rows == new and n == dict(added=3, updated=0, kept=0, replaced=3)


def test_build_scenarios_keeps_every_option(tmp_path):
    src = _csv(tmp_path / "s.csv", ROWS)
    quote = tmp_path / "q.xlsx"
    r = CliRunner().invoke(main, ["build", "--scenarios", str(src), "--out", str(quote)])
    assert r.exit_code == 0, r.output
    got = _inputs(quote)
    assert got[1]["cached_input_tokens"] == 6000 and got[2]["utilization"] == 0.4
    assert got[0]["hardware"] == "h100-sxm"
