"""A model is estimated in the precision it ships in unless the scenario names another, and the
Hugging Face repo of a quantised checkpoint works as a model name and implies its precision."""

import pytest

from llmcalc_xl import CatalogError, estimate, estimate_many, load_catalog
from llmcalc_xl.workbook import formulas as F
from llmcalc_xl.workbook.build import build_workbook, save_atomically

from .spreadsheets import core_of, load_values, mismatches, needs_libreoffice, recalculate, scenario_outputs

OVERLAY = """
[[models]]
id = "gpt-oss-120b"
native_precision = "mxfp4"
native_precision_source = "openai/gpt-oss-120b config.json: quantization_config quant_method mxfp4"
checkpoints = {"acme/gpt-oss-120b-FP8" = "fp8"}
source = "test overlay"
as_of = "2026-11-30"
"""


@pytest.fixture(scope="module")
def cat(tmp_path_factory):
    path = tmp_path_factory.mktemp("native") / "native.toml"
    path.write_text(OVERLAY)
    return load_catalog([path])


def test_the_native_precision_is_the_default(cat):
    e = estimate("gpt-oss-120b", "h100-sxm", catalog=cat)
    assert e.precision == "mxfp4"
    # MXFP4 weights are about a quarter of 16-bit ones: 120B ships to run on one 80 GB GPU
    assert e.fits is True
    fp16 = estimate("gpt-oss-120b", "h100-sxm", catalog=cat, precision="fp16")
    assert fp16.precision == "fp16" and fp16.fits is False
    assert e.weights_gib < fp16.weights_gib / 3


def test_a_checkpoint_repo_names_the_model_and_its_precision(cat):
    e = estimate("acme/gpt-oss-120b-FP8", "h100-sxm", catalog=cat, gpus=2)
    assert (e.model, e.precision) == ("gpt-oss-120b", "fp8")
    # a precision given wins over the one the name implies
    assert estimate("ACME/gpt-oss-120b-fp8", "h100-sxm", catalog=cat, precision="bf16", gpus=4).precision == "bf16"
    out = estimate_many(["acme/gpt-oss-120b-FP8", "gpt-oss-120b", "llama-3-8b"], "h100-sxm", catalog=cat)
    assert list(out["precision"]) == ["fp8", "mxfp4", "fp16"]


def test_a_precision_that_is_not_in_the_catalog_is_a_load_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(OVERLAY.replace('"fp8"', '"fp9"'))
    with pytest.raises(CatalogError) as caught:
        load_catalog([path])
    assert "checkpoints['acme/gpt-oss-120b-FP8'] 'fp9' is not a precision id. Did you mean: fp8" in str(caught.value)


@needs_libreoffice
def test_the_workbook_picks_the_same_precision(cat, tmp_path):
    rows = [dict(scenario="native", model="gpt-oss-120b", hardware="h100-sxm"),
            dict(scenario="checkpoint", model="acme/gpt-oss-120b-FP8", hardware="h100-sxm", gpus=2),
            dict(scenario="given", model="acme/gpt-oss-120b-FP8", hardware="h100-sxm", precision="bf16", gpus=4),
            dict(scenario="plain", model="llama-3-8b", hardware="l4")]
    path = save_atomically(build_workbook(rows, catalog=cat), tmp_path / "native.xlsx")
    wb = load_values(recalculate(path, tmp_path))
    got = scenario_outputs(wb["Scenarios"], len(rows))
    assert mismatches("LibreOffice", rows, core_of(rows, cat), got, F.OUTPUT_KEYS, "n/a",
                      no_fit="does not fit") == []
    calc = wb["Calc"]
    column = next(c.column for c in calc[3] if c.value == "precision_id")
    assert [calc.cell(5 + i, column).value for i in range(4)] == ["mxfp4", "fp8", "bf16", "fp16"]


def test_the_quote_date_picks_the_scheduled_price_and_notes_a_retirement():
    """Gemini 4 Carbon's introductory $2/$10 ends on 2026-12-01, $4/$20 after (catalog schedule, Google's
    pricing page); GPT-4 was retired on 2026-10-23 and still prices at $30/$60 per million."""
    from click.testing import CliRunner

    from llmcalc_xl.cli.main import main

    before = estimate("gemini-4-carbon", input_tokens=1000, output_tokens=500, quote_date="2026-11-30")
    after = estimate("gemini-4-carbon", input_tokens=1000, output_tokens=500, quote_date="2026-12-01")
    assert before.token_cost_usd == pytest.approx((1000 * 2 + 500 * 10) / 1e6, rel=1e-12)
    assert after.token_cost_usd == pytest.approx((1000 * 4 + 500 * 20) / 1e6, rel=1e-12)
    old = estimate("gpt-4", input_tokens=80, output_tokens=500, quote_date="2026-09-01")
    retired = estimate("gpt-4", input_tokens=80, output_tokens=500, quote_date="2026-10-23")
    assert old.cost_per_request_usd == retired.cost_per_request_usd == pytest.approx(
        (80 * 30 + 500 * 60) / 1e6, rel=1e-12)  # $0.0324, the research notes' example
    assert not any(n.kind == "retired" for n in old.notes)
    assert [n.text for n in retired.notes if n.kind == "retired"] == [
        "'gpt-4' was retired on 2026-10-23: its provider no longer serves it, and the cost uses its last "
        "published price. Its successor is 'gpt-5.6-sol'."]
    r = CliRunner().invoke(main, ["estimate", "--model", "gemini-4-carbon", "--quote-date", "2026-12-24", "--json"])
    assert r.exit_code == 0 and '"token_cost_usd": 0.014' in r.output  # 1,000 in, 500 out at $4/$20
    r = CliRunner().invoke(main, ["estimate", "--model", "gpt-4", "--quote-date", "24/12/2026"])
    assert r.exit_code != 0 and "quote_date must be a date as YYYY-MM-DD, got '24/12/2026'" in r.output
