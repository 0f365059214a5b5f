"""The horizon forecast (totals, NPV, crossover month) and the sensitivity, against arithmetic done
by hand here (README, "Own, rent or API", works the owned example).

Fixed capacity: latency_s given makes a replica's capacity batch / latency x 3600 x 730 h x
utilisation, so the replica counts below are counted by hand.
"""

import json
import math

import pytest

from llmcalc_xl.core.plan import HORIZON_KEYS, horizon_many, sensitivity_many, sensitivity_total

HOURS = 730.0
# gpt-4o: 2.50 USD per million input tokens, 10 per million output (catalog; README's LLM_COST example)
GPT4O_REQUEST = (1000 * 2.5 + 500 * 10.0) / 1e6  # 0.0075 USD
# the README's owned GPU: 30,000 USD over 4 years straight line, 700 W x PUE 1.3 x 0.12 USD/kWh
OWNED = dict(hardware="h100-sxm", pricing="owned", capex_usd_per_gpu=30000, power_w_per_gpu=700, pue=1.3,
             electricity_usd_per_kwh=0.12, depreciation_years=4)
CAPITAL_PER_HOUR = 30000 / (4 * 8760)      # 0.8562
POWER_PER_HOUR = 0.7 * 1.3 * 0.12          # 0.1092


def one(api_model="gpt-4o", model="llama-3-8b", **options):
    options.setdefault("input_tokens", 1000)
    options.setdefault("output_tokens", 500)
    r = horizon_many(api_model, model, **options)
    assert r["error"][0] is None, r["error"][0]
    return {k: float(r[k][0]) for k in HORIZON_KEYS}


def test_no_change_is_the_monthly_cost_times_the_horizon():
    # 1 replica of 1 GPU at 2 USD an hour: 1,460 USD a month; the API: 200,000 x 0.0075 = 1,500
    r = one(hardware="h100-sxm", price_per_hour=2, latency_s=3.6, requests_per_month=200_000, horizon_months=36)
    assert r["horizon_cost_usd"] == pytest.approx(36 * 1460, rel=1e-12)
    assert r["horizon_cost_api_usd"] == pytest.approx(36 * 1500, rel=1e-12)
    assert r["npv_usd"] == pytest.approx(36 * 1460, rel=1e-12)  # discount rate 0: the plain sum
    assert math.isnan(r["crossover_month"])  # self-hosted is cheaper from the first month: no crossover


def test_npv_discounts_end_of_month_cash_flows():
    r = one(hardware="h100-sxm", price_per_hour=2, latency_s=3.6, requests_per_month=200_000, horizon_months=24,
            discount_rate=0.10)
    v = 1.1 ** (-1 / 12)  # a month's discount factor
    annuity = v * (1 - v ** 24) / (1 - v)  # sum of v^m, m = 1..24
    assert r["npv_usd"] == pytest.approx(1460 * annuity, rel=1e-12)
    assert r["npv_api_usd"] == pytest.approx(1500 * annuity, rel=1e-12)
    assert r["horizon_cost_usd"] == pytest.approx(24 * 1460, rel=1e-12)


def test_rented_replicas_follow_growing_traffic():
    # capacity 1 / 3.6 s x 3600 x 730 h = 730,000 requests a month; 700,000 x 1.1^(m-1) requests:
    # month 1 needs 1 replica, months 2-6 (770,000 to 1,127,357) need 2
    requests = [700_000 * 1.1 ** (m - 1) for m in range(1, 7)]
    replicas = [math.ceil(x / 730_000) for x in requests]
    assert replicas == [1, 2, 2, 2, 2, 2]
    r = one(hardware="h100-sxm", price_per_hour=2, latency_s=3.6, requests_per_month=700_000, horizon_months=6,
            growth_per_month=0.1)
    assert r["horizon_cost_usd"] == pytest.approx(11 * 1460, rel=1e-12)
    assert r["horizon_cost_api_usd"] == pytest.approx(sum(requests) * GPT4O_REQUEST, rel=1e-12)


def test_prices_change_a_year_compounded_monthly():
    # rented GPU-hours 12% cheaper a year, API tokens 30% cheaper: month m at 0.88^((m-1)/12), 0.7^((m-1)/12)
    r = one(hardware="h100-sxm", price_per_hour=2, latency_s=3.6, requests_per_month=200_000, horizon_months=36,
            gpu_price_change_per_year=-0.12, api_price_change_per_year=-0.3)
    gpu = sum(0.88 ** ((m - 1) / 12) for m in range(1, 37))
    api = (1 - 0.7 ** 3) / (1 - 0.7 ** (1 / 12))  # the same sum in closed form
    assert r["horizon_cost_usd"] == pytest.approx(1460 * gpu, rel=1e-12)
    assert r["horizon_cost_api_usd"] == pytest.approx(1500 * api, rel=1e-12)


def test_owned_hardware_by_its_gpu_hour_and_with_its_capex_up_front():
    # the README's worked example: 0.8562 + 0.1092 = 0.9654 USD per GPU-hour, 704.74 USD a month
    hourly = CAPITAL_PER_HOUR + POWER_PER_HOUR
    by_hour = one(requests_per_month=200_000, horizon_months=36, **OWNED)
    assert by_hour["horizon_cost_usd"] == pytest.approx(36 * hourly * HOURS, rel=1e-12)
    assert math.isnan(by_hour["crossover_month"])  # cheaper than the API (1,500 a month) from month 1
    upfront = one(requests_per_month=200_000, horizon_months=36, capex_upfront="yes", **OWNED)
    running = POWER_PER_HOUR * HOURS  # 79.716 USD a month
    assert upfront["horizon_cost_usd"] == pytest.approx(30000 + 36 * running, rel=1e-12)
    # cumulative: 30,000 + 79.716 m against 1,500 m: the API is ahead until 30,000 / (1,500 - 79.716) = 21.1
    assert upfront["crossover_month"] == 22
    # an annuity (cost of capital above 0) is never paid up front: the view needs the straight line
    annuity = one(requests_per_month=200_000, horizon_months=36, capex_upfront="yes", cost_of_capital=0.08,
                  **OWNED)
    assert annuity["horizon_cost_usd"] > by_hour["horizon_cost_usd"]
    assert math.isnan(annuity["crossover_month"])


def test_owned_hardware_bought_for_growth_is_kept_when_traffic_falls():
    # up front: months 1-3 at 1 replica, then none needed less: traffic falling 50% a month keeps the fleet
    r = one(requests_per_month=200_000, horizon_months=3, capex_upfront="yes", growth_per_month=-0.5, **OWNED)
    assert r["horizon_cost_usd"] == pytest.approx(30000 + 3 * POWER_PER_HOUR * HOURS, rel=1e-12)


def test_an_api_scenario_against_another_api():
    # 1,000,000 requests on gpt-4o (7,500 a month) against gpt-4o-mini (0.15 / 0.60 per million)
    r = one(model="gpt-4o", api_model="gpt-4o-mini", requests_per_month=1_000_000, horizon_months=12)
    assert r["horizon_cost_usd"] == pytest.approx(12 * 7500, rel=1e-12)
    assert r["horizon_cost_api_usd"] == pytest.approx(12 * 1e6 * (1000 * 0.15 + 500 * 0.6) / 1e6, rel=1e-12)


def test_no_answer_and_errors():
    r = horizon_many("gpt-4o", "llama-3-8b", input_tokens=1000, output_tokens=500, requests_per_month=1000)
    assert math.isnan(r["horizon_cost_usd"][0])  # no hardware: no monthly cost
    r = horizon_many("llama-3-8b", "llama-3-8b", "h100-sxm")
    assert r["error"][0].startswith("api_model 'llama-3-8b' is not an API model")
    r = horizon_many("gpt-4o", "llama-3-8b", "h100-sxm", horizon_months=61)
    assert r["error"][0] == "horizon_months must be <= 60, got 61"


def test_the_series_are_the_months():
    r = horizon_many("gpt-4o", "llama-3-8b", "h100-sxm", price_per_hour=2, latency_s=3.6, requests_per_month=700_000,
                     horizon_months=3, growth_per_month=0.1, series=True)
    assert r["monthly_usd"][0, :4].tolist()[:3] == pytest.approx([1460, 2920, 2920], rel=1e-12)
    assert math.isnan(r["monthly_usd"][0, 3])
    assert r["cumulative_usd"][0, 2] == pytest.approx(7300, rel=1e-12)
    assert r["cumulative_usd"][0, 59] == pytest.approx(7300, rel=1e-12)  # past the horizon: its total


# --- sensitivity ---------------------------------------------------------------------------------------

def test_each_driver_moves_the_monthly_cost_as_counted_by_hand():
    rows = dict(model=["llama-3-8b", "gpt-4o"], hardware=["h100-sxm", None], price_per_hour=[2, None],
                latency_s=[3.6, None], requests_per_month=[700_000, 1_000_000], input_tokens=1000, output_tokens=500)
    s = sensitivity_many(share=0.2, **rows)
    got = {k: v.tolist() for k, v in s.items() if k != "error"}
    # self-hosted: 700,000 requests on replicas of 730,000: 1 replica of 1,460 USD
    # API: 1,000,000 x 0.0075 = 7,500 USD
    assert got["base_usd"] == pytest.approx([1460, 7500])
    assert got["gpu_price_down_usd"] == pytest.approx([1168, 7500])
    assert got["gpu_price_up_usd"] == pytest.approx([1752, 7500])
    assert got["throughput_down_usd"] == pytest.approx([2920, 7500])  # 584,000 a replica: 2 replicas
    assert got["throughput_up_usd"] == pytest.approx([1460, 7500])
    assert got["requests_up_usd"] == pytest.approx([2920, 9000])       # 840,000 requests
    assert got["requests_down_usd"] == pytest.approx([1460, 6000])
    assert got["tokens_up_usd"] == pytest.approx([2920, 9000])         # 608,333 a replica; tokens x 1.2
    assert got["utilization_down_usd"] == pytest.approx([2920, 7500])  # utilisation 0.8: 584,000 a replica
    assert got["utilization_up_usd"] == pytest.approx([1460, 7500])    # at most 1
    assert got["api_price_up_usd"] == pytest.approx([1460, 9000])
    for driver in ("capex", "depreciation_years", "electricity"):  # rented and API: nothing owned
        assert got[f"{driver}_up_usd"] == pytest.approx([1460, 7500])
    total = sensitivity_total(s)
    assert total["requests_up_usd"] == pytest.approx(2920 + 9000)


def test_owned_drivers():
    s = sensitivity_many("llama-3-8b", requests_per_month=200_000, share=0.2, **OWNED)
    got = {k: float(v[0]) for k, v in s.items() if k != "error"}
    base = (CAPITAL_PER_HOUR + POWER_PER_HOUR) * HOURS
    assert got["base_usd"] == pytest.approx(base, rel=1e-12)
    assert got["capex_up_usd"] == pytest.approx(base + 0.2 * CAPITAL_PER_HOUR * HOURS, rel=1e-12)
    assert got["electricity_down_usd"] == pytest.approx(base - 0.2 * POWER_PER_HOUR * HOURS, rel=1e-12)
    longer = 30000 / (4.8 * 8760)  # 4 years x 1.2
    assert got["depreciation_years_up_usd"] == pytest.approx(base + (longer - CAPITAL_PER_HOUR) * HOURS, rel=1e-12)
    assert got["gpu_price_up_usd"] == pytest.approx(1.2 * base, rel=1e-12)


def test_share_is_checked():
    with pytest.raises(ValueError, match=r"share must be above 0 and below 1, got 1.5. Give 0.2 for 20%."):
        sensitivity_many("llama-3-8b", "h100-sxm", share=1.5)


# --- the Excel functions, as Excel calls them (floats, None for empty cells) ----------------------------

def test_llm_owned_gpu_hour_is_the_readme_example():
    from llmcalc_xl.excel.functions import LLM_OWNED_GPU_HOUR

    got = LLM_OWNED_GPU_HOUR(None, 30000.0, 4.0, None, None, 700.0, 1.3, 0.12)
    assert got == pytest.approx(CAPITAL_PER_HOUR + POWER_PER_HOUR, rel=1e-12)  # 0.9654
    assert LLM_OWNED_GPU_HOUR("h100x") == "#LLM! Unknown hardware 'h100x'. Did you mean: h100-sxm, v100, h200?"


def test_llm_horizon_gives_each_figure():
    from llmcalc_xl.excel.functions import LLM_HORIZON

    owned = dict(pricing="owned", capex_usd_per_gpu=30000.0, power_w_per_gpu=700.0, pue=1.3,
                 electricity_usd_per_kwh=0.12, horizon_months=36.0, capex_upfront="yes")
    args = ("gpt-4o", "llama-3-8b", "h100-sxm", 1000.0, 500.0, 200000.0)
    assert LLM_HORIZON(*args, figure="crossover_month", **owned) == 22
    assert LLM_HORIZON(*args, **owned) == pytest.approx(30000 + 36 * POWER_PER_HOUR * HOURS, rel=1e-12)
    assert LLM_HORIZON(*args, figure="npv_api_usd", **owned) == pytest.approx(36 * 1500, rel=1e-12)
    assert LLM_HORIZON(*args, figure="crossover_month", latency_s=3.6, price_per_hour=2.0) == "none"
    assert LLM_HORIZON(*args, figure="irr").startswith("#LLM! figure 'irr' must be one of horizon_cost_usd")


# --- the command line --------------------------------------------------------------------------------------

def _cli(*args):
    import json

    from click.testing import CliRunner

    from llmcalc_xl.cli.main import main

    result = CliRunner().invoke(main, list(args))
    return result, (json.loads(result.output) if result.exit_code == 0 and "--json" in args else None)


OWNED_FLAGS = ("--model", "llama-3-8b", "--hardware", "h100-sxm", "--pricing", "owned", "--capex-usd-per-gpu",
               "30000", "--power-w-per-gpu", "700", "--pue", "1.3", "--electricity-usd-per-kwh", "0.12",
               "--requests-per-month", "200000")


def test_horizon_command_gives_the_figures_and_the_months():
    result, got = _cli("horizon", *OWNED_FLAGS, "--capex-upfront", "yes", "--json")
    assert result.exit_code == 0, result.output
    assert got["crossover_month"] == 22 and got["compare_api_model"] == "gpt-4o"
    assert got["horizon_cost_usd"] == pytest.approx(30000 + 36 * POWER_PER_HOUR * HOURS, rel=1e-12)
    assert len(got["months"]) == 36 and got["months"][0]["replicas"] == 1
    assert got["months"][0]["monthly_usd"] == pytest.approx(30000 + POWER_PER_HOUR * HOURS, rel=1e-12)
    result, _ = _cli("horizon", *OWNED_FLAGS, "--capex-upfront", "yes")
    assert "Crossover month: 22, the month in which the option dearer in month 1" in result.output
    result, _ = _cli("horizon", *OWNED_FLAGS, "--compare-api-model", "llama-3-8b")
    assert result.exit_code == 2
    assert result.output == "Error: --compare-api-model 'llama-3-8b' is not an API model. Give one such as gpt-4o.\n"


def test_sensitivity_command_for_a_scenario_and_for_a_csv(tmp_path):
    result, got = _cli("sensitivity", *OWNED_FLAGS, "--json")
    assert result.exit_code == 0, result.output
    drivers = {d["driver"]: d for d in got["drivers"]}
    base = (CAPITAL_PER_HOUR + POWER_PER_HOUR) * HOURS
    assert got["base_usd"] == pytest.approx(base, rel=1e-12)
    assert drivers["capex"]["up_usd"] == pytest.approx(base + 0.2 * CAPITAL_PER_HOUR * HOURS, rel=1e-12)
    csv_path = tmp_path / "s.csv"
    csv_path.write_text("model,hardware,requests_per_month,price_per_hour,latency_s\n"
                        "llama-3-8b,h100-sxm,700000,2,3.6\ngpt-4o,,1000000,,\n", encoding="utf-8")
    result, got = _cli("sensitivity", "--scenarios", str(csv_path), "--json")
    assert result.exit_code == 0, result.output
    drivers = {d["driver"]: d for d in got["drivers"]}
    assert got["base_usd"] == pytest.approx(1460 + 7500)
    assert drivers["requests"]["up_usd"] == pytest.approx(2920 + 9000)
    result, _ = _cli("sensitivity")
    assert result.output == "Error: Give --model (and the scenario's options), or --scenarios CSV.\n"


def test_estimate_json_gives_the_forecast_against_an_api_model():
    from click.testing import CliRunner
    from llmcalc_xl.cli.main import main

    r = CliRunner().invoke(main, ["estimate", "--model", "llama-3-8b", "--hardware", "h100-sxm", "--price-per-hour", "2",
                                  "--latency-s", "3.6", "--requests-per-month", "200000", "--compare-api-model",
                                  "GPT-4o", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    # 36 months of one 1,460 USD replica against 200,000 x 0.0075 USD on gpt-4o
    assert d["compare_api_model"] == "gpt-4o"
    assert d["horizon_cost_usd"] == pytest.approx(36 * 1460, rel=1e-12)
    assert d["horizon_cost_api_usd"] == pytest.approx(36 * 1500, rel=1e-12)
    assert d["crossover_month"] is None and list(d)[-1] == "notes"
    text = CliRunner().invoke(main, ["estimate", "--model", "llama-3-8b", "--hardware", "h100-sxm", "--price-per-hour",
                                     "2", "--latency-s", "3.6", "--requests-per-month", "200000",
                                     "--compare-api-model", "gpt-4o"])
    assert "Over 36 months, the scenario as quoted and the same traffic on gpt-4o" in text.output
    for args in (["estimate", "--model", "llama-3-8b", "--compare-api-model", "nope"],
                 ["horizon", "--model", "llama-3-8b", "--compare-api-model", "nope"]):
        bad = CliRunner().invoke(main, args)
        assert bad.exit_code == 2 and bad.output.startswith("Error: --compare-api-model: Unknown model 'nope'"), \
            bad.output


def test_a_scenario_quoted_on_the_compared_api_never_crosses_over():
    # gpt-4o quoted against gpt-4o: the same cost every month (7,500 at 1,000,000 requests, rising
    # with the API price), computed two ways; equal money leads neither way, so no crossover month,
    # whatever the last bits of the two sums (a random book found month 4 here, and two spreadsheet
    # engines each another month)
    r = one(model="gpt-4o", api_model="gpt-4o", requests_per_month=4_903_664, api_price_change_per_year=1.3279,
            discount_rate=0.0802, horizon_months=36)
    assert r["horizon_cost_usd"] == pytest.approx(r["horizon_cost_api_usd"], rel=1e-12)
    assert math.isnan(r["crossover_month"])


def test_money_within_half_a_cent_is_a_tie():
    from llmcalc_xl.core.forecast import crossover_of

    # cumulative costs (USD) month by month: a lead of a fraction of a cent is no lead
    assert math.isnan(crossover_of([100.0, 200.0 + 1e-9, 300.0], [100.0 + 1e-9, 200.0, 300.0 - 0.004]))
    # a real lead that changes: the quote is dearer in month 1 (110 vs 100) and cheaper to date in month 3
    assert crossover_of([110.0, 200.0, 289.99], [100.0, 200.0, 300.0]) == 3
    # one cent is money: the quote dearer by 1 cent, then cheaper to date by 1 cent in month 2
    assert crossover_of([100.01, 199.99], [100.0, 200.0]) == 2
