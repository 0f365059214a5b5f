"""`llmcalc-xl refresh`: a rebuilt workbook that keeps everything the user typed."""

import math
import zipfile

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from openpyxl.utils import column_index_from_string

from llmcalc_xl import estimate_many
from llmcalc_xl.cli.main import main
from llmcalc_xl.workbook.build import FIRST_ROW, _Layout, build_workbook, save_atomically

from .spreadsheets import needs_libreoffice, recalculate

OUR_BOX = dict(id="our-box", name="Our inference box", kind="gpu", memory_gib=96, bandwidth_gb_s=1600,
               tflops_fp16=500, price_usd_per_hour=1.2, price_provider="us", price_source="quote Q-1",
               price_as_of="2026-11-01", source="vendor quote Q-1", as_of="2026-11-01")


def _user_edits(path):
    """What a finance user does in Excel: edit inputs, fill a spare row, change a price, add a device."""
    wb = load_workbook(path)
    layout = _Layout()
    sc = wb["Scenarios"]
    sc[f"{layout.input_col['input_tokens']}{FIRST_ROW}"] = 3000
    r = FIRST_ROW + 1
    for key, value in (("scenario", "=our box"), ("model", "llama-3-8b"), ("hardware", "our-box"),
                       ("requests_per_month", 50_000)):
        sc[f"{layout.input_col[key]}{r}"] = value
    sc[f"{layout.input_col['scenario']}{r}"].data_type = "s"
    wb["Cover"]["B3"] = "New client"
    assumptions = wb["Assumptions"]
    row = [c.value for c in assumptions["A"]].index("utilization") + 1
    assumptions.cell(row, 2).value = 0.8
    hw = wb["Hardware"]
    fields = [c.value for c in hw[1]]
    h100 = [c.value for c in hw["A"]].index("h100-sxm") + 1
    hw.cell(h100, fields.index("price_usd_per_hour") + 1).value = 1.85
    new = hw.max_row + 1
    for k, v in OUR_BOX.items():
        hw.cell(new, fields.index(k) + 1).value = v
    wb.save(path)


@pytest.fixture
def refreshed(tmp_path):
    out = tmp_path / "q.xlsx"
    save_atomically(build_workbook([dict(scenario="a", model="llama-3-8b", hardware="h100-sxm",
                                         requests_per_month=1000)], client="Old client"), out)
    _user_edits(out)
    result = CliRunner().invoke(main, ["refresh", str(out)])
    return out, result


def test_refresh_reports_what_it_kept(refreshed):
    out, r = refreshed
    assert r.exit_code == 0, r.output
    assert f"Refreshed {out} (2 scenarios); the previous version is in" in r.output
    assert "Kept your Hardware h100-sxm price_usd_per_hour = 1.85" in r.output
    assert "Kept your Hardware row our-box" in r.output
    assert "Kept your assumption utilization = 0.8" in r.output
    assert (out.parent / "q.backup.xlsx").exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["q.backup.xlsx", "q.xlsx"]


def test_refresh_keeps_the_inputs(refreshed):
    out, _ = refreshed
    wb = load_workbook(out)
    layout = _Layout()
    sc = wb["Scenarios"]
    assert wb["Cover"]["B3"].value == "New client"
    assert sc[f"{layout.input_col['input_tokens']}{FIRST_ROW}"].value == 3000
    label = sc[f"{layout.input_col['scenario']}{FIRST_ROW + 1}"]
    assert label.value == "=our box" and label.data_type == "s"
    hw = wb["Hardware"]
    assert "our-box" in [c.value for c in hw["A"]]
    table = next(iter(hw.tables.values()))
    assert table.ref.endswith(str(hw.max_row))


@needs_libreoffice
def test_refreshed_workbook_computes_the_users_edits(refreshed, tmp_path):
    out, _ = refreshed
    ws = load_workbook(recalculate(out, tmp_path), data_only=True)["Scenarios"]
    layout = _Layout()
    col = column_index_from_string(layout.output_col["cost_per_request_usd"])
    user_catalog = tmp_path / "ours.toml"
    user_catalog.write_text("[[hardware]]\n" + "\n".join(
        f"{k} = {v!r}".replace("'", '"') for k, v in OUR_BOX.items()) + "\n")
    want = estimate_many(["llama-3-8b", "llama-3-8b"], ["h100-sxm", "our-box"], input_tokens=[3000, None],
                         price_per_hour=[1.85, None], utilization=0.8, catalog=[user_catalog])
    for i in range(2):
        assert math.isclose(ws.cell(FIRST_ROW + i, col).value, want["cost_per_request_usd"][i], rel_tol=1e-9)


def test_refuses_a_workbook_open_in_excel(tmp_path):
    out = tmp_path / "q.xlsx"
    save_atomically(build_workbook(None), out)
    (tmp_path / "~$q.xlsx").write_bytes(b"lock")
    r = CliRunner().invoke(main, ["refresh", str(out)])
    assert r.exit_code == 2
    assert r.output == "Error: 'q.xlsx' is open in Excel (its lock file ~$q.xlsx is beside it). Close it in Excel " \
                       "and try again.\n"


def test_refuses_content_it_would_drop_unless_forced(tmp_path):
    out = tmp_path / "q.xlsx"
    save_atomically(build_workbook(None), out)
    with zipfile.ZipFile(out, "a") as z:
        z.writestr("customXml/item1.xml", "<x/>")
    before = out.read_bytes()
    r = CliRunner().invoke(main, ["refresh", str(out)])
    assert r.exit_code == 2 and "holds custom XML parts, which a refresh would drop" in r.output
    assert out.read_bytes() == before  # nothing written
    r = CliRunner().invoke(main, ["refresh", str(out), "--force"])
    assert r.exit_code == 0 and "Not carried: dropped as asked (--force): custom XML parts" in r.output
