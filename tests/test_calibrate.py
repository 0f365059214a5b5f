"""`llmcalc-xl calibrate`: an engine's efficiencies on one device fitted to a user's measurement, written as a
[[calibrations]] catalog entry that every surface applies.

The expectations are worked by hand from the decode and prefill formulas (README, "How the estimates
work"; physics.speed): at batch 1 on one GPU a vLLM decode step of Llama 3 8B is bandwidth-bound, so
TPOT = bytes / (bandwidth x decode_mbu) + decode_step_overhead_s (1.5 ms for vLLM), and the fitted
decode_mbu is the engine's 0.75 times (T_default - 1.5 ms) / (T_measured - 1.5 ms). A prompt of 1,000
tokens is compute-bound on an H100 (2 x 8e9 x 1000 FLOPs at about 600 TFLOPS is about 27 ms, above the
5 ms the 16 GB of weights take to read), so TTFT = FLOPs / (peak x prefill_mfu x ...) +
prefill_overhead_s (10 ms), and the fitted prefill_mfu is 0.6 x (F_default - 10 ms) / (F_measured - 10 ms).
"""

import datetime
import re

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from llmcalc_xl import CatalogError, estimate, load_catalog
from llmcalc_xl.cli.main import main
from llmcalc_xl.workbook.build import build_workbook, save_atomically

from .spreadsheets import needs_libreoffice, recalculate, scenario_outputs

VLLM_STEP_S = 0.0015      # engines.toml: vllm decode_step_overhead_s
VLLM_PREFILL_S = 0.010    # engines.toml: vllm prefill_overhead_s
SOURCE = "our lab, vLLM 0.11 on 2026-11-20"


def _calibrate(out, *args, catalog=()):
    argv = ["calibrate", "--model", "llama-3-8b", "--hardware", "H100", "--engine", "vLLM", "--source", SOURCE,
            "--out", str(out), *args]
    for path in catalog:
        argv += ["--catalog", str(path)]
    return CliRunner().invoke(main, argv)


def test_round_trip_reproduces_the_measured_tpot(tmp_path):
    out = tmp_path / "ours.toml"
    default = estimate("llama-3-8b", "h100-sxm", engine="vllm").tpot_s
    measured_s = 0.009
    r = _calibrate(out, "--measured-tpot-ms", "9")
    assert r.exit_code == 0, r.output
    got = estimate("llama-3-8b", "h100-sxm", engine="vllm", catalog=[out])
    assert got.tpot_s == pytest.approx(measured_s, rel=0.005)
    # by hand: the bandwidth-bound part of the step scales as 1 / decode_mbu
    mbu = load_catalog([out]).calibration("vllm", "h100-sxm").decode_mbu
    assert mbu == pytest.approx(0.75 * (default - VLLM_STEP_S) / (measured_s - VLLM_STEP_S), rel=1e-4)
    # the prefill is left to the engine: no TTFT was measured
    assert load_catalog([out]).calibration("vllm", "h100-sxm").prefill_mfu is None
    assert got.ttft_s == pytest.approx(estimate("llama-3-8b", "h100-sxm", engine="vllm").ttft_s, rel=1e-12)


def test_the_ttft_fits_prefill_mfu(tmp_path):
    out = tmp_path / "ours.toml"
    default = estimate("llama-3-8b", "h100-sxm", engine="vllm").ttft_s
    r = _calibrate(out, "--measured-tpot-ms", "9", "--measured-ttft-ms", "50")
    assert r.exit_code == 0, r.output
    got = estimate("llama-3-8b", "h100-sxm", engine="vllm", catalog=[out])
    assert got.ttft_s == pytest.approx(0.050, rel=0.005) and got.tpot_s == pytest.approx(0.009, rel=0.005)
    mfu = load_catalog([out]).calibration("vllm", "h100-sxm").prefill_mfu
    assert mfu == pytest.approx(0.6 * (default - VLLM_PREFILL_S) / (0.050 - VLLM_PREFILL_S), rel=1e-4)


def test_under_load_both_fits_hold_together(tmp_path):
    # at batch 32 the others' prompts share the decode steps and a prompt waits for steps: TPOT and TTFT
    # each depend on both efficiencies
    out = tmp_path / "ours.toml"
    r = _calibrate(out, "--measured-tpot-ms", "20", "--measured-ttft-ms", "400", "--batch", "32")
    assert r.exit_code == 0, r.output
    got = estimate("llama-3-8b", "h100-sxm", engine="vllm", batch=32, catalog=[out])
    assert got.tpot_s == pytest.approx(0.020, rel=0.005) and got.ttft_s == pytest.approx(0.400, rel=0.005)


def test_the_entry_records_the_users_source_and_today_and_the_engine_keeps_its_own(tmp_path):
    out = tmp_path / "ours.toml"
    assert _calibrate(out, "--measured-tpot-ms", "9", "--measured-ttft-ms", "50").exit_code == 0
    text = out.read_text()
    assert f'source = "{SOURCE}"' in text and f'as_of = "{datetime.date.today().isoformat()}"' in text
    assert "TPOT 9 ms, TTFT 50 ms" in text and "batch 1, 1000 input / 500 output tokens" in text
    cat = load_catalog([out])
    entry = cat.calibration("vllm", "h100-sxm")
    [prov] = cat.provenance(entry)
    assert (prov.source, prov.file) == (SOURCE, str(out))
    shipped = load_catalog(()).engine("vllm")
    assert cat.engine("vllm") == shipped  # its memory rule, overheads and their source are the catalog's
    assert [p.file for p in cat.provenance(cat.engine("vllm"))] == ["shipped"]
    # only that engine on that device: vLLM on an A100, TensorRT-LLM on the H100 are as before
    for hw, engine in (("a100-80gb", "vllm"), ("h100-sxm", "tensorrt-llm")):
        assert estimate("llama-3-8b", hw, engine=engine, catalog=[out]).tpot_s == \
            estimate("llama-3-8b", hw, engine=engine).tpot_s


@pytest.mark.parametrize("args, message", [
    # 16 GB of FP16 weights read at 3,350 GB/s take 4.8 ms: 1 ms per token is not possible on one H100
    (["--measured-tpot-ms", "1"], r"^Error: measured TPOT 1 ms is faster than 6\.\d+ ms, the fastest 1 x h100-sxm "
                                  r"can decode this scenario with every decode efficiency at 1 \(the weights and KV "
                                  r"cache read at the peak 3350 GB/s a GPU, the matrix products at the peak FLOPS, plus "
                                  r"the fixed step time and the other requests' prompts\)\. Check the measurement"),
    (["--measured-tpot-ms", "5000"], r"^Error: measured TPOT 5000 ms is slower than .* ms, what the estimate gives at "
                                     r"a decode efficiency of 0\.01\. Check the units"),
    (["--measured-tpot-ms", "9", "--measured-ttft-ms", "5"],
     r"^Error: measured TTFT 5 ms is faster than .* ms, what the estimate gives with prefill_mfu at 1 \(the device's "
     r"peak FLOPS\) for 1000 input tokens\."),
    (["--measured-tpot-ms", "0"], r"^Error: measured TPOT must be a number of milliseconds above 0, got 0\.0\."),
])
def test_impossible_measurements_are_refused_and_nothing_is_written(tmp_path, args, message):
    out = tmp_path / "ours.toml"
    r = _calibrate(out, *args)
    assert r.exit_code != 0 and re.search(message, r.output), r.output
    assert "Traceback" not in r.output and not out.exists()


def test_an_existing_file_is_extended_and_a_calibration_replaced_only_with_force(tmp_path):
    out = tmp_path / "ours.toml"
    out.write_text('# my models\n[[hardware]]\nid = "h100-sxm"\nbandwidth_gb_s = 3350\nsource = "spec"\n'
                   'as_of = "2026-01-01"\n')
    assert _calibrate(out, "--measured-tpot-ms", "9").exit_code == 0
    first = out.read_text()
    assert first.startswith("# my models\n[[hardware]]") and first.count("[[calibrations]]") == 1
    r = _calibrate(out, "--measured-tpot-ms", "10")
    assert r.exit_code != 0 and r.output.startswith(
        "Error: Calibration 'vllm-on-h100-sxm' (vllm on h100-sxm) is already in this catalog file. Add --force to "
        "replace it, or choose another --out."), r.output
    assert out.read_text() == first
    r = CliRunner().invoke(main, ["calibrate", "--model", "llama-3-8b", "--hardware", "a100-80gb", "--engine", "vllm",
                                  "--measured-tpot-ms", "15", "--source", "x", "--out", str(out), "--catalog", str(out)])
    assert r.exit_code == 0, r.output
    assert _calibrate(out, "--measured-tpot-ms", "10", "--force").exit_code == 0
    cat = load_catalog([out])
    assert out.read_text().count("[[calibrations]]") == 2 and set(cat.calibrations()) == {
        ("vllm", "h100-sxm"), ("vllm", "a100-80gb")}
    assert estimate("llama-3-8b", "h100-sxm", engine="vllm", catalog=[out]).tpot_s == pytest.approx(0.010, rel=0.005)
    assert estimate("llama-3-8b", "a100-80gb", engine="vllm", catalog=[out]).tpot_s == pytest.approx(0.015, rel=0.005)


@pytest.mark.parametrize("body, message", [
    ('engine = "vllm"\nhardware = "h100-sxm"\ndecode_mbu = 1.2\n', r"decode_mbu must be above 0 and at most 1"),
    ('engine = "vllmm"\nhardware = "h100-sxm"\ndecode_mbu = 0.5\n', r"engine 'vllmm' is not in the catalog\. "
                                                                    r"Did you mean: vllm"),
    ('engine = "vllm"\nhardware = "h100-sxm"\n', r"a calibration sets at least one of prefill_mfu, decode_mfu, "
                                                 r"decode_mbu"),
])
def test_a_bad_calibration_entry_is_a_load_error_naming_the_entry(tmp_path, body, message):
    path = tmp_path / "bad.toml"
    path.write_text(f'[[calibrations]]\nid = "mine"\n{body}source = "x"\nas_of = "2026-01-01"\n')
    with pytest.raises(CatalogError, match=r"\[\[calibrations\]\] entry 1 'mine'.*" + message):
        load_catalog([path])


def test_two_calibrations_of_one_engine_and_device_are_refused(tmp_path):
    path = tmp_path / "two.toml"
    one = 'engine = "vLLM"\nhardware = "H100"\ndecode_mbu = 0.5\nsource = "x"\nas_of = "2026-01-01"\n'
    path.write_text(f'[[calibrations]]\nid = "a"\n{one}\n[[calibrations]]\nid = "b"\n{one}')
    with pytest.raises(CatalogError, match="'a' already calibrates vllm on h100-sxm. Keep one calibration per engine"):
        load_catalog([path])


@pytest.fixture
def calibrated(tmp_path):
    out = tmp_path / "ours.toml"
    assert _calibrate(out, "--measured-tpot-ms", "9", "--measured-ttft-ms", "50").exit_code == 0
    return out


def test_fill_and_the_excel_functions_use_the_calibration(calibrated, tmp_path, monkeypatch):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text("model,hardware,engine\nllama-3-8b,h100-sxm,vllm\nllama-3-8b,a100-80gb,vllm\n")
    r = CliRunner().invoke(main, ["fill", str(src), "--out", str(dst), "--catalog", str(calibrated)])
    assert r.exit_code == 0, r.output
    import csv
    rows = list(csv.DictReader(dst.open()))
    assert float(rows[0]["tpot_s"]) == pytest.approx(0.009, rel=0.005)
    assert float(rows[1]["tpot_s"]) == pytest.approx(estimate("llama-3-8b", "a100-80gb", engine="vllm").tpot_s,
                                                     rel=1e-9)
    from llmcalc_xl.excel.functions import LLM_TPOT, LLM_TTFT
    monkeypatch.setenv("LLMCALC_XL_CATALOG", str(calibrated))
    assert LLM_TPOT("llama-3-8b", "h100-sxm", 1000.0, 500.0, None, None, None, "vllm") == pytest.approx(0.009, rel=0.005)
    assert LLM_TTFT("llama-3-8b", "h100-sxm", 1000.0, None, None, None, "vllm") == pytest.approx(0.050, rel=0.005)


@needs_libreoffice
def test_the_quote_workbook_carries_the_calibration_into_its_formulas(calibrated, tmp_path):
    rows = [dict(scenario="calibrated", model="llama-3-8b", hardware="h100-sxm", engine="vllm", input_tokens=1000,
                 output_tokens=500),
            dict(scenario="other device", model="llama-3-8b", hardware="a100-80gb", engine="vllm", input_tokens=1000,
                 output_tokens=500)]
    path = save_atomically(build_workbook(rows, catalog=[calibrated]), tmp_path / "quote.xlsx")
    wb = load_workbook(recalculate(path, tmp_path), data_only=True)
    got = scenario_outputs(wb["Scenarios"], len(rows))
    assert got(0, "tpot_s") == pytest.approx(0.009, rel=0.005) and got(0, "ttft_s") == pytest.approx(0.050, rel=0.005)
    assert got(1, "tpot_s") == pytest.approx(estimate("llama-3-8b", "a100-80gb", engine="vllm").tpot_s, rel=1e-9)
    sheet = wb["Calibrations"]
    assert [c.value for c in sheet[5]][:4] == ["c:vllm:h100-sxm", "vllm-on-h100-sxm", "vllm", "h100-sxm"]


def test_plan_prices_the_calibrated_speed(calibrated):
    r = CliRunner().invoke(main, ["plan", "--model", "llama-3-8b", "--hardware", "h100", "--engine", "vllm",
                                  "--requests-per-day", "100000", "--json", "--catalog", str(calibrated)])
    assert r.exit_code == 0, r.output
    import json
    best = json.loads(r.output)["self_hosted"][0]
    want = estimate("llama-3-8b", "h100-sxm", engine="vllm", batch=best["batch"], catalog=[calibrated])
    assert best["tpot_s"] == pytest.approx(want.tpot_s, rel=1e-9)
    assert want.tpot_s > estimate("llama-3-8b", "h100-sxm", engine="vllm", batch=best["batch"]).tpot_s * 1.1


def test_on_an_apple_gpu_the_fit_replaces_the_engines_apple_efficiencies(tmp_path):
    out = tmp_path / "ours.toml"
    r = CliRunner().invoke(main, ["calibrate", "--model", "llama-3-8b", "--hardware", "apple-m3-ultra", "--engine",
                                  "llama.cpp", "--precision", "q4_0", "--measured-tpot-ms", "14", "--measured-ttft-ms",
                                  "900", "--source", "x", "--out", str(out)])
    assert r.exit_code == 0, r.output
    engine = next(e for e in load_catalog().entries("engines") if e.id == "llama.cpp")
    assert engine.apple_decode_mbu != engine.decode_mbu  # the two are told apart
    assert f"decode_mbu {engine.apple_decode_mbu:g} -> " in r.output  # llama.cpp's apple_decode_mbu, not its CUDA one
    got = estimate("llama-3-8b", "apple-m3-ultra", precision="q4_0", catalog=[out])
    assert got.tpot_s == pytest.approx(0.014, rel=0.005) and got.ttft_s == pytest.approx(0.900, rel=0.005)


def test_a_measurement_of_a_parallel_layout_is_fitted_on_that_layout(tmp_path):
    # Qwen3 30B-A3B served by SGLang on 8 H100s as 4 attention ranks of tp 2, its experts over 4 GPU groups:
    # the fit reproduces the measured 8 ms under that layout, and the entry records it
    layout = ["--gpus", "8", "--tp", "2.0", "--dp", "4", "--ep", "4"]
    argv = ["calibrate", "--model", "qwen3-30b-a3b", "--hardware", "H100", "--engine", "SGLang",
            "--measured-tpot-ms", "8", "--source", SOURCE]
    r = CliRunner().invoke(main, [*argv, *layout, "--out", str(tmp_path / "layout.toml")])
    assert r.exit_code == 0, r.output
    got = estimate("qwen3-30b-a3b", "h100-sxm", engine="sglang", gpus=8, tp=2, dp=4, ep=4,
                   catalog=[tmp_path / "layout.toml"])
    assert got.tpot_s == pytest.approx(0.008, rel=0.005)
    entry = load_catalog([tmp_path / "layout.toml"]).calibration("sglang", "h100-sxm")
    assert entry.measurement.startswith("qwen3-30b-a3b at fp16 on 8 GPUs (tp 2 x dp 4, ep 4), batch 1, ")
    # the same measurement taken as tp 8 (the layout left out) fits other efficiencies
    r = CliRunner().invoke(main, [*argv, "--gpus", "8", "--out", str(tmp_path / "tp8.toml")])
    assert r.exit_code == 0, r.output
    assert load_catalog([tmp_path / "tp8.toml"]).calibration("sglang", "h100-sxm").decode_mbu != pytest.approx(
        entry.decode_mbu, rel=0.01)


def test_refresh_keeps_the_quotes_calibration_without_its_file(calibrated, tmp_path, monkeypatch):
    from llmcalc_xl.catalogs.loader import ENV_VAR
    from llmcalc_xl.workbook.refresh import refresh

    monkeypatch.delenv(ENV_VAR, raising=False)
    rows = [dict(scenario="calibrated", model="llama-3-8b", hardware="h100-sxm", engine="vllm")]
    path = save_atomically(build_workbook(rows, catalog=[calibrated]), tmp_path / "quote.xlsx")
    report = refresh(path)  # no --catalog: the quote's Calibrations sheet is all that has it
    assert "your calibration vllm-on-h100-sxm (vllm on h100-sxm)" in report.carried and report.not_carried == []
    wb = load_workbook(path, data_only=True)
    got = scenario_outputs(wb["Scenarios"], 1)
    assert got(0, "tpot_s") == pytest.approx(0.009, rel=0.005) and got(0, "ttft_s") == pytest.approx(0.050, rel=0.005)
    assert [c.value for c in wb["Calibrations"][5]][:4] == ["c:vllm:h100-sxm", "vllm-on-h100-sxm", "vllm", "h100-sxm"]
    sources = [r for r in wb["Sources"].iter_rows(values_only=True) if r[0] == "calibrations"]
    assert [(r[1], r[3], r[5]) for r in sources] == [("vllm-on-h100-sxm", SOURCE, "quote.xlsx (Calibrations sheet)")]
    # a calibration of the same engine and device in the catalog given replaces the quote's, and says so
    newer = tmp_path / "newer.toml"
    assert _calibrate(newer, "--measured-tpot-ms", "12").exit_code == 0
    report = refresh(path, catalog=[newer])
    assert not [c for c in report.carried if "calibration" in c] and report.not_carried == [
        f"calibration vllm-on-h100-sxm: the catalog's calibration of vllm on h100-sxm ({SOURCE}, "
        f"{datetime.date.today().isoformat()}) replaces the quote's"]
    got = scenario_outputs(load_workbook(path, data_only=True)["Scenarios"], 1)
    assert got(0, "tpot_s") == pytest.approx(0.012, rel=0.005)
