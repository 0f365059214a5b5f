"""`llmcalc-xl excel setup`: the xlwings configuration for this installation."""

from click.testing import CliRunner

from llmcalc_xl.cli.main import main
from llmcalc_xl.excel.setup import merged_config, settings


def test_settings_name_this_python_and_the_udf_module():
    s = settings(python=r"C:\Users\fin\llm\Scripts\python.exe", platform="win32")
    assert s == {"INTERPRETER_WIN": r"C:\Users\fin\llm\Scripts\python.exe", "UDF MODULES": "llmcalc_xl.excel.functions"}
    assert "INTERPRETER_MAC" in settings(python="/usr/bin/python3", platform="darwin")


def test_merge_keeps_the_users_other_settings_and_replaces_ours():
    existing = '"INTERPRETER_WIN","C:\\old\\python.exe"\n"SHOW CONSOLE","True"\n"UDF MODULES","mymodule"\n'
    merged = merged_config(existing, {"INTERPRETER_WIN": "C:\\new\\python.exe", "UDF MODULES": "llmcalc_xl.excel.functions"})
    assert merged.splitlines() == ['"SHOW CONSOLE","True"', '"INTERPRETER_WIN","C:\\new\\python.exe"',
                                   '"UDF MODULES","llmcalc_xl.excel.functions"']


def test_write_merges_atomically_and_keeps_a_backup(tmp_path):
    conf = tmp_path / ".xlwings" / "xlwings.conf"
    conf.parent.mkdir()
    conf.write_text('"SHOW CONSOLE","True"\n')
    r = CliRunner().invoke(main, ["excel", "setup", "--write", str(conf)])
    assert r.exit_code == 0, r.output
    text = conf.read_text()
    assert '"SHOW CONSOLE","True"' in text and '"UDF MODULES","llmcalc_xl.excel.functions"' in text
    assert (tmp_path / ".xlwings" / "xlwings.conf.bak").read_text() == '"SHOW CONSOLE","True"\n'
    assert [p.name for p in conf.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_print_with_a_catalog_and_refuse_a_bad_one(tmp_path):
    r = CliRunner().invoke(main, ["excel", "setup", "--catalog", "tests/data/tiny.toml"])
    assert r.exit_code == 0
    assert '"UDF MODULES","llmcalc_xl.excel.functions"' in r.output and "LLMCALC_XL_CATALOG" in r.output
    r = CliRunner().invoke(main, ["excel", "setup", "--catalog", str(tmp_path / "missing.toml")])
    assert r.exit_code == 2
    assert r.output.startswith("Error: Catalog file ") and "does not exist" in r.output


def test_setup_names_the_vba_reference_xlwings_requires():
    # xlwings' UDF docs: a workbook not made by `xlwings quickstart` needs Tools > References > xlwings
    r = CliRunner().invoke(main, ["excel", "setup"])
    assert r.exit_code == 0, r.output
    assert "Tools > References, tick 'xlwings'" in r.output
    assert r.output.index("References") < r.output.index("Import Functions")
