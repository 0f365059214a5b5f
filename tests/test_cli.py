"""The command line, through click's CliRunner: output, exit codes and exact error text."""

import json

import pytest
from click.testing import CliRunner

from llmcalc_xl.cli.main import main
from llmcalc_xl.core.estimate import OUTPUT_KEYS


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_estimate_prints_a_breakdown():
    r = run("estimate", "--model", "llama-3-70b", "--hardware", "h100-sxm", "--gpus", "4")
    assert r.exit_code == 0, r.output
    assert "Memory (GiB, all GPUs together)" in r.output
    assert "-> fits" in r.output
    assert "time to first token" in r.output
    assert "per 1M output tokens" in r.output


def test_worked_example_json():
    r = run("estimate", "--model", "gpt-4", "--hardware", "a100-40gb", "--input-tokens", "0",
            "--output-tokens", "500", "--latency-s", "3.5", "--price-per-hour", "2.5", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert set(OUTPUT_KEYS) <= set(d)
    assert d["cost_per_request_usd"] == pytest.approx(0.03 + 3.5 / 3600 * 2.5, rel=1e-12)
    assert d["weights_gib"] is None  # an API model: memory is not applicable


def test_json_matches_the_library():
    from llmcalc_xl import estimate
    r = run("estimate", "--model", "mixtral-8x7b", "--hardware", "a100-80gb", "--gpus", "2", "--batch", "8",
            "--json")
    assert json.loads(r.output) == json.loads(json.dumps(estimate("mixtral-8x7b", "a100-80gb", gpus=2, batch=8)
                                                         .to_dict()))


def test_api_model_says_memory_not_applicable():
    r = run("estimate", "--model", "gpt-4o")
    assert r.exit_code == 0
    assert "Memory: not applicable" in r.output


@pytest.mark.parametrize("args, message", [
    (["--model", "llama-9-70b"], "Error: Unknown model 'llama-9-70b'. Did you mean: "),
    (["--model", "llama-3-8b", "--hardware", "h100-sxn"], "Error: Unknown hardware 'h100-sxn'. Did you mean: h100-sxm"),
    (["--model", "llama-3-8b", "--output-tokens", "-5"], "Error: output_tokens must be >= 0, got -5\n"),
    (["--model", "llama-3-8b", "--gpus", "0"], "Error: gpus must be >= 1, got 0\n"),
    (["--model", "llama-3-8b", "--batch", "two"], "Error: batch must be a number or max, got 'two'\n"),
    (["--model", "llama-3-8b", "--input-tokens", "1,000"], "Error: input_tokens must be a plain number, got '1,000'"),
    (["--model", "llama-3-8b", "--precision", "q5"], "Error: Unknown precision 'q5'. Did you mean: "),
    (["--model", "llama-3-8b", "--catalog", "/nonexistent/x.toml"], "Error: Catalog file '/nonexistent/x.toml' does not exist."),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    r = run("estimate", *args)
    assert r.exit_code == 2
    assert r.output.startswith(message)
    assert r.output.count("\n") == 1
    assert "Traceback" not in r.output


def test_missing_model_is_a_usage_error():
    r = run("estimate")
    assert r.exit_code == 2
    assert "Missing option '--model'" in r.output


@pytest.mark.parametrize("kind", ["models", "hardware", "engines", "precisions"])
def test_catalog_lists_entries_with_source_and_date(kind):
    r = run("catalog", kind)
    assert r.exit_code == 0
    assert "as of" in r.output and "source" in r.output
    rows = json.loads(run("catalog", kind, "--json").output)
    assert all(row["source"] and row["as_of"] for row in rows)


def test_catalog_lists_user_entries(tmp_path):
    user = tmp_path / "ours.toml"
    user.write_text('[[hardware]]\nid = "our-box"\nname = "Our box"\nkind = "gpu"\nmemory_gib = 96\n'
                    'bandwidth_gb_s = 1600\ntflops_fp16 = 500\nsource = "vendor quote"\nas_of = "2026-09-30"\n')
    r = run("catalog", "hardware", "--catalog", str(user))
    assert "our-box" in r.output


def test_plan_compares_self_hosted_and_apis():
    r = run("plan", "--model", "llama-3.1-8b", "--requests-per-day", "100000", "--hardware", "h100-sxm",
            "--hardware", "l4", "--api-model", "gpt-4o", "--api-model", "gpt-4o-mini", "--json")
    assert r.exit_code == 0, r.output
    plan = json.loads(r.output)
    assert plan["requests_per_month"] == pytest.approx(100000 * 365 / 12)
    assert {row["hardware"] for row in plan["self_hosted"]} == {"h100-sxm", "l4"}
    best = plan["self_hosted"][0]
    assert best["monthly_usd"] == min(row["monthly_usd"] for row in plan["self_hosted"])
    assert best["monthly_usd"] == pytest.approx(best["replicas"] * best["replica_usd_per_month"])
    for api in plan["apis"]:
        assert api["monthly_usd"] == pytest.approx(api["cost_per_request_usd"] * plan["requests_per_month"])
        if api["breakeven_requests_per_month"] is not None:
            assert api["breakeven_requests_per_month"] == pytest.approx(
                best["replica_usd_per_month"] / api["cost_per_request_usd"])


def test_plan_text_and_targets():
    r = run("plan", "--model", "llama-3.1-70b", "--requests-per-s", "2", "--hardware", "h100-sxm",
            "--max-ttft-s", "1")
    assert r.exit_code == 0, r.output
    assert "Self-hosted llama-3.1-70b, cheapest configuration per hardware" in r.output
    assert "break-even" in r.output


def test_plan_needs_one_load():
    r = run("plan", "--model", "llama-3-8b")
    assert r.exit_code == 2
    assert r.output == "Error: Give the load as requests_per_day or requests_per_s (one of them).\n"


def test_plan_with_only_an_api_model_says_so():
    r = run("plan", "--model", "gpt-4o", "--requests-per-day", "100", "--api-model", "gpt-4o-mini")
    assert r.exit_code == 0
    assert "Self-hosted: none of the models given is open-weight" in r.output
    assert "gpt-4o-mini" in r.output and "gpt-4o " in r.output


def test_python_dash_m_runs_the_command(tmp_path):
    import json
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "llmcalc_xl", "estimate", "--model", "gpt-4", "--input-tokens", "0",
                        "--output-tokens", "500", "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["token_cost_usd"] == 0.03  # 500 tokens at $60 per million
    r = subprocess.run([sys.executable, "-m", "llmcalc_xl", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("Usage: llmcalc-xl")


def test_a_note_that_ends_in_a_full_stop_gets_no_second_one():
    # the retired-model note ends with its successor's sentence; the text output adds no "..": one stop
    r = run("estimate", "--model", "gpt-4", "--hardware", "a100-40gb", "--input-tokens", "0",
            "--output-tokens", "500", "--latency-s", "3.5", "--price-per-hour", "2.5", "--quote-date", "2026-11-30")
    assert r.exit_code == 0, r.output
    note = [line for line in r.output.splitlines() if line.startswith("Note:")]
    assert note == ["Note: 'gpt-4' was retired on 2026-10-23: its provider no longer serves it, and the cost "
                    "uses its last published price. Its successor is 'gpt-5.6-sol'."]
