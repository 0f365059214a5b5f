"""What a user types into the quote: names as the command line accepts them, every option of
the core, and mistakes the Check column explains. LibreOffice recalculates the quote and every
result must equal the core's for the same row."""


import pytest
from openpyxl import load_workbook
from openpyxl.utils import column_index_from_string

from llmcalc_xl.workbook import formulas as F
from llmcalc_xl.core.estimate import OPTION_NAMES
from llmcalc_xl.workbook.build import FIRST_ROW, _Layout, build_workbook, save_atomically

from .spreadsheets import problem, core_of as _core
from .spreadsheets import mismatches, needs_libreoffice, recalculate, scenario_outputs


def test_every_option_of_the_core_has_a_workbook_column():
    missing = [name for name in OPTION_NAMES if name not in F.INPUT_KEYS]
    assert missing == []


# Names as people type them; the core resolves each (checked below) and so must the workbook.
TYPED = [
    dict(scenario="alias H100", model="Llama 3 70B", hardware="H100", gpus=4, precision="FP8", batch=8,
         requests_per_month=1_000_000),
    dict(scenario="alias A100 80GB", model="LLAMA_3_8B", hardware="A100 80GB", input_tokens=1200,
         output_tokens=300, requests_per_month=200_000),
    dict(scenario="spaces around", model="  llama-3.1-8b ", hardware=" l40s", engine=" VLLM ", kv_precision="FP8",
         batch=16, requests_per_month=50_000),
    dict(scenario="engine auto typed", model="mistral-7b", hardware="rtx-4090", engine="auto", precision="Q4_K_M"),
]
# Every option of the core, alone or together.
OPTIONS = [
    dict(scenario="cached input on an API", model="gpt-4o", input_tokens=10_000, cached_input_tokens=6_000,
         output_tokens=500, requests_per_month=100_000),
    dict(scenario="utilization 0.4", model="llama-3-8b", hardware="l4", utilization=0.4, batch=4,
         requests_per_month=300_000),
    dict(scenario="engine overrides", model="llama-3.1-8b", hardware="h100-sxm", engine="vllm", memory_fraction=0.8,
         overhead_gib=1.5, prefill_mfu=0.3, decode_mfu=0.2, decode_mbu=0.6, prefill_overhead_s=0.02,
         decode_step_overhead_s=0.001, batch=32, requests_per_month=3_000_000),
    dict(scenario="device overrides", model="llama-3-8b", hardware="a100-80gb", memory_gib=40, bandwidth_gb_s=1200,
         tflops=200, batch=8, requests_per_month=100_000),
    dict(scenario="custom device", model="llama-3-8b", memory_gib=48, bandwidth_gb_s=960, tflops=180,
         price_per_hour=1.1, batch=4, requests_per_month=100_000),
    dict(scenario="gpus auto", model="llama-3.1-70b", hardware="a100-80gb", gpus="auto", batch=8,
         requests_per_month=1_000_000),
    dict(scenario="gpus AUTO fp8", model="llama-3.1-405b", hardware="h100-sxm", gpus="AUTO", precision="fp8",
         requests_per_month=10_000),
    dict(scenario="context and latency", model="qwen2.5-72b", hardware="mi300x", context_tokens=16_000,
         latency_s=12.5, price_per_hour=2.0, requests_per_month=40_000),
    dict(scenario="owned, README example", model="llama-3.1-8b", hardware="h100-sxm", pricing="owned",
         capex_usd_per_gpu=30_000, power_w_per_gpu=700, pue=1.3, electricity_usd_per_kwh=0.12, batch=16,
         requests_per_month=2_000_000),
    dict(scenario="owned annuity, colocated, N+1 at a peak of 3", model="llama-3-8b", hardware="l4", pricing=" Owned",
         capex_usd_per_gpu=10_000, depreciation_years=5, residual_share=0.1, cost_of_capital=0.08,
         hosting_usd_per_kw_month=180, maintenance_share_per_year=0.1, peak_to_average=3, redundancy=1, batch=8,
         requests_per_month=800_000),
    dict(scenario="GeForce with no rental price: owned", model="llama-3-8b", hardware="rtx-3080", precision="q4_k_m",
         requests_per_month=30_000),
    dict(scenario="on demand typed", model="llama-3-8b", hardware="rtx-4090", pricing="On Demand",
         requests_per_month=30_000, peak_to_average=1.5),
    dict(scenario="custom device owned", model="llama-3-8b", memory_gib=48, bandwidth_gb_s=960, tflops=180,
         pricing="owned", capex_usd_per_gpu=6000, power_w_per_gpu=300, requests_per_month=100_000),
    dict(scenario="another provider, typed", model="llama-3-8b", hardware="H100", provider=" LAMBDA ", batch=8,
         requests_per_month=500_000),
    dict(scenario="spot tier", model="llama-3-8b", hardware="h100-sxm", pricing="Spot", requests_per_month=500_000),
    dict(scenario="spot from its provider", model="llama-3-8b", hardware="h100-sxm", pricing="spot",
         provider="google cloud", requests_per_month=500_000),
    dict(scenario="a tier with no price", model="llama-3-8b", hardware="l4", pricing="reserved-3y",
         requests_per_month=500_000),
    dict(scenario="autoscaled, typed", model="llama-3-8b", hardware="h100-sxm", autoscale=" Yes", peak_to_average=2.5,
         peak_hours_per_day=6, redundancy=1, requests_per_month=3_000_000),
    dict(scenario="autoscaled owned: always on", model="llama-3-8b", hardware="rtx-4090", autoscale="yes",
         peak_to_average=2, requests_per_month=300_000),
]
# Mistakes: (row, words the Check cell must contain)
MISTAKES = [
    (dict(scenario="bad model", model="llama-9-1000b", hardware="h100-sxm"), "Unknown model 'llama-9-1000b'"),
    (dict(scenario="bad hardware", model="llama-3-8b", hardware="h100-sxm9"), "Unknown hardware 'h100-sxm9'"),
    (dict(scenario="text gpus", model="llama-3-8b", hardware="l4", gpus="two"), "gpus must be a number"),
    (dict(scenario="half gpu", model="llama-3-8b", hardware="l4", gpus=1.5), "gpus must be a whole number"),
    (dict(scenario="utilization > 1", model="llama-3-8b", hardware="l4", utilization=1.5), "utilization must be <= 1"),
    (dict(scenario="cached > input", model="gpt-4o", input_tokens=100, cached_input_tokens=200),
     "cached_input_tokens must be <= input_tokens"),
    (dict(scenario="partial device", model="llama-3-8b", memory_gib=24), "needs memory_gib, bandwidth_gb_s and tflops"),
    (dict(scenario="wildcard", model="llama*", hardware="l4"), "Unknown model 'llama*'"),
    (dict(scenario="lease", model="llama-3-8b", hardware="l4", pricing="lease"),
     "pricing 'lease' must be on-demand, reserved-1y, reserved-3y, spot or owned"),
    (dict(scenario="unknown provider", model="llama-3-8b", hardware="h100-sxm", provider="AWS"),
     "No price from provider 'AWS' for this hardware and tier"),
    (dict(scenario="provider without the tier", model="llama-3-8b", hardware="h100-sxm", provider="Lambda",
          pricing="spot"), "No price from provider 'Lambda' for this hardware and tier"),
    (dict(scenario="owned, no capex", model="llama-3-8b", hardware="h200", pricing="owned"),
     "pricing owned needs capex_usd_per_gpu"),
    (dict(scenario="owned Mac, no power", model="llama-3-8b", hardware="apple-m2-max", pricing="owned",
          capex_usd_per_gpu=3000), "pricing owned needs power_w_per_gpu"),
    (dict(scenario="peak below average", model="llama-3-8b", hardware="l4", peak_to_average=0.5),
     "peak_to_average must be >= 1"),
    (dict(scenario="half a spare", model="llama-3-8b", hardware="l4", redundancy=1.5), "redundancy must be a whole number"),
    (dict(scenario="autoscale maybe", model="llama-3-8b", hardware="l4", autoscale="maybe"),
     "autoscale 'maybe' must be yes or no"),
    (dict(scenario="peak longer than the day", model="llama-3-8b", hardware="l4", autoscale="yes", peak_to_average=4,
          peak_hours_per_day=8), "peak_to_average x peak_hours_per_day must be at most 24"),
    (dict(scenario="a 25-hour peak", model="llama-3-8b", hardware="l4", peak_hours_per_day=25),
     "peak_hours_per_day must be <= 24"),
]




def test_the_core_accepts_the_typed_rows_and_refuses_the_mistakes():
    assert all(e is None for e in _core(TYPED + OPTIONS)["error"])
    assert all(e is not None for e in _core([row for row, _ in MISTAKES])["error"])


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("typed")
    rows = TYPED + OPTIONS + [row for row, _ in MISTAKES]
    path = save_atomically(build_workbook(rows), tmp / "typed.xlsx")
    return rows, load_workbook(recalculate(path, tmp), data_only=True)


@needs_libreoffice
def test_typed_names_and_every_option_give_the_core_numbers(recalculated):
    rows, wb = recalculated
    good = TYPED + OPTIONS
    got = scenario_outputs(wb["Scenarios"], len(good))
    assert [problem(got(i, "check")) for i in range(len(good))] == [None] * len(good)
    bad = mismatches("LibreOffice", good, _core(good), got, F.OUTPUT_KEYS, "n/a", no_fit="does not fit")
    assert bad == [], "\n".join(bad[:20])


@needs_libreoffice
def test_the_check_column_says_what_is_wrong(recalculated):
    rows, wb = recalculated
    ws, layout = wb["Scenarios"], _Layout()
    first = FIRST_ROW + len(TYPED) + len(OPTIONS)
    for i, (row, words) in enumerate(MISTAKES):
        r = first + i
        check = ws.cell(r, column_index_from_string(layout.check_col)).value
        assert words in (check or ""), (row["scenario"], check)
        cost = ws.cell(r, column_index_from_string(layout.output_col["monthly_cost_usd"])).value
        assert cost in (None, ""), (row["scenario"], cost)
