"""Own, rent or API: the cost of a GPU-hour you own, and a fleet sized for the peak with spares.

Every expected number is worked by hand from the figures beside it (README, "Own, rent or API"),
never taken from the code's output."""

import math

import pytest
from click.testing import CliRunner

from llmcalc_xl import estimate, estimate_many
from llmcalc_xl.cli.main import main
from llmcalc_xl.core import cost
from llmcalc_xl.errors import InvalidValueError

HOURS_PER_YEAR = 8760  # 365 x 24, = 12 x the 730 h month the quote uses


# --- the owned GPU-hour -------------------------------------------------------------------------------

def test_the_readme_example():
    """30,000 USD over 4 years straight line plus 0.7 kW x PUE 1.3 x 0.12 USD/kWh (README):
    30,000 / 35,040 h = 0.8562 and 0.7 x 1.3 x 0.12 = 0.1092, 0.9654 USD per GPU-hour."""
    assert round(cost.capital_usd_per_hour(30_000, 4, 0, 0), 4) == 0.8562
    assert round(cost.power_usd_per_hour(700, 1.3, 0.12), 4) == 0.1092
    r = estimate("llama-3.1-8b", "h100-sxm", pricing="owned", capex_usd_per_gpu=30_000, power_w_per_gpu=700, pue=1.3,
                 electricity_usd_per_kwh=0.12)
    assert r.pricing == "owned"
    assert r.price_per_hour == pytest.approx(30_000 / 35_040 + 0.7 * 1.3 * 0.12, rel=1e-12)
    assert round(r.price_per_hour, 4) == 0.9654
    # the always-on deployment: one GPU for a 730 h month
    assert r.deployment_usd_per_month == pytest.approx(0.9653644 * 730, rel=1e-6)


@pytest.mark.parametrize("rate, years, factor", [
    # (A/P, i, n) from the interest tables of engineering-economics texts (4 decimals)
    (0.10, 4, 0.3155), (0.08, 5, 0.2505), (0.05, 10, 0.1295),
    (0.0, 4, 0.25),  # no interest: the straight line, 1/n
])
def test_capital_recovery_factor(rate, years, factor):
    assert cost.capital_recovery_factor(rate, years) == pytest.approx(factor, abs=5e-5)


def test_an_annuity_with_a_resale_value_as_the_textbook_prices_it():
    """Capital recovery of a 10,000 USD machine with 1,000 USD salvage after 4 years at 10%:
    10,000 (A/P,10%,4) - 1,000 (A/F,10%,4) = 10,000 x 0.3155 - 1,000 x 0.2155 = 2,939.5 USD a year
    ("Capital Recovery Cost", after Sullivan, Wicks & Koelling, Engineering Economy). Exactly:
    (A/P) = 0.1 x 1.1^4 / (1.1^4 - 1) = 0.146410 / 0.46410."""
    per_year = cost.capital_usd_per_hour(10_000, 4, 0.1, 0.10) * HOURS_PER_YEAR
    assert per_year == pytest.approx(2_939.5, rel=2e-4)  # the table's factors are rounded to 4 places
    a_p = 0.1 * 1.4641 / 0.4641
    assert per_year == pytest.approx(9_000 * a_p + 1_000 * 0.1, rel=1e-12)  # (P - S)(A/P) + S i
    r = estimate("llama-3-8b", "l4", pricing="owned", capex_usd_per_gpu=10_000, residual_share=0.1, cost_of_capital=0.1,
                 power_w_per_gpu=0, requests_per_month=0)
    assert r.price_per_hour == pytest.approx((9_000 * a_p + 1_000 * 0.1) / HOURS_PER_YEAR, rel=1e-12)


def test_straight_line_with_a_resale_value():
    # 30,000 USD, 20% back after 4 years: 24,000 written off over 35,040 h
    assert cost.capital_usd_per_hour(30_000, 4, 0.2, 0) == pytest.approx(24_000 / 35_040, rel=1e-12)


def test_hosting_and_maintenance():
    """Colocation at 150 USD per kW a month for 0.7 kW: 105 USD a month, / 730 h = 0.143836 USD an hour;
    maintenance at 10% of 30,000 USD a year: 3,000 / 8,760 h = 0.342466 USD an hour."""
    r = estimate("llama-3.1-8b", "h100-sxm", pricing="owned", capex_usd_per_gpu=30_000, power_w_per_gpu=700, pue=1.3,
                 electricity_usd_per_kwh=0.12, hosting_usd_per_kw_month=150, maintenance_share_per_year=0.1)
    assert r.price_per_hour == pytest.approx(30_000 / 35_040 + 0.1092 + 105 / 730 + 3_000 / 8_760, rel=1e-12)


def test_a_geforce_card_with_no_rental_price_is_owned_at_its_launch_price():
    """rtx-3080 has no rental price in the catalog; its launch price (699 USD) and TDP (320 W) give the
    owned cost with the defaults: 4 years straight line, PUE 1.56 (Uptime 2024), 0.1259 USD/kWh (EIA 2023)."""
    r = estimate("llama-3-8b", "rtx-3080", precision="q4_k_m")
    assert r.pricing == "owned"
    assert r.capex_usd_per_gpu == 699 and r.power_w_per_gpu == 320
    assert r.price_per_hour == pytest.approx(699 / 35_040 + 0.32 * 1.56 * 0.1259, rel=1e-12)


def test_hardware_with_a_rental_price_stays_on_demand_unless_told():
    r = estimate("llama-3-8b", "rtx-4090", precision="q4_k_m")
    assert (r.pricing, r.price_per_hour) == ("on-demand", 0.74)  # RunPod, the catalog's price
    owned = estimate("llama-3-8b", "rtx-4090", precision="q4_k_m", pricing="owned")
    assert owned.price_per_hour == pytest.approx(1_599 / 35_040 + 0.45 * 1.56 * 0.1259, rel=1e-12)


def test_price_per_hour_overrides_every_pricing():
    for pricing in ("owned", "on-demand", None):
        r = estimate("llama-3-8b", "rtx-3080", precision="q4_k_m", pricing=pricing, price_per_hour=0.5)
        assert r.price_per_hour == 0.5
    # and makes the purchase price unnecessary (h200 has none in the catalog)
    assert estimate("llama-3-8b", "h200", pricing="owned", price_per_hour=1.0).price_per_hour == 1.0


def test_a_mac_without_a_sourced_purchase_price_has_no_price():
    r = estimate("llama-3-8b", "apple-m2-max", precision="q4_0")
    assert r.price_per_hour is None and r.monthly_cost_usd is None


def test_a_mac_with_a_sourced_purchase_price_is_owned_by_default():
    # the catalog's M3 Ultra Mac Studio: 9,499 USD over 4 years straight line, 270 W x PUE 1.56 x 0.1259 USD/kWh
    r = estimate("llama-3-8b", "apple-m3-ultra", precision="q4_0")
    want = 9499 / (4 * 8760) + 0.270 * 1.56 * 0.1259
    assert r.pricing == "owned" and r.price_per_hour == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("typed", ["owned", "OWNED", " Owned ", "on-demand", "On Demand", "on_demand", "auto", ""])
def test_pricing_is_matched_like_names(typed):
    r = estimate("llama-3-8b", "rtx-4090", pricing=typed)
    assert r.pricing == ("owned" if "own" in typed.lower() else "on-demand")


@pytest.mark.parametrize("options, message", [
    (dict(pricing="lease"), "pricing 'lease' must be on-demand, reserved-1y, reserved-3y, spot or owned. reserved-1y "
                            "and reserved-3y are 1- and 3-year commitments; owned prices hardware you buy."),
    (dict(pue=0.9), "pue must be >= 1, got 0.9"),
    (dict(peak_to_average=0.5), "peak_to_average must be >= 1, got 0.5"),
    (dict(redundancy=1.5), "redundancy must be a whole number, got 1.5"),
    (dict(residual_share=1.2), "residual_share must be <= 1, got 1.2"),
    (dict(depreciation_years=0), "depreciation_years must be > 0, got 0"),
])
def test_bad_owned_inputs_say_what_to_do(options, message):
    with pytest.raises(InvalidValueError) as e:
        estimate("llama-3-8b", "h100-sxm", **options)
    assert str(e.value) == message


def test_an_owned_gpu_without_a_purchase_price_says_what_to_give():
    # no published price of an H200 system or card was found, so the catalog has none
    with pytest.raises(InvalidValueError) as e:
        estimate("llama-3-8b", "h200", pricing="owned")
    assert str(e.value) == ("pricing 'owned' needs capex_usd_per_gpu: 'h200' has no purchase price in the catalog. "
                            "Give capex_usd_per_gpu, or price_per_hour")


# The sourced purchase prices of data-centre GPUs (hardware.toml, capex_source): a system's price / its 8 GPUs,
# or a card's launch price alone. Each worked by hand from the source's figure.
@pytest.mark.parametrize("hardware, capex_usd, tdp_w", [
    ("v100", 149_000 / 8, 300),         # DGX-1 with Tesla V100, USD 149,000, 8 GPUs
    ("a100-40gb", 200_000 / 8, 400),    # DGX A100 launch, "from 200,000 dollars", 8 GPUs
    ("h100-sxm", 317_000 / 8, 700),     # Thinkmate 8x H100 SXM server quotation, USD 317k
    ("b200", 515_000 / 8, 1000),        # DGX B200, USD 515K
    ("gb200", round(3_400_000 / 72), 1200),  # GB200 NVL72 rack, USD 3.4M (Bernstein), 72 GPUs, to the dollar
    ("l4", 2_345, 72),                  # card alone, launch MSRP
    ("rtx-a6000", 4_649, 300),
    ("rtx-6000-ada", 6_799, 300),
    ("rtx-pro-6000", 8_565, 600),       # Workstation Edition's MSRP
    ("mi300x", 15_000, 750),            # top of the reported USD 10,000-15,000 a chip
])
def test_a_data_centre_gpu_owned_at_its_sourced_purchase_price(hardware, capex_usd, tdp_w):
    r = estimate("llama-3-8b", hardware, pricing="owned")
    assert r.pricing == "owned" and r.capex_usd_per_gpu == pytest.approx(capex_usd, rel=1e-12)
    # defaults: 4 years straight line, nothing left at the end, PUE 1.56, 0.1259 USD/kWh
    assert r.price_per_hour == pytest.approx(capex_usd / (4 * HOURS_PER_YEAR) + tdp_w / 1000 * 1.56 * 0.1259,
                                             rel=1e-12)
    # a rental price in the catalog keeps the default on-demand
    assert estimate("llama-3-8b", hardware).pricing == "on-demand"


def test_an_owned_mac_needs_its_power():
    with pytest.raises(InvalidValueError, match="^pricing 'owned' needs power_w_per_gpu: 'apple-m2-max' has no "
                                                "power draw \\(TDP\\) in the catalog"):
        estimate("llama-3-8b", "apple-m2-max", pricing="owned", capex_usd_per_gpu=2_000)


def test_a_column_of_pricings_keeps_each_rows_error():
    out = estimate_many("llama-3-8b", "l4", pricing=["owned", "lease", None], capex_usd_per_gpu=3_000)
    assert (out["pricing"][0], out["pricing"][2]) == ("owned", "on-demand")
    assert out["error"][0] is None and out["error"][2] is None
    assert out["error"][1].startswith("pricing 'lease' must be on-demand, reserved-1y, reserved-3y, spot or owned")


# --- the fleet --------------------------------------------------------------------------------------------

def _fleet(**options):
    # one sequence at a time, 3.6 s a request: 1,000 requests an hour, 730,000 a 730 h month
    return estimate("llama-3-8b", "l4", latency_s=3.6, price_per_hour=2.0, **options)


def test_capacity_of_one_replica():
    assert _fleet(requests_per_month=1).capacity_requests_per_month == pytest.approx(730_000, rel=1e-12)


@pytest.mark.parametrize("requests, peak, spares, replicas", [
    (1_000_000, 1, 0, 2),      # 1.37 replicas of 730,000: 2
    (1_000_000, 2, 0, 3),      # the peak hour runs at 2,000,000 a month: 2.74, so 3
    (1_000_000, 2, 1, 4),      # N+1
    (730_000, 1, 0, 1),        # exactly one full replica
    (1, 5, 2, 3),              # a trickle still needs one replica, plus two spares
    (0, 2, 2, 0),              # no traffic, no fleet
])
def test_replicas_for_the_peak_plus_spares(requests, peak, spares, replicas):
    r = _fleet(requests_per_month=requests, peak_to_average=peak, redundancy=spares)
    assert r.replicas_needed == replicas
    assert r.monthly_cost_usd == pytest.approx(replicas * 1 * 2.0 * 730, rel=1e-12)  # replicas x GPUs x price x h


def test_peak_to_average_and_utilization_are_different_things():
    """Utilisation scales what a replica serves (and the GPU time of a request); peak_to_average only
    the fleet: the cost of one request's GPU time does not move with the peak."""
    base = _fleet(requests_per_month=1_000_000)
    peaky = _fleet(requests_per_month=1_000_000, peak_to_average=2)
    busy = _fleet(requests_per_month=1_000_000, utilization=0.5)
    assert peaky.infra_cost_usd == base.infra_cost_usd
    assert busy.infra_cost_usd == pytest.approx(2 * base.infra_cost_usd, rel=1e-12)
    assert peaky.capacity_requests_per_month == base.capacity_requests_per_month
    assert busy.capacity_requests_per_month == pytest.approx(365_000, rel=1e-12)


# --- the command line ---------------------------------------------------------------------------------

def test_estimate_command_prices_owned_hardware():
    r = CliRunner().invoke(main, ["estimate", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--pricing", "owned",
                                  "--capex-usd-per-gpu", "30000", "--power-w-per-gpu", "700", "--pue", "1.3",
                                  "--electricity-usd-per-kwh", "0.12", "--json"])
    assert r.exit_code == 0, r.output
    import json
    d = json.loads(r.output)
    assert d["pricing"] == "owned" and round(d["price_per_hour"], 4) == 0.9654


def test_estimate_command_refuses_an_unknown_pricing():
    r = CliRunner().invoke(main, ["estimate", "--model", "llama-3-8b", "--hardware", "l4", "--pricing", "lease"])
    assert r.exit_code != 0
    assert r.output.strip() == ("Error: pricing 'lease' must be on-demand, reserved-1y, reserved-3y, spot or owned. "
                                "reserved-1y and reserved-3y are 1- and 3-year commitments; owned prices hardware you "
                                "buy.")


def test_fill_reads_the_new_columns(tmp_path):
    from llmcalc_xl.batch.fill import fill_file
    import csv

    src = tmp_path / "in.csv"
    src.write_text("model,hardware,pricing,capex_usd_per_gpu,power_w_per_gpu,pue,electricity_usd_per_kwh,"
                   "requests_per_month,peak_to_average,redundancy,latency_s\n"
                   "llama-3.1-8b,h100-sxm,owned,30000,700,1.3,0.12,1000000,2,1,3.6\n"
                   "llama-3.1-8b,h100-sxm,lease,,,,,1000,,,\n", encoding="utf-8")
    fill_file(src, tmp_path / "out.csv")
    rows = list(csv.DictReader(open(tmp_path / "out.csv", encoding="utf-8")))
    assert rows[0]["status"] == "ok" and rows[0]["pricing_result"] == "owned"
    assert float(rows[0]["replicas_needed"]) == 4  # 2,000,000 at the peak over 730,000: 3, plus 1
    assert float(rows[0]["monthly_cost_usd"]) == pytest.approx(4 * (30_000 / 35_040 + 0.1092) * 730, rel=1e-9)
    assert rows[1]["status"] == "error" and "pricing 'lease'" in rows[1]["error"]
    assert math.isclose(float(rows[0]["price_per_hour"]), 30_000 / 35_040 + 0.1092, rel_tol=1e-9)


def test_the_owned_gpu_hour_reads_its_inputs_as_the_estimate_does():
    # owned_gpu_hour_many (LLM_OWNED_GPU_HOUR) takes hardware ids, numbers and columns through the core's
    # own readers: the same messages as estimate_many for the same bad input
    from llmcalc_xl.core.plan import owned_gpu_hour_many

    hardware = ["h100-sxm", "h100x", 5, None, "h100-sxm"]
    pue = [1.3, 1.3, 1.3, 1.3, 0.5]
    got = owned_gpu_hour_many(hardware, pue=pue, power_w_per_gpu=[None, None, None, 700, None])
    core = estimate_many("llama-3.1-8b", hardware, pue=pue, pricing="owned")["error"]
    assert got["error"][1] == core[1] == "Unknown hardware 'h100x'. Did you mean: h100-sxm, v100, h200?"
    assert got["error"][2] == core[2] == "hardware must be an id (text), got 5"
    assert got["error"][4] == core[4] == "pue must be >= 1, got 0.5"
    assert got["error"][3] == ("capex_usd_per_gpu is needed: give it, or a hardware id whose catalog entry has a "
                               "purchase price")
    # 30,000 USD over 4 years straight line plus 0.7 kW x PUE 1.3 x 0.12 USD/kWh (the README's GPU)
    assert owned_gpu_hour_many("h100-sxm", capex_usd_per_gpu=30_000, power_w_per_gpu=700, pue=1.3,
                               electricity_usd_per_kwh=0.12)["owned_usd_per_gpu_hour"][0] == \
        pytest.approx(30_000 / 35_040 + 0.7 * 1.3 * 0.12, rel=1e-12)
    with pytest.raises(InvalidValueError, match=r"Columns must have the same length, got hardware=2, pue=3\. "):
        owned_gpu_hour_many(["h100-sxm", "a100-80gb"], pue=[1.1, 1.2, 1.3])
