"""What the command line refuses, and how: nothing a user had is lost, every refusal is one line
``Error: ...`` with exit code 2, and no read runs without bound. One test per way it went wrong."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from llmcalc_xl.cli.main import main, safe_line
from llmcalc_xl.workbook.build import FIRST_ROW, _Layout, build_workbook, save_atomically

DATA = Path(__file__).parent / "data"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_error_line(r, *fragments):
    """The answer is exit code 2 and one line Error: ... holding each fragment, no traceback."""
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.stderr.startswith("Error: ") and r.stderr.count("\n") == 1, r.stderr
    for fragment in fragments:
        assert fragment in r.stderr, r.stderr


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def quote(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("quote") / "q.xlsx"
    save_atomically(build_workbook([dict(scenario="a", model="llama-3-8b", hardware="h100-sxm",
                                         requests_per_month=1000)]), path)
    return path


@pytest.fixture
def folder(tmp_path, quote):
    shutil.copy(quote, tmp_path / "q.xlsx")
    (tmp_path / "s.csv").write_text("model,hardware\nllama-3-8b,h100-sxm\n", encoding="utf-8")
    return tmp_path


@pytest.fixture(scope="module")
def calculated_quote(quote) -> Path:
    """The quote as a spreadsheet saves it: its Scenarios results as values."""
    wb = load_workbook(quote)
    for col in _Layout().output_col.values():
        wb["Scenarios"][f"{col}{FIRST_ROW}"] = 1.5
    wb.save(quote.with_name("calc.xlsx"))
    return quote.with_name("calc.xlsx")


@pytest.fixture
def calculated(folder, calculated_quote):
    shutil.copy(calculated_quote, folder / "calc.xlsx")
    return folder / "calc.xlsx"


# --- 1-5: nothing a user had is lost ------------------------------------------------------------------

@pytest.mark.parametrize("spelling", ["calc.xlsx", "./calc.xlsx", "sub/../calc.xlsx", "link.xlsx", "hard.xlsx"])
def test_export_never_writes_over_the_workbook_it_reads(folder, calculated, monkeypatch, spelling):
    (folder / "sub").mkdir()
    (folder / "link.xlsx").symlink_to(calculated)
    os.link(calculated, folder / "hard.xlsx")
    monkeypatch.chdir(folder)
    before = digest(calculated)
    one_error_line(run("export", "calc.xlsx", "--out", spelling), f"--out '{spelling}' is the same file as the "
                   "workbook 'calc.xlsx'", "Choose another --out.")
    assert digest(calculated) == before
    assert run("export", "calc.xlsx", "--out", "calc.csv").exit_code == 0  # and a real output works


def test_fill_never_writes_its_results_over_the_quote_it_fills(folder):
    before = digest(folder / "q.xlsx")
    one_error_line(run("fill", folder / "s.csv", "--out", folder / "q.xlsx", "--workbook", folder / "q.xlsx"),
                   "is the same file as")
    one_error_line(run("fill", folder / "s.csv", "--out", folder / "q.backup.xlsx", "--workbook", folder / "q.xlsx"),
                   "--out", "the workbook's backup")
    assert digest(folder / "q.xlsx") == before
    assert sorted(p.name for p in folder.iterdir()) == ["q.xlsx", "s.csv"]


def test_fill_never_writes_its_results_over_its_scenarios(folder):
    before = digest(folder / "s.csv")
    one_error_line(run("fill", folder / "s.csv", "--out", folder / "s.csv"), "is the same file as the scenarios file")
    assert digest(folder / "s.csv") == before


class _Interrupted(BaseException):
    pass


def test_an_interrupted_refresh_keeps_the_previous_backup(folder, monkeypatch):
    """The backup copy is interrupted half-way (as kill -9 would); the previous backup is whole."""
    (folder / "q.backup.xlsx").write_bytes(b"the previous backup")
    before = digest(folder / "q.xlsx")

    def half_copy(src, dst, **kwargs):
        Path(dst).write_bytes(Path(src).read_bytes()[:1000])
        raise _Interrupted
    monkeypatch.setattr(shutil, "copyfile", half_copy)
    with pytest.raises(_Interrupted):
        run("refresh", folder / "q.xlsx")
    assert (folder / "q.backup.xlsx").read_bytes() == b"the previous backup"
    assert digest(folder / "q.xlsx") == before
    assert sorted(p.name for p in folder.iterdir()) == ["q.backup.xlsx", "q.xlsx", "s.csv"]


def test_refresh_keeps_the_previous_version_as_its_backup(folder):
    before = digest(folder / "q.xlsx")
    assert run("refresh", folder / "q.xlsx").exit_code == 0
    assert digest(folder / "q.backup.xlsx") == before


@pytest.mark.parametrize("command", [["build", "--out", "{q}", "--force"], ["refresh", "{q}"],
                                     ["fill", "{s}", "--workbook", "{q}"], ["fill", "{s}", "--out", "{q}"]])
def test_a_quote_open_in_excel_is_never_replaced(folder, command):
    (folder / "~$q.xlsx").write_bytes(b"lock")
    before = digest(folder / "q.xlsx")
    args = [a.format(q=folder / "q.xlsx", s=folder / "s.csv") for a in command]
    one_error_line(run(*args), "'q.xlsx' is open in Excel (its lock file ~$q.xlsx is beside it). Close it in Excel")
    assert digest(folder / "q.xlsx") == before
    assert sorted(p.name for p in folder.iterdir()) == ["q.xlsx", "s.csv", "~$q.xlsx"]


def test_a_template_or_catalog_is_never_an_output(folder):
    shutil.copy(DATA / "tiny.toml", folder / "tiny.toml")
    before = digest(folder / "q.xlsx")
    one_error_line(run("build", "--template", folder / "q.xlsx", "--out", folder / "q.xlsx", "--force"),
                   "--out", "is the same file as --template")
    one_error_line(run("refresh", folder / "q.xlsx", "--template", folder / "q.xlsx"), "is the same file as --template")
    one_error_line(run("build", "--out", folder / "tiny.toml", "--catalog", folder / "tiny.toml"),
                   "is the same file as the catalog file")
    assert digest(folder / "q.xlsx") == before


# --- 10-14: one line, exit 2 ------------------------------------------------------------------------------

@pytest.mark.parametrize("load", ["inf", "1e308"])
def test_plan_refuses_an_endless_load(load):
    one_error_line(run("plan", "--model", "llama-3-8b", "--requests-per-day", load),
                   "requests_per_day must be a finite number")


def _strict_json(text):
    def refuse(name):
        raise ValueError(f"JSON holds {name}")
    return json.loads(text, parse_constant=refuse)


def test_plan_json_is_valid_json_where_a_break_even_never_comes():
    r = run("plan", "--model", "llama-3-8b", "--requests-per-day", "1000", "--hardware", "h100-sxm", "--json")
    assert r.exit_code == 0, r.output
    plan = _strict_json(r.stdout)
    assert any(api["breakeven_requests_per_month"] is None for api in plan["apis"])  # never: null, not Infinity


@pytest.mark.parametrize("field, value", [("price_usd_per_hour", "inf"), ("params_b", "nan"),
                                          ("memory_gib", "-inf"), ("layers", "99999999999999999999999")])
def test_a_catalog_with_numbers_that_are_not_finite_is_refused(tmp_path, field, value):
    text = (DATA / "tiny.toml").read_text(encoding="utf-8")
    text = re.sub(rf"(?m)^{field} = .*$", f"{field} = {value}", text, count=1)
    (tmp_path / "bad.toml").write_text(text, encoding="utf-8")
    entry = {"price_usd_per_hour": "[[hardware]] entry 1 'toy-gpu'", "memory_gib": "[[hardware]] entry 1 'toy-gpu'"
             }.get(field, "[[models]] entry 1 'toy-dense'")
    one_error_line(run("estimate", "--model", "toy-dense", "--catalog", tmp_path / "bad.toml", "--json"),
                   f"Catalog file '{tmp_path / 'bad.toml'}', {entry}: {field} ")


def test_estimate_json_never_holds_nan_or_infinity():
    r = run("estimate", "--model", "llama-3-8b", "--hardware", "rtx-3060", "--gpus", "1", "--json")
    assert r.exit_code == 0, r.output
    _strict_json(r.stdout)


@pytest.mark.parametrize("command", [
    ["fill", "{s}", "--out", "{ro}/r.csv"], ["build", "--out", "{ro}/new.xlsx"], ["refresh", "{ro}/q.xlsx"],
    ["excel", "setup", "--write", "{ro}/xlwings.conf"], ["export", "{calc}", "--out", "{ro}/e.csv"]])
def test_a_folder_that_cannot_be_written_is_one_line(folder, calculated, monkeypatch, command):
    """As a read-only folder answers (simulated: tests may run as root, whom permissions do not stop)."""
    import tempfile

    ro = folder / "ro"
    ro.mkdir()
    shutil.copy(folder / "q.xlsx", ro / "q.xlsx")
    (ro / "xlwings.conf").write_text('"SHOW CONSOLE","True"\n')
    before = {p.name: digest(p) for p in ro.iterdir()}
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve() == ro.resolve():
            raise PermissionError(13, "Permission denied", str(dir))
        return real(*args, dir=dir, **kwargs)
    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    args = [a.format(s=folder / "s.csv", ro=ro, calc=calculated) for a in command]
    one_error_line(run(*args), "cannot be written (Permission denied)")
    assert {p.name: digest(p) for p in ro.iterdir()} == before


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_one_line(folder):
    ro = folder / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        one_error_line(run("fill", folder / "s.csv", "--out", ro / "r.csv"), "cannot be written")
        one_error_line(run("build", "--out", ro / "q.xlsx"), "cannot be written")
    finally:
        ro.chmod(0o755)


def test_build_with_no_valid_row_is_one_line(folder):
    (folder / "bad.csv").write_text("model\nllama-9-9b\nnope\n", encoding="utf-8")
    one_error_line(run("build", "--scenarios", folder / "bad.csv", "--out", folder / "new.xlsx"),
                   "No scenario of ", "could be built; row 2: Unknown model 'llama-9-9b'", "(and 1 more)",
                   "llmcalc-xl fill")
    assert not (folder / "new.xlsx").exists()


@pytest.mark.parametrize("model, shown", [("a\nb", "a\\nb"), ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
                                          ("\u202eevil", "\\u202eevil"), ("x\x85y", "x\\x85y")])
def test_user_text_in_an_error_is_shown_escaped(model, shown):
    one_error_line(run("estimate", "--model", model), f"Unknown model '{shown}'")


def test_a_long_value_in_an_error_is_cut():
    r = run("estimate", "--model", "a" * 5_000 + "z" * 5_000)
    one_error_line(r, "Unknown model '" + "a" * 70 + "..." + "z" * 40 + "'. ")
    assert len(r.stderr) < 300


def test_safe_line_bounds_any_message():
    line = safe_line("a" * 2000 + " then the fix. Do this.")
    assert len(line) <= 500 and line.endswith("then the fix. Do this.")
    assert safe_line("tab\there\r\n") == "tab\\there\\r\\n"
    assert safe_line("plain 'short' text") == "plain 'short' text"
    long = "/" + "p" * 150 + "/s.csv"
    assert safe_line(f"File '{long}' cannot be read. Fix each row's error.") == \
        f"File '/{'p' * 69}...{'p' * 34}/s.csv' cannot be read. Fix each row's error."


def test_control_characters_never_reach_a_workbook_cell(folder):
    one_error_line(run("build", "--client", "a\x01b", "--out", folder / "new.xlsx"), "--client 'a\\x01b' holds a "
                   "control character")
    (folder / "ctl.csv").write_text("model,scenario\nllama-3-8b,a\x02b\n", encoding="utf-8")
    one_error_line(run("build", "--scenarios", folder / "ctl.csv", "--out", folder / "new.xlsx"),
                   "holds a control character")
    assert not (folder / "new.xlsx").exists()


# --- 12, 16: workbooks handed in ---------------------------------------------------------------------------

def rezip(src: Path, dst: Path, change) -> Path:
    """``src`` with each part passed through ``change(name, bytes)`` (None drops the part)."""
    with zipfile.ZipFile(src) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            data = change(name, data)
            if data is not None:
                z.writestr(name, data)
    return dst


def _sheet_part(path: Path, sheet: str) -> str:
    wb = load_workbook(path, read_only=True)
    index = wb.sheetnames.index(sheet)
    wb.close()
    return f"xl/worksheets/sheet{index + 1}.xml"


BOMB = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><x>&c;</x>')

DAMAGE = {
    "no content types": lambda n, d: None if n == "[Content_Types].xml" else d,
    "no workbook part": lambda n, d: None if n == "xl/workbook.xml" else d,
    "no styles": lambda n, d: None if n == "xl/styles.xml" else d,
    "no relationships": lambda n, d: None if n == "xl/_rels/workbook.xml.rels" else d,
    "entity expansion": lambda n, d: BOMB if n == "xl/styles.xml" else d,
    "entities in a sheet": lambda n, d: BOMB if n.startswith("xl/worksheets/sheet1") else d,
    "truncated sheet": lambda n, d: d[: len(d) // 2] if n.startswith("xl/worksheets/sheet1") else d,
    "garbage in workbook.xml": lambda n, d: d[:100] + b"\xff\xfe<<" + d[100:] if n == "xl/workbook.xml" else d,
    "bad cell reference": lambda n, d: d.replace(b'r="A1"', b'r="1A"', 1) if n.startswith("xl/worksheets/") else d,
    "shared string out of range": lambda n, d: re.sub(rb'(<c [^>]*t="s"[^>]*><v>)\d+', rb"\g<1>99999", d)
    if n.startswith("xl/worksheets/") else d,
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("command", [["refresh", "{m}"], ["export", "{m}"], ["build", "--template", "{m}", "--out",
                                                                           "{new}"]])
def test_a_damaged_workbook_is_one_line(folder, calculated, damage, command):
    m = rezip(calculated, folder / "m.xlsx", DAMAGE[damage])
    before = digest(m)
    r = run(*[a.format(m=m, new=folder / "new.xlsx") for a in command])
    if r.exit_code == 0:  # openpyxl makes do without some parts; then nothing may be lost either
        assert command[0] != "refresh" or digest(folder / "m.backup.xlsx") == before
        return
    one_error_line(r)
    assert digest(m) == before and not (folder / "new.xlsx").exists()


def test_a_template_that_is_a_folder_is_one_line(folder):
    one_error_line(run("build", "--template", folder, "--out", folder / "new.xlsx"), "is a folder")


def test_a_built_sheet_with_an_extra_column_still_refreshes(folder):
    wb = load_workbook(folder / "q.xlsx")
    wb["Built"].cell(3, 5, "a note of mine")
    wb.save(folder / "q.xlsx")
    r = run("refresh", folder / "q.xlsx")
    assert r.exit_code == 0, r.output


def test_a_highly_compressed_workbook_is_refused_before_it_is_read(folder):
    """A part that expands more than 100 times (zip-bomb ratio): refused at once, in little memory."""
    filler = b"<row>" + b"x" * 50_000_000 + b"</row>"
    part = _sheet_part(folder / "q.xlsx", "Sources")
    bomb = rezip(folder / "q.xlsx", folder / "bomb.xlsx",
                 lambda n, d: d.replace(b"</sheetData>", filler + b"</sheetData>") if n == part else d)
    one_error_line(run("refresh", bomb), "times", "Refusing to open it")
    one_error_line(run("export", bomb), "Refusing to open it")


def test_budget_on_total_size_and_parts(folder, monkeypatch):
    import llmcalc_xl.files as files

    monkeypatch.setattr(files, "MAX_UNCOMPRESSED", 100_000)
    one_error_line(run("refresh", folder / "q.xlsx"), "expands to", "more than 100,000")
    monkeypatch.setattr(files, "MAX_UNCOMPRESSED", 1024**3)
    monkeypatch.setattr(files, "MAX_PARTS", 10)
    one_error_line(run("refresh", folder / "q.xlsx"), "parts, more than 10")
    monkeypatch.setattr(files, "MAX_PARTS", 2000)
    monkeypatch.setattr(files, "MAX_CELLS", 1000)
    one_error_line(run("export", folder / "q.xlsx"), "more than 1,000 cells")


@pytest.mark.parametrize("keep_dimension", [True, False])
def test_one_cell_far_down_is_refused_before_it_is_read(folder, keep_dimension):
    wb = load_workbook(folder / "q.xlsx")
    last = get_column_letter(wb["Hardware"].max_column)
    wb["Hardware"]["A1048576"] = 1
    wb.save(folder / "far.xlsx")
    if not keep_dimension:  # the declared range can be left out; the cells still count
        rezip(folder / "far.xlsx", folder / "far.xlsx", lambda n, d: re.sub(rb"<dimension [^>]*/>", b"", d))
    before = digest(folder / "far.xlsx")
    what = f"spans A1:{last}1048576" if keep_dimension else "has a cell at A1048576"
    one_error_line(run("refresh", folder / "far.xlsx"), f"its sheet 'Hardware' {what}", "1,048,576 rows",
                   "Delete the rows and columns beyond your data")
    assert digest(folder / "far.xlsx") == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
@pytest.mark.parametrize("command", [["catalog", "models", "--catalog", "{p}"], ["refresh", "{p}"], ["export", "{p}"],
                                     ["fill", "{p}"], ["build", "--scenarios", "{p}", "--out", "{d}/n.xlsx"],
                                     ["build", "--template", "{p}", "--out", "{d}/n.xlsx"]])
def test_a_pipe_is_refused_without_waiting(tmp_path, command):
    os.mkfifo(tmp_path / "pipe")
    args = [a.format(p=tmp_path / "pipe", d=tmp_path) for a in command]
    r = subprocess.run([sys.executable, "-m", "llmcalc_xl.cli.main", *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "is not a regular file" in r.stderr and r.stderr.count("\n") == 1, r.stderr


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero on this system")
def test_a_device_is_refused_without_reading_it():
    one_error_line(run("catalog", "models", "--catalog", "/dev/zero"), "is not a regular file")
    one_error_line(run("export", "/dev/zero"), "is not a regular file")


# --- catalog files ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["[" * 5000 + "]" * 5000, "{ a = " * 3000 + "1" + " }" * 3000, "[" * 17 + "]" * 17])
def test_a_deeply_nested_catalog_is_refused(tmp_path, value):
    (tmp_path / "deep.toml").write_text(f"x = {value}\n", encoding="utf-8")
    one_error_line(run("catalog", "models", "--catalog", tmp_path / "deep.toml"), "nests arrays or tables")


def test_nesting_inside_strings_and_comments_does_not_count():
    from llmcalc_xl.catalogs.loader import _toml_depth

    assert _toml_depth('a = "[[[[[[[[[[[[[[[[[[[[" # [[[[[[[[[[[[[[[[[[[\nb = \'[[[[[[[[[[[[[[[[[[[\'\n') == 0
    assert _toml_depth('a = """\n[[[[[[[[[[[[[[[[[[[[\n"""\nb = [[1], [2]]\n[[models]]\n') == 2


def test_a_huge_catalog_is_refused(tmp_path, monkeypatch):
    import llmcalc_xl.files as files

    monkeypatch.setattr(files, "MAX_CATALOG_BYTES", 1000)
    (tmp_path / "big.toml").write_text("# " + "x" * 2000 + "\n", encoding="utf-8")
    one_error_line(run("catalog", "models", "--catalog", tmp_path / "big.toml"), "larger than 1,000 bytes")
