"""Text and numbers on every surface: nothing a user typed becomes a live formula, numbers stay
numbers, CSVs written in European locales read right, misnamed columns are named, the Excel
functions answer every input in their cell, and catalog values stay physical.

Each test is the reproduction of one finding; the expected values come from the finding or from
arithmetic written out here.
"""

import csv
import json
import math
import re
import subprocess
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from click.testing import CliRunner
from openpyxl import load_workbook

from llmcalc_xl import estimate
from llmcalc_xl.excel import functions as udfs
from llmcalc_xl.catalogs.loader import BOUNDS, ENTRY_TYPES, FIELD_GROUPS, load_catalog
from llmcalc_xl.cli.main import main
from llmcalc_xl.errors import CatalogError
from llmcalc_xl.workbook.build import build_workbook, save_atomically

from .spreadsheets import SOFFICE, needs_libreoffice


def write(path, text, encoding="utf-8"):
    path.write_text(text, encoding=encoding, newline="")
    return path


def fill(*args):
    return CliRunner().invoke(main, ["fill", *map(str, args)])


def sheet_xml(path, sheet=1):
    with zipfile.ZipFile(path) as z:
        return z.read(f"xl/worksheets/sheet{sheet}.xml").decode("utf-8")


def rows_of(path):
    return list(csv.reader(open(path, encoding="utf-8", newline="")))


INJECTION_HEADER = 'model,=1+1,"@SUM(1,1)",-2+3,note\n'
INJECTION_ROWS = ('llama-3-8b,a,b,c, =1+1\n'
                  'llama-3-8b,a,b,c,"\u00a0@SUM(1,1)"\n'
                  'llama-3-8b,a,b,c,-5\n')


# --- 6, 7, 9: fill writes no formula, whatever the text ------------------------------------------

def test_fill_csv_escapes_header_and_cells_after_leading_blanks(tmp_path):
    src = write(tmp_path / "in.csv", INJECTION_HEADER + INJECTION_ROWS)
    r = fill(src, "--out", tmp_path / "out.csv")
    assert r.exit_code == 0, r.output
    rows = rows_of(tmp_path / "out.csv")
    assert rows[0][:5] == ["model", "'=1+1", "'@SUM(1,1)", "'-2+3", "note"]
    assert [row[4] for row in rows[1:]] == ["' =1+1", "'\u00a0@SUM(1,1)", "-5"]  # a number stays a number


@needs_libreoffice
def test_libreoffice_runs_no_formula_from_a_fill_csv(tmp_path):
    src = write(tmp_path / "in.csv", INJECTION_HEADER + INJECTION_ROWS)
    assert fill(src, "--out", tmp_path / "out.csv").exit_code == 0
    out = tmp_path / "lo"
    subprocess.run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path}/lo-profile",
                    "--infilter=CSV:44,34,76,1,,1033,false,true,false,false,true,-1,true", "--convert-to", "xlsx",
                    "--outdir", str(out), str(tmp_path / "out.csv")], check=True, capture_output=True, timeout=300)
    xml = sheet_xml(out / "out.xlsx")
    assert "<v>" in xml and "<f" not in xml


def test_fill_xlsx_header_is_text_not_a_formula(tmp_path):
    src = write(tmp_path / "in.csv", 'model,"=HYPERLINK(""http://x"",""click"")",@x\nllama-3-8b,a,b\n')
    r = fill(src, "--out", tmp_path / "out.xlsx")
    assert r.exit_code == 0, r.output
    xml = sheet_xml(tmp_path / "out.xlsx")
    assert "<f>" not in xml and "<f " not in xml
    header = load_workbook(tmp_path / "out.xlsx")["Results"][1]
    assert header[1].value == '=HYPERLINK("http://x","click")' and header[1].data_type == "s"


def test_fill_xlsx_with_control_characters_is_written(tmp_path):
    src = write(tmp_path / "in.csv", "model,note\x01,scenario\nllama-3-8b,a\x01b\x1f,\x0b=1\n")
    r = fill(src, "--out", tmp_path / "out.xlsx")
    assert r.exit_code == 0 and "Traceback" not in r.output, r.output
    ws = load_workbook(tmp_path / "out.xlsx")["Results"]
    assert [c.value for c in ws[1]][:3] == ["model", "note\ufffd", "scenario"]
    assert [c.value for c in ws[2]][:3] == ["llama-3-8b", "a\ufffdb\ufffd", "\ufffd=1"]


# --- 8: refresh keeps the user's text as text ---------------------------------------------------------

def test_refresh_keeps_text_in_assumptions_as_text(tmp_path):
    out = tmp_path / "q.xlsx"
    save_atomically(build_workbook([dict(scenario="a", model="llama-3-8b", hardware="l4")]), out)
    wb = load_workbook(out)
    ws = wb["Assumptions"]
    names = [c.value for c in ws["A"]]
    currency, utilization = names.index("currency") + 1, names.index("utilization") + 1
    ws.cell(currency, 2).value = '=HYPERLINK("http://x","EUR")'
    ws.cell(currency, 2).data_type = "s"  # text the user left there, as Excel stores it
    ws.cell(utilization, 2).value = "=0.4*2"  # the user's own formula
    wb.save(out)
    r = CliRunner().invoke(main, ["refresh", str(out)])
    assert r.exit_code == 0, r.output
    ws = load_workbook(out)["Assumptions"]
    assert ws.cell(currency, 2).value == '=HYPERLINK("http://x","EUR")' and ws.cell(currency, 2).data_type == "s"
    assert ws.cell(utilization, 2).value == "=0.4*2" and ws.cell(utilization, 2).data_type == "f"


# --- 20: numbers are numbers in every XLSX --------------------------------------------------------

def test_fill_xlsx_stores_input_numbers_as_numbers_and_ids_as_text(tmp_path):
    src = write(tmp_path / "in.csv", "scenario,model,hardware,input_tokens,output_tokens,price_per_hour,order\n"
                                     "007,llama-3-8b,l4,1000,500,0.85,0042\n"
                                     "008,llama-3-8b,l4,2000, 250 ,1e0,0043\n")
    r = fill(src, "--out", tmp_path / "out.xlsx")
    assert r.exit_code == 0, r.output
    ws = load_workbook(tmp_path / "out.xlsx")["Results"]
    header = [c.value for c in ws[1]]
    col = {name: header.index(name) for name in ("scenario", "input_tokens", "output_tokens", "price_per_hour",
                                                  "order")}
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert [r[col["input_tokens"]] for r in rows] == [1000, 2000]  # SUM over them is 3000, not 0
    assert [r[col["output_tokens"]] for r in rows] == [500, 250]
    assert [r[col["price_per_hour"]] for r in rows] == [0.85, 1.0]
    assert [r[col["scenario"]] for r in rows] == ["007", "008"]  # text ids stay text
    assert [r[col["order"]] for r in rows] == ["0042", "0043"]  # a column that is not an option: as given


# --- 21: European CSVs --------------------------------------------------------------------------

EURO = "model;hardware;input_tokens;output_tokens;price_per_hour\n" \
       "llama-3-8b;l4;1000;500;1,85\n" \
       "llama-3-8b;l4;2.000;500;1,85\n"


def test_semicolon_file_reads_decimal_commas(tmp_path):
    src = write(tmp_path / "in.csv", EURO, encoding="utf-8-sig")
    r = fill(src, "--out", tmp_path / "out.csv")
    assert r.exit_code == 0, r.output
    out = list(csv.DictReader(open(tmp_path / "out.csv", encoding="utf-8")))
    assert out[0]["status"] == "ok" and float(out[0]["price_per_hour_result"]) == 1.85
    want = estimate("llama-3-8b", "l4", price_per_hour=1.85).cost_per_request_usd
    assert math.isclose(float(out[0]["cost_per_request_usd"]), want, rel_tol=1e-12)
    assert out[1]["status"] == "error"
    assert out[1]["error"].startswith("input_tokens '2.000' could be 2000 ('.' separating thousands) or 2 "
                                      "('.' as decimal mark)")


def test_decimal_option_forces_the_mark(tmp_path):
    src = write(tmp_path / "in.csv", EURO)
    r = fill(src, "--out", tmp_path / "out.csv", "--decimal", ".")
    out = list(csv.DictReader(open(tmp_path / "out.csv", encoding="utf-8")))
    assert out[0]["error"] == ("price_per_hour must use a decimal point, got '1,85'. Write 1.85, or give "
                               "--decimal , for a file with decimal commas")  # never "write 185"
    assert out[1]["error"].startswith("price_per_hour must use a decimal point")  # 2.000 read as 2, as told
    commas = write(tmp_path / "commas.csv", 'model,hardware,price_per_hour\nllama-3-8b,l4,"2,5"\n')
    r = fill(commas, "--out", tmp_path / "c.csv", "--decimal", ",")
    assert r.exit_code == 0, r.output
    assert list(csv.DictReader(open(tmp_path / "c.csv", encoding="utf-8")))[0]["price_per_hour_result"] == "2.5"
    assert fill(commas, "--decimal", ";").exit_code == 2


def test_build_reads_decimal_commas_too(tmp_path):
    src = write(tmp_path / "in.csv", EURO)
    r = CliRunner().invoke(main, ["build", "--scenarios", str(src), "--out", str(tmp_path / "q.xlsx")])
    assert r.exit_code == 0, r.output
    assert "Wrote" in r.output and "(1 scenario)" in r.output
    assert "row 3: input_tokens '2.000' could be 2000" in r.output


def test_the_udf_hint_for_a_decimal_comma_is_not_100_times_off():
    assert udfs.LLM_COST([["gpt-4o"]], [["1,85"]], [[500.0]]) == \
        "#LLM! input_tokens must use a decimal point, got '1,85'. Write 1.85."


# --- 22: misnamed columns are named -------------------------------------------------------------

def test_misnamed_columns_get_a_warning_and_stay_carried(tmp_path):
    src = write(tmp_path / "in.csv", "model,HW,GPU count,output,owner\nllama-3-8b,h100-sxm,2,100,ann\n")
    r = fill(src, "--out", tmp_path / "out.csv")
    assert r.exit_code == 0
    warning = [line for line in r.output.splitlines() if line.startswith("Warning:")]
    assert warning == ["Warning: columns not used, carried through unchanged: 'HW' (did you mean hardware?), "
                       "'GPU count' (did you mean gpus?), 'output' (did you mean output_tokens?), 'owner'. Only "
                       "columns named as an option are read."]
    out = list(csv.DictReader(open(tmp_path / "out.csv", encoding="utf-8")))[0]
    assert (out["HW"], out["GPU count"], out["output"], out["owner"]) == ("h100-sxm", "2", "100", "ann")
    assert out["status"] == "ok"
    b = CliRunner().invoke(main, ["build", "--scenarios", str(src), "--out", str(tmp_path / "q.xlsx")])
    assert b.exit_code == 0 and "Warning: columns not used: 'HW' (did you mean hardware?)" in b.output


def test_a_results_file_filled_again_warns_of_nothing(tmp_path):
    src = write(tmp_path / "in.csv", "scenario,model,hardware\na,llama-3-8b,l4\n")
    assert fill(src, "--out", tmp_path / "once.csv").exit_code == 0
    r = fill(tmp_path / "once.csv", "--out", tmp_path / "twice.csv")
    assert r.exit_code == 0 and "Warning" not in r.output


# --- 15, 23, 24: the Excel functions ---------------------------------------------------------------

def test_empty_and_ragged_ranges_answer_in_the_cell():
    assert udfs.LLM_COST([["gpt-4o"]], [[]], [[500.0]]) == \
        "#LLM! A range is empty. Give a cell, or a range with at least one cell."
    ragged = "#LLM! A range must be rectangular, got rows of different lengths."
    assert udfs.LLM_COST([["gpt-4o"]], [[1.0], [2.0, 3.0]], [[500.0]]) == ragged
    assert udfs.LLM_FITS([["llama-3-8b"]], [["l4"]], None, [[1.0], [2.0, 3.0]]) == ragged
    assert udfs.LLM_MAX_BATCH([["llama-3-8b"]], [["l4"]], None, []) == \
        "#LLM! A range is empty. Give a cell, or a range with at least one cell."
    assert udfs.LLM_MODELS([[None], [None, None]]) == ragged


def test_max_batch_with_the_token_counts_equals_the_estimate():
    core = estimate("gemma-2-9b", "rtx-4000-ada", input_tokens=10, output_tokens=1)
    assert core.max_batch == 41
    assert udfs.LLM_MAX_BATCH([["gemma-2-9b"]], [["rtx-4000-ada"]], None, [[11.0]], None, None, [[10.0]],
                              [[1.0]]) == 41
    # a context alone: all of it may be prompt, the most memory that context can take
    assert udfs.LLM_MAX_BATCH([["gemma-2-9b"]], [["rtx-4000-ada"]], None, [[11.0]]) == \
        estimate("gemma-2-9b", "rtx-4000-ada", input_tokens=11, output_tokens=0).max_batch == 40


def test_ttft_has_no_hidden_output_tokens():
    # llama-3-8b holds 8,192 tokens: a prompt of 8,000 and the default 500 answer tokens do not fit,
    # but the first token needs no room beyond the prompt
    got = udfs.LLM_TTFT([["llama-3-8b"]], [["h100-sxm"]], [[8000.0]])
    assert isinstance(got, float)
    assert got == estimate("llama-3-8b", "h100-sxm", input_tokens=8000, output_tokens=0).ttft_s
    assert got == estimate("llama-3-8b", "h100-sxm", input_tokens=8000, output_tokens=192).ttft_s


# --- 17, 18: catalog values ------------------------------------------------------------------------

def _user_file(tmp_path, text):
    path = tmp_path / "ours.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_absurd_vocabulary_is_refused_with_file_entry_and_field(tmp_path):
    path = _user_file(tmp_path, '[[models]]\nid = "llama-3-8b"\nvocab_size = 100000000\nsource = "x"\n'
                                'as_of = "2026-01-01"\n')
    with pytest.raises(CatalogError) as e:
        load_catalog([path])
    assert re.search(r"ours\.toml', \[\[models\]\] entry 1 'llama-3-8b': vocab_size must be at least 1 and at "
                     r"most 10,000,000 \(.*\), got 100000000", str(e.value))
    # in range on its own, but then the embeddings outweigh the model (it gave a negative TTFT)
    path = _user_file(tmp_path, '[[models]]\nid = "llama-3-8b"\nvocab_size = 1000000\nsource = "x"\n'
                                'as_of = "2026-01-01"\n')
    with pytest.raises(CatalogError, match="vocab_size x hidden_size .* must be less than active_params_b"):
        load_catalog([path])


def _numeric_fields():
    import dataclasses
    for kind, cls in ENTRY_TYPES.items():
        for f in dataclasses.fields(cls):
            if str(f.type).startswith(("int", "float")):
                yield kind, f.name


@pytest.mark.parametrize("kind, name", sorted(set(_numeric_fields())))
def test_every_number_has_bounds_and_the_ceiling_is_enforced(tmp_path, kind, name):
    assert name in BOUNDS, f"{kind}.{name} has no physical bounds"
    low, high, why = BOUNDS[name]
    assert 0 <= low < high and why
    if not load_catalog(()).entries(kind):  # no shipped entry of the kind (calibrations): a new entry of its own
        path = _user_file(tmp_path, f'[[{kind}]]\nid = "vllm-on-h100-sxm"\nengine = "vllm"\nhardware = "h100-sxm"\n'
                                    f'{name} = {high * 10}\nsource = "x"\nas_of = "2026-01-01"\n')
        with pytest.raises(CatalogError, match=rf"entry 1 'vllm-on-h100-sxm': {name} must be .* at most"):
            load_catalog([path])
        return
    base = load_catalog(()).entries(kind)[0]
    value = int(high * 10) if isinstance(getattr(base, name), int) else high * 10
    section = kind
    # the override names the source of the field's group, and gives a whole price with its input and output
    group = next(g for g in FIELD_GROUPS[kind] if name in g.fields)
    given = {name: value, group.source: '"x"', group.as_of: '"2026-01-01"'}
    if group.whole:
        given = {**{f: getattr(base, f) for f in ("input_usd_per_mtok", "output_usd_per_mtok")
                    if f in group.fields}, **given}
    path = _user_file(tmp_path, f'[[{section}]]\nid = "{base.id}"\n' + "".join(f"{k} = {v}\n" for k, v in given.items()))
    with pytest.raises(CatalogError, match=rf"entry 1 '{re.escape(base.id)}': {name} must be .* at most"):
        load_catalog([path])


def test_the_shipped_catalog_is_within_its_bounds():
    load_catalog(())  # loading checks every value


def test_the_functions_sheet_expects_what_the_catalog_says(tmp_path):
    path = _user_file(tmp_path, '[[api_models]]\nid = "gpt-4o"\ninput_usd_per_mtok = 100.0\noutput_usd_per_mtok = 10.0\n'
                                'source = "x"\nas_of = "2026-01-01"\n')
    out = tmp_path / "q.xlsx"
    r = CliRunner().invoke(main, ["build", "--catalog", str(path), "--with-functions", "--out", str(out)])
    assert r.exit_code == 0, r.output
    ws = load_workbook(out)["Functions"]
    assert ws["B5"].value == '=LLM_COST("gpt-4o",1000,500)'
    # 1,000 input tokens at the user file's 100 USD per million and 500 output at its 10 USD
    assert ws["D5"].value == pytest.approx(1000 * 100e-6 + 500 * 10e-6, rel=1e-12)


_files = iter(range(10 ** 9))


def _log_int(low, high):
    return st.floats(math.log(low), math.log(high)).map(lambda x: max(low, min(high, int(round(math.exp(x))))))


@st.composite
def _model_entries(draw):
    """Models anywhere within the bounds, most of them near the edge where the embedding tables
    (vocab_size x hidden_size) rival the whole model."""
    layers = draw(_log_int(1, 10_000))
    heads = draw(_log_int(1, 100_000))
    hidden = draw(_log_int(1, 1_000_000))
    experts = draw(st.sampled_from([0, 0, 8, 64, 384]))
    params = math.exp(draw(st.floats(math.log(1e-3), math.log(1e5))))
    share = math.exp(draw(st.floats(math.log(1e-2), math.log(10.0))))  # embeddings / parameters
    vocab = max(1, min(10_000_000, int(share * params * 1e9 / hidden / 2)))
    entry = dict(id="fuzz-model", name="fuzz", layers=layers, hidden_size=hidden,
                 heads=heads, kv_heads=draw(_log_int(1, heads)), head_dim=draw(_log_int(1, 100_000)),
                 vocab_size=vocab, context_length=draw(_log_int(4096, 1_000_000_000)),
                 params_b=params, active_params_b=params, experts=experts,
                 tie_embeddings=draw(st.booleans()), source="fuzz", as_of="2026-01-01")
    if experts:
        entry["experts_per_token"] = draw(st.integers(1, experts))
        entry["active_params_b"] = draw(st.floats(params / 100, params))
    return entry


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(_model_entries(), st.sampled_from(["h100-sxm", "l4", "apple-m2-max", "cpu-8gb"]),
       st.sampled_from(["fp16", "int4", "q4_k_m"]))
def test_a_catalog_that_loads_never_gives_negative_times_or_costs(tmp_path_factory, entry, hardware, precision):
    from llmcalc_xl import estimate_many
    path = tmp_path_factory.mktemp("cat") / f"ours{next(_files)}.toml"
    lines = ["[[models]]"] + [f"{k} = {json.dumps(v)}" for k, v in entry.items()]  # JSON scalars are TOML
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        cat = load_catalog([path])
    except CatalogError:
        return  # refused with its message: nothing to compute
    out = estimate_many(["fuzz-model"], hardware, precision=precision, catalog=cat, input_tokens=[100],
                        output_tokens=[10])
    if out["error"][0] is not None:
        return
    for key in ("weights_gib", "kv_cache_gib", "activations_gib", "overhead_gib", "total_memory_gib", "ttft_s",
                "tpot_s", "latency_s", "throughput_tokens_per_s", "cost_per_request_usd", "cost_per_mtok_usd",
                "max_batch"):
        value = float(out[key][0])
        assert math.isnan(value) or value >= 0, (key, value, entry)
