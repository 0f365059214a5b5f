"""The quote workbook: LibreOffice computes it, and every result equals the core's.

LibreOffice (Debian's libreoffice-calc-nogui, installed by .ci/run) is the second engine: it
recalculates the file openpyxl wrote, and the test reads what it computed (tests/spreadsheets.py;
Gnumeric, the OOXML validator and the formula linter are in tests/test_spreadsheets.py).
"""

import math
import re
import zipfile

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from openpyxl.utils import column_index_from_string

from llmcalc_xl import estimate, estimate_many
from llmcalc_xl.workbook import formulas as F
from llmcalc_xl.cli.main import main
from llmcalc_xl.core.plan import breakeven_many
from llmcalc_xl.workbook.build import (DEFAULT_SCENARIOS, FIRST_ROW, QUOTE_FIRST_ROW, _Layout, build_workbook,
                                 quote_total_row, save_atomically)

from .spreadsheets import problem, core_of as _core
from .spreadsheets import mismatches, unexpected_errors, needs_libreoffice, recalculate, scenario_outputs




STRESS = [  # beyond the default quote: TP beyond KV heads, layer split, static batching, owned box
    dict(scenario="Llama 3 70B on 16 H100 (KV heads replicated)", model="llama-3-70b", hardware="h100-sxm",
         gpus=16, input_tokens=4000, output_tokens=1000, batch=64, requests_per_month=10_000_000),
    dict(scenario="Llama 2 70B Q4_0 split over 2 RTX 3090", model="llama-2-70b", hardware="rtx-3090", gpus=2,
         precision="q4_0", input_tokens=500, output_tokens=200, requests_per_month=20_000),
    dict(scenario="HF transformers static batch", model="llama-2-13b", hardware="a100-80gb", engine="transformers",
         input_tokens=1000, output_tokens=256, batch=4, requests_per_month=100_000),
    dict(scenario="TensorRT-LLM FP8 with an FP8 KV cache", model="llama-3.1-8b", hardware="h100-sxm",
         engine="tensorrt-llm", precision="fp8", kv_precision="fp8", input_tokens=3000, output_tokens=300,
         batch=64, requests_per_month=30_000_000, context_tokens=8192),
    dict(scenario="gpt-oss-120b MXFP4 on one H100", model="gpt-oss-120b", hardware="h100-sxm", precision="mxfp4",
         input_tokens=1500, output_tokens=800, batch=16, requests_per_month=1_000_000),
    dict(scenario="Phi-3 mini on an 8 GB CPU box", model="phi-3-mini", hardware="cpu-8gb", precision="q4_k_m",
         input_tokens=300, output_tokens=100, requests_per_month=1_000, price_per_hour=0.05),
    dict(scenario="Qwen2.5 72B on MI300X, own price", model="qwen2.5-72b", hardware="mi300x", engine="vllm",
         input_tokens=2000, output_tokens=500, batch=32, price_per_hour=1.9, requests_per_month=2_000_000),
    dict(scenario="Claude model, no GPU", model="claude-sonnet-4.6", input_tokens=5000, output_tokens=700,
         requests_per_month=300_000),
]


@pytest.fixture(scope="module")
def computed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("quote")
    rows = list(DEFAULT_SCENARIOS) + STRESS
    path = save_atomically(build_workbook(rows, client="Test client", prepared_by="Tests"), tmp / "quote.xlsx")
    return rows, path, load_workbook(recalculate(path, tmp), data_only=True)


@needs_libreoffice
def test_every_result_equals_the_core(computed):
    rows, _, wb = computed
    got = scenario_outputs(wb["Scenarios"], len(rows))
    assert [problem(got(i, "check")) for i in range(len(rows))] == [None] * len(rows)
    # GPT-4 (the research notes' example) is still priced, with the note its provider retired it
    gpt4 = next(i for i, r in enumerate(rows) if r["model"] == "gpt-4")
    retired_note = next(n.text for n in estimate("gpt-4").notes if n.kind == "retired")
    successor = retired_note.split("successor is ")[1].strip(".")
    assert got(gpt4, "check").startswith("Note: 'gpt-4' was retired on 2026-10-23") and successor in got(gpt4, "check")
    bad = mismatches("LibreOffice", rows, _core(rows), got, F.OUTPUT_KEYS, "n/a", no_fit="does not fit")
    assert bad == [] and len(rows) * len(F.OUTPUT_KEYS) >= 400, "\n".join(bad[:20])


@needs_libreoffice
def test_the_stress_rows_exercise_what_they_claim(computed):
    rows, _, wb = computed
    ws, layout = wb["Scenarios"], _Layout()

    def value(scenario, key):
        r = FIRST_ROW + [x["scenario"] for x in rows].index(scenario)
        return ws.cell(r, column_index_from_string(layout.output_col[key])).value

    assert value("Llama 3.1 405B FP16 on one A100 80GB (does not fit)", "fits") is False
    assert value("Llama 2 7B chat on one A100 40GB", "fits") is True
    assert value("GPT-4o API only", "weights_gib") == "n/a"
    assert round(value("GPT-4 API, 500-token answers (research notes)", "cost_per_request_usd"), 4) == 0.0324


@needs_libreoffice
def test_no_cell_is_an_error_value(computed):
    _, _, wb = computed
    bad = unexpected_errors(wb)
    assert bad == []


@needs_libreoffice
def test_quote_break_even_equals_the_core(computed):
    rows, _, wb = computed
    q = wb["Quote"]
    api = wb["Assumptions"]["B9"].value  # compare_api_model
    assert api == "gpt-4o"
    for i, row in enumerate(rows):
        got = q.cell(QUOTE_FIRST_ROW + i, 9).value
        if not row.get("hardware") or row["model"].startswith(("gpt", "claude")):
            continue
        want = breakeven_many(api, row["model"], row["hardware"], **{k: row.get(k) for k in
                              ("gpus", "batch", "precision", "engine", "input_tokens", "output_tokens",
                               "price_per_hour", "kv_precision", "context_tokens")})["breakeven_requests_per_month"][0]
        if "does not fit" in row["scenario"]:
            want = math.nan  # no cost, hence no break-even, for what cannot run
        if math.isinf(want):
            assert got == "never", row["scenario"]
        elif math.isnan(want):
            assert got == "n/a", row["scenario"]
        else:
            assert math.isclose(got, want, rel_tol=1e-9), (row["scenario"], got, want)


@needs_libreoffice
def test_quote_break_even_of_a_fleet_with_peak_and_spares_equals_the_core(tmp_path):
    rows = [dict(scenario="peak and a spare", model="llama-3.1-8b", hardware="l4", gpus=2, batch=32, peak_to_average=2.5,
                 redundancy=1, requests_per_month=1_000_000),
            dict(scenario="peak only", model="llama-3-8b", hardware="h100-sxm", peak_to_average=1.7,
                 requests_per_month=1_000_000),
            dict(scenario="spares only", model="llama-3-8b", hardware="a100-80gb", redundancy=2, batch=8,
                 requests_per_month=1_000_000),
            dict(scenario="autoscaled", model="llama-3-8b", hardware="h100-sxm", peak_to_average=2, autoscale="yes",
                 requests_per_month=1_000_000)]
    path = save_atomically(build_workbook(rows), tmp_path / "fleet.xlsx")
    q = load_workbook(recalculate(path, tmp_path), data_only=True)["Quote"]
    for i, row in enumerate(rows):
        got = q.cell(QUOTE_FIRST_ROW + i, 9).value
        if row.get("autoscale"):
            assert got == "autoscaled: see LLM_BREAKEVEN"
            continue
        options = {k: v for k, v in row.items() if k not in ("scenario", "model", "hardware", "requests_per_month")}
        want = breakeven_many("gpt-4o", row["model"], row["hardware"], **options)["breakeven_requests_per_month"][0]
        assert math.isfinite(want) and math.isclose(got, want, rel_tol=1e-9), (row["scenario"], got, want)


@needs_libreoffice
def test_quote_own_and_rent_columns_equal_the_core(computed):
    rows, _, wb = computed
    q = wb["Quote"]
    cols = {"owned_monthly_cost_usd": 12, "rented_monthly_cost_usd": 13}
    assert q.cell(QUOTE_FIRST_ROW - 1, 12).value.startswith("Own, monthly")
    assert q.cell(QUOTE_FIRST_ROW - 1, 13).value.startswith("Rent, monthly")
    seen = 0
    for i, row in enumerate(rows):
        core = estimate_many(**{k: [v] for k, v in row.items() if k != "scenario"})
        for key, col in cols.items():
            got, want = q.cell(QUOTE_FIRST_ROW + i, col).value, float(core[key][0])
            if core["model_kind"][0] == "api" or core["fits"][0] != 1:
                assert got in (None, ""), (row["scenario"], key, got)
            elif math.isnan(want):
                assert got == "n/a", (row["scenario"], key, got)
            else:
                assert math.isclose(got, want, rel_tol=1e-9), (row["scenario"], key, got, want)
                seen += 1
    assert seen >= 8  # owned and rented figures of several rows


@needs_libreoffice
def test_a_changed_input_moves_the_totals(tmp_path):
    """The numbers are live formulas: change a price in the Hardware table and the costs follow."""
    wb = build_workbook([dict(scenario="a", model="llama-3-8b", hardware="l4", requests_per_month=1_000_000)])
    hw = wb["Hardware"]
    col = [c.value for c in hw[1]].index("price_usd_per_hour") + 1
    row = [c.value for c in hw["A"]].index("l4") + 1
    hw.cell(row, col).value = 10.0
    path = save_atomically(wb, tmp_path / "edited.xlsx")
    ws = load_workbook(recalculate(path, tmp_path), data_only=True)["Scenarios"]
    layout = _Layout()
    got = ws.cell(FIRST_ROW, column_index_from_string(layout.output_col["cost_per_request_usd"])).value
    want = estimate_many("llama-3-8b", "l4", price_per_hour=10.0)["cost_per_request_usd"][0]
    assert math.isclose(got, want, rel_tol=1e-9)


# --- what Excel would refuse to open, checked without Excel ---------------------------------------

@pytest.fixture(scope="module")
def written(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lint")
    path = save_atomically(build_workbook(list(DEFAULT_SCENARIOS) + STRESS), tmp / "quote.xlsx")
    return path, load_workbook(path)


def test_names_tables_and_titles_are_valid(written):
    _, wb = written
    cell_like = re.compile(r"^[A-Za-z]{1,3}[0-9]+$|^[Rr][0-9]*[Cc][0-9]*$")
    names = list(wb.defined_names)
    assert len(names) == len({n.lower() for n in names})
    for n in names:
        assert re.match(r"^[A-Za-z_][A-Za-z0-9_.]*$", n) and not cell_like.match(n), n
    tables = [t for ws in wb.worksheets for t in ws.tables.values()]
    assert len({t.displayName.lower() for t in tables}) == len(tables) == 4
    assert not {t.displayName.lower() for t in tables} & {n.lower() for n in names}
    for ws in wb.worksheets:
        assert len(ws.title) <= 31
        for t in ws.tables.values():
            headers = [ws.cell(1, c).value for c in range(1, len(t.tableColumns) + 1)]
            assert all(isinstance(h, str) and h for h in headers) and len(set(headers)) == len(headers)


def test_text_from_a_csv_is_never_a_formula(tmp_path):
    import csv as csvlib
    csv = tmp_path / "s.csv"
    with open(csv, "w", newline="", encoding="utf-8") as fh:  # quoted as Excel writes it
        writer = csvlib.writer(fh)
        writer.writerows([["scenario", "model", "hardware"], ['=HYPERLINK("http://x","click")', "llama-3-8b", "l4"],
                          ["+cmd", "llama-3-8b", "l4"], ["@SUM(1)", "llama-3-8b", "l4"]])
    out = tmp_path / "q.xlsx"
    r = CliRunner().invoke(main, ["build", "--scenarios", str(csv), "--out", str(out)])
    assert r.exit_code == 0, r.output
    ws = load_workbook(out)["Scenarios"]
    labels = [ws.cell(FIRST_ROW + i, 1) for i in range(3)]
    assert [c.value for c in labels] == ['=HYPERLINK("http://x","click")', "+cmd", "@SUM(1)"]
    assert all(c.data_type == "s" for c in labels)
    with zipfile.ZipFile(out) as z:
        sheet = z.read("xl/worksheets/sheet2.xml").decode()
    assert "<f>HYPERLINK" not in sheet


def test_bad_rows_are_reported_and_good_rows_built(tmp_path):
    csv = tmp_path / "s.csv"
    csv.write_bytes(b"\xef\xbb\xbfScenario;Model;Hardware;Input Tokens;output-tokens\r\n"
                    b"ok;llama-3-8b;l4;1000;500\r\nbad;llama-9;l4;1000;500\r\nneg;llama-3-8b;l4;-5;500\r\n\r\n")
    out = tmp_path / "q.xlsx"
    r = CliRunner().invoke(main, ["build", "--scenarios", str(csv), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "Wrote" in r.output and "(1 scenario)" in r.output
    assert "Skipped row 3: Unknown model 'llama-9'. Did you mean:" in r.output
    assert "Skipped row 4: input_tokens must be >= 0, got -5" in r.output


@pytest.mark.parametrize("content, message", [
    ("name,price\nx,1\n", "has no model column (columns found: name, price)"),
    ("", "is empty"),
])
def test_a_file_that_is_not_a_scenarios_csv(tmp_path, content, message):
    csv = tmp_path / "s.csv"
    csv.write_text(content)
    r = CliRunner().invoke(main, ["build", "--scenarios", str(csv), "--out", str(tmp_path / "q.xlsx")])
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output
    assert not (tmp_path / "q.xlsx").exists()


def test_output_path_rules_and_nothing_half_written(tmp_path):
    r = CliRunner().invoke(main, ["build", "--out", str(tmp_path / "missing" / "q.xlsx")])
    assert r.exit_code == 2 and "Output folder" in r.output and "does not exist" in r.output
    out = tmp_path / "q.xlsx"
    assert CliRunner().invoke(main, ["build", "--out", str(out)]).exit_code == 0
    r = CliRunner().invoke(main, ["build", "--out", str(out)])
    assert r.exit_code == 2 and "already exists. Add --force" in r.output
    assert CliRunner().invoke(main, ["build", "--out", str(out), "--force"]).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.xlsx"]


def test_raw_inputs_are_read_only_where_their_defaults_are_resolved():
    """An empty cell means "the default"; a formula reading the raw cell would see 0 instead.
    Only the column resolving an input, and the Check columns, read the raw cell."""
    resolving = {"gpus": {"gpus_in", "gpus_auto"}, "batch": {"sequences", "batch_max"}, "input_tokens": {"prompt"},
                 "output_tokens": {"output"}, "cached_input_tokens": {"cached"}, "utilization": {"util"},
                 "context_tokens": {"context", "problems_9"}}
    for c in F.columns():
        for raw, readers in resolving.items():
            if "{" + raw + "}" in c.formula and not c.key.startswith("problems_"):
                assert c.key in readers, f"Calc column {c.key} reads the raw input {raw}"


@needs_libreoffice
def test_export_writes_the_calculated_scenarios(computed, tmp_path):
    import csv as csvlib

    rows, path, _ = computed
    calculated = recalculate(path, tmp_path)
    out = tmp_path / "scenarios.csv"
    r = CliRunner().invoke(main, ["export", str(calculated), "--out", str(out)])
    assert r.exit_code == 0, r.output
    records = list(csvlib.DictReader(open(out, encoding="utf-8")))
    assert len(records) == len(rows)
    assert set(F.OUTPUT_KEYS) <= set(records[0]) and "latency_s_input" in records[0]
    core = _core(rows)
    for i, rec in enumerate(records):
        assert rec["model"] == rows[i]["model"]
        want = core["cost_per_request_usd"][i]
        if not math.isnan(want):
            assert math.isclose(float(rec["cost_per_request_usd"]), want, rel_tol=1e-9)
    assert records[2]["latency_s_input"] == "3.5" and math.isclose(float(records[2]["latency_s"]), 3.5)


def test_export_refuses_what_is_not_a_workbook(tmp_path):
    fake = tmp_path / "x.xlsx"
    fake.write_text("not a zip")
    r = CliRunner().invoke(main, ["export", str(fake)])
    assert r.exit_code == 2 and "is not an .xlsx workbook" in r.output
    r = CliRunner().invoke(main, ["export", str(tmp_path / "missing.xlsx")])
    assert r.exit_code == 2 and "does not exist" in r.output


def test_a_restyled_template_is_used(tmp_path):
    from openpyxl.styles import Font

    from llmcalc_xl.workbook.template import default_template

    tpl = default_template()
    style = next(s for s in tpl._named_styles if s.name == "Quote Input")
    style.font = Font(color="7030A0", bold=True)  # the team's own input colour
    tpl["Cover"]["A18"] = "Prices valid for {client} only."
    terms = tpl.create_sheet("Terms")
    terms["A1"] = "Our terms and conditions"
    tpl_path = tmp_path / "ours.xlsx"
    tpl.save(tpl_path)
    out = tmp_path / "q.xlsx"
    r = CliRunner().invoke(main, ["build", "--template", str(tpl_path), "--client", "=Acme", "--out", str(out)])
    assert r.exit_code == 0, r.output
    wb = load_workbook(out)
    assert wb.sheetnames[0] == "Cover" and wb.sheetnames[-1] == "Terms"
    cover = wb["Cover"]
    assert cover["B3"].value == "=Acme" and cover["B3"].data_type == "s"
    assert cover["A18"].value == "Prices valid for =Acme only."
    assert cover["B9"].data_type == "f"
    model_cell = wb["Scenarios"].cell(FIRST_ROW, 2)
    assert model_cell.style == "Quote Input" and model_cell.font.color.rgb.endswith("7030A0")


def test_template_without_a_cover_is_refused(tmp_path):
    from openpyxl import Workbook
    bad = tmp_path / "bad.xlsx"
    Workbook().save(bad)
    r = CliRunner().invoke(main, ["build", "--template", str(bad), "--out", str(tmp_path / "q.xlsx")])
    assert r.exit_code == 2 and "has no Cover sheet" in r.output


@needs_libreoffice
def test_cover_summary_counts_the_scenarios_and_totals(computed):
    rows, _, wb = computed
    summary = wb["Cover"]["B9"].value
    total = wb["Quote"].cell(quote_total_row(len(rows) + 10), 5).value  # below the quoted and the spare rows
    assert isinstance(total, (int, float)) and total > 0
    flags = [wb["Quote"].cell(QUOTE_FIRST_ROW + i, 11).value for i in range(len(rows))]
    left_out = sum(1 for f in flags if f.startswith("no"))
    assert left_out >= 1  # the 405B that does not fit
    assert summary.startswith(f"{len(rows) - left_out} scenarios: {total:,.0f} USD a month as quoted; the same "
                              "traffic on gpt-4o")
    assert summary.endswith(f"{left_out} more left out: see the Quote sheet.")


def test_with_functions_adds_live_examples_equal_to_the_core(tmp_path):
    import inspect

    from llmcalc_xl import estimate
    from llmcalc_xl.excel import functions as udfs

    out = tmp_path / "q.xlsx"
    r = CliRunner().invoke(main, ["build", "--with-functions", "--out", str(out)])
    assert r.exit_code == 0, r.output
    wb = load_workbook(out)
    ws = wb["Functions"]
    rows = list(ws.iter_rows(min_row=5, max_col=5, values_only=True))
    assert len(rows) >= 10
    for what, text, live, expected, native in rows:
        assert text == live and live.startswith("=LLM_")
        name, args = re.match(r"=(LLM_[A-Z_]+)\((.*)\)$", live).groups()
        f = getattr(udfs, name)
        params = inspect.signature(f).parameters
        required = [p for p in params.values() if p.default is inspect.Parameter.empty]
        assert len(required) <= len(args.split(",")) <= len(params), live
        assert expected is not None and not str(expected).startswith("#LLM!"), (what, expected)
    assert rows[0][3] == estimate("gpt-4o", input_tokens=1000, output_tokens=500).cost_per_request_usd
    first_scenario = next(r for r in rows if r[4])
    assert first_scenario[3] == estimate(**{k: v for k, v in DEFAULT_SCENARIOS[0].items()
                                            if k != "scenario"}).cost_per_request_usd
    assert "Functions" not in load_workbook(save_atomically(build_workbook(None), tmp_path / "plain.xlsx")).sheetnames


@needs_libreoffice
def test_rows_the_core_refuses_are_flagged_not_computed(tmp_path):
    bad = [dict(scenario="too long", model="llama-3-8b", hardware="l4", input_tokens=9000, output_tokens=100),
           dict(scenario="TRT on a Mac", model="llama-3-8b", hardware="apple-m2-max", engine="tensorrt-llm"),
           dict(scenario="TRT on AMD", model="llama-3-8b", hardware="mi300x", engine="tensorrt-llm"),
           dict(scenario="AWQ on llama.cpp", model="llama-3-8b", hardware="rtx-4090", engine="llama.cpp",
                precision="int4"),
           dict(scenario="unknown GPU", model="llama-3-8b", hardware="h900")]
    good = [dict(scenario="fine", model="llama-3-8b", hardware="l4", engine="vllm", precision="fp8")]
    core = _core(bad + good)
    assert all(e is not None for e in core["error"][:len(bad)]) and core["error"][-1] is None
    path = save_atomically(build_workbook(bad + good), tmp_path / "q.xlsx")
    ws = load_workbook(recalculate(path, tmp_path), data_only=True)["Scenarios"]
    layout = _Layout()
    check = column_index_from_string(layout.check_col)
    cost = column_index_from_string(layout.output_col["cost_per_request_usd"])
    for i in range(len(bad)):
        assert ws.cell(FIRST_ROW + i, check).value, bad[i]["scenario"]
        assert ws.cell(FIRST_ROW + i, cost).value in (None, ""), bad[i]["scenario"]
    last = FIRST_ROW + len(bad)
    assert ws.cell(last, check).value in (None, "")
    assert math.isclose(ws.cell(last, cost).value, core["cost_per_request_usd"][-1], rel_tol=1e-9)


@needs_libreoffice
def test_quote_totals_cover_the_same_rows(computed):
    """Both totals sum the rows marked "yes" in In totals; every left-out row says why; the
    effective cost per request times the requests gives the monthly cost."""
    rows, _, wb = computed
    q = wb["Quote"]
    core = _core(rows)
    n = len(rows) + 10
    monthly = api = requests = 0.0
    for i, row in enumerate(rows):
        r = QUOTE_FIRST_ROW + i
        d, e, f, h, flag = (q.cell(r, c).value for c in (4, 5, 6, 8, 11))
        if flag == "yes":
            assert e == pytest.approx(core["monthly_cost_usd"][i], rel=1e-9), row["scenario"]
            assert f * d == pytest.approx(e, rel=1e-9)
            monthly, api, requests = monthly + e, api + h, requests + d
        else:
            assert flag.startswith("no: ") and not isinstance(e, (int, float)), (row["scenario"], flag, e)
    assert q.cell(quote_total_row(n), 4).value == pytest.approx(requests, rel=1e-12)
    assert q.cell(quote_total_row(n), 5).value == pytest.approx(monthly, rel=1e-12)
    assert q.cell(quote_total_row(n), 8).value == pytest.approx(api, rel=1e-12)
    not_fit = next(i for i, r in enumerate(rows) if "does not fit" in r["scenario"])
    assert q.cell(QUOTE_FIRST_ROW + not_fit, 5).value == f"does not fit: needs {core['gpus_needed'][not_fit]:.0f} GPUs"
    headers = [q.cell(QUOTE_FIRST_ROW - 1, c).value for c in range(1, 12)]
    assert headers[4] == "Monthly cost (USD)" and headers[7] == "Same traffic on the API, monthly (USD)"


@needs_libreoffice
def test_libreoffice_prints_the_quote_to_pdf(tmp_path):
    """The printed quote: Cover, Quote, Forecast, Sensitivity, four pages of Scenarios, Assumptions, and a
    one-line stub for each reference sheet (a conditional format once made LibreOffice's PDF export crash)."""
    import subprocess

    from .spreadsheets import SOFFICE, libreoffice_profile

    path = save_atomically(build_workbook(None), tmp_path / "q.xlsx")
    subprocess.run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation={libreoffice_profile().as_uri()}",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)], capture_output=True, timeout=300)
    pdf = (tmp_path / "q.pdf").read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page\b", pdf))
    assert pdf.startswith(b"%PDF") and 1 + 1 + 1 + 1 + 4 + 1 <= pages <= 1 + 1 + 1 + 1 + 4 + 2 + 6, pages


def test_the_cover_prints_on_one_readable_page(tmp_path):
    """Every text of the Cover stays inside its three printed columns: a long text wraps in its cell
    instead of running to the right (which made fit-to-width shrink the printed cover to ~30%)."""
    out = tmp_path / "q.xlsx"
    r = CliRunner().invoke(main, ["build", "--out", str(out)])
    assert r.exit_code == 0, r.output
    cover = load_workbook(out)["Cover"]
    assert cover.max_column == 3
    widths = {c: cover.column_dimensions[c].width for c in "ABC"}
    for row in cover.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and not cell.value.startswith("="):
                room = widths[cell.column_letter] if cell.alignment.wrap_text else sum(
                    w for c, w in widths.items() if c >= cell.column_letter)
                assert len(cell.value) <= room * (4 if cell.alignment.wrap_text else 1.05), cell.coordinate
    assert cover["B9"].alignment.wrap_text and cover["C10"].alignment.wrap_text  # the summary and the note
