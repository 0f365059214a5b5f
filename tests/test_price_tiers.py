"""Published prices of GPU time: tiers (on-demand, reserved-1y, reserved-3y, spot) and providers.

The toy prices below are made up for the arithmetic; each expected monthly cost is worked by hand
as 1 replica x 1 GPU x USD per GPU-hour x 730 hours (one sequence at a time, 3.6 s a request: a
replica serves 1,000 requests an hour, far above the 1,000 a month asked for)."""

import textwrap

import pytest
from click.testing import CliRunner

from llmcalc_xl import CatalogError, InvalidValueError, estimate, load_catalog
from llmcalc_xl.cli.main import main

TOY = '''
    [[hardware]]
    id = "toy-gpu"
    name = "Toy GPU"
    kind = "gpu"
    memory_gib = 80
    bandwidth_gb_s = 3000
    tflops_fp16 = 900
    source = "made up for a test"
    as_of = "2026-11-01"

    [[hardware.prices]]
    provider = "Acme Cloud"
    tier = "on-demand"
    usd_per_gpu_hour = 2.0
    source = "acme.example/prices"
    as_of = "2026-11-20"
    default = true

    [[hardware.prices]]
    provider = "Bolt"
    tier = "on-demand"
    usd_per_gpu_hour = 2.5
    source = "bolt.example/prices"
    as_of = "2026-11-21"

    [[hardware.prices]]
    provider = "Acme Cloud"
    tier = "reserved-1y"
    usd_per_gpu_hour = 1.4
    source = "acme.example/reserved"
    as_of = "2026-11-20"

    [[hardware.prices]]
    provider = "Acme Cloud"
    tier = "reserved-3y"
    usd_per_gpu_hour = 1.0
    instance = "acme.8x"
    instance_usd_per_hour = 8.0
    gpus_per_instance = 8
    source = "acme.example/reserved"
    as_of = "2026-11-20"

    [[hardware.prices]]
    provider = "Bolt"
    tier = "spot"
    usd_per_gpu_hour = 0.8
    source = "bolt.example/spot"
    as_of = "2026-11-21"
'''


@pytest.fixture
def toy(tmp_path):
    path = tmp_path / "toy.toml"
    path.write_text(textwrap.dedent(TOY), encoding="utf-8")
    return path


def _monthly(path, **options):
    return estimate("llama-3-8b", "toy-gpu", catalog=[path], latency_s=3.6, requests_per_month=1000,
                    **options).monthly_cost_usd


@pytest.mark.parametrize("options, usd_per_hour", [
    (dict(), 2.0),                                      # the on-demand default (Acme)
    (dict(pricing="on-demand"), 2.0),
    (dict(pricing="reserved-1y"), 1.4),
    (dict(pricing="Reserved 3Y"), 1.0),                 # 8.00 an hour for 8 GPUs
    (dict(pricing="spot"), 0.8),                        # the tier's only price is its default
    (dict(provider="bolt"), 2.5),                       # a named provider, matched as names are
    (dict(provider=" BOLT ", pricing="spot"), 0.8),
])
def test_monthly_cost_per_tier_and_provider(toy, options, usd_per_hour):
    assert _monthly(toy, **options) == pytest.approx(usd_per_hour * 730, rel=1e-12)


def test_the_result_says_which_tier_and_provider_priced_it(toy):
    r = estimate("llama-3-8b", "toy-gpu", catalog=[toy], pricing="spot")
    assert (r.pricing, r.provider, r.price_per_hour) == ("spot", "Bolt", 0.8)
    r = estimate("llama-3-8b", "toy-gpu", catalog=[toy], provider="bolt")
    assert (r.pricing, r.provider, r.price_per_hour) == ("on-demand", "Bolt", 2.5)
    assert estimate("llama-3-8b", "toy-gpu", catalog=[toy], price_per_hour=3.0).provider is None


def test_the_one_price_fields_are_the_default_on_demand_price(toy):
    hw = load_catalog([toy]).hardware("toy-gpu")
    assert (hw.price_usd_per_hour, hw.price_provider, hw.price_source, hw.price_as_of) == (
        2.0, "Acme Cloud", "acme.example/prices", "2026-11-20")
    assert (hw.price_reserved_1y_usd_per_hour, hw.price_reserved_3y_usd_per_hour, hw.price_spot_usd_per_hour) == (
        1.4, 1.0, 0.8)
    assert hw.providers() == ["Acme Cloud", "Bolt"]


def test_a_file_with_one_price_still_loads_as_one_on_demand_price(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text('[[hardware]]\nid = "h100-sxm"\nprice_usd_per_hour = 1.85\nprice_provider = "Us"\n'
                    'price_source = "contract 2026-10"\nprice_as_of = "2026-10-01"\n', encoding="utf-8")
    hw = load_catalog([path]).hardware("h100-sxm")
    assert [(p.provider, p.tier, p.usd_per_gpu_hour, p.as_of) for p in hw.prices] == [
        ("Us", "on-demand", 1.85, "2026-10-01")]
    assert hw.price_spot_usd_per_hour is None  # the shipped spot price came from another source: gone with it


def test_an_unknown_provider_lists_the_devices_providers(toy):
    with pytest.raises(InvalidValueError) as e:
        estimate("llama-3-8b", "toy-gpu", catalog=[toy], provider="Cheapo")
    assert str(e.value) == "Unknown provider 'Cheapo' for 'toy-gpu'. Its published prices are from: Acme Cloud, Bolt"


def test_a_provider_without_the_tier_says_which_tiers_it_has(toy):
    with pytest.raises(InvalidValueError) as e:
        estimate("llama-3-8b", "toy-gpu", catalog=[toy], provider="bolt", pricing="reserved-1y")
    assert str(e.value) == ("provider 'Bolt' publishes no reserved-1y price for 'toy-gpu' in the catalog; its tiers "
                            "there: on-demand, spot. Choose another pricing or provider")


def test_a_provider_needs_a_catalog_device():
    with pytest.raises(InvalidValueError) as e:
        estimate("llama-3-8b", provider="RunPod")
    assert str(e.value) == ("provider 'RunPod' needs a hardware id from the catalog: only catalog devices have "
                            "published prices. Give a hardware id, or leave provider empty")


def test_owned_pricing_ignores_the_provider(toy):
    r = estimate("llama-3-8b", "toy-gpu", catalog=[toy], provider="nobody", pricing="owned",
                 capex_usd_per_gpu=35_040, power_w_per_gpu=0)
    assert r.price_per_hour == pytest.approx(35_040 / (4 * 8760), rel=1e-12)  # 4 years straight line, no power


def test_a_tier_without_a_price_is_a_note(tmp_path):
    r = estimate("llama-3-8b", "l4", pricing="reserved-3y")
    assert r.cost_per_request_usd is None
    assert [n.text for n in r.notes] == ["No reserved-3y price for 'l4' in the catalog: pass price_per_hour, or "
                                         "capex_usd_per_gpu and power_w_per_gpu to price it as owned hardware"]


# --- the loader refuses price lists it cannot read one way ----------------------------------------------

def _entry(extra_prices: str) -> str:
    return ('[[hardware]]\nid = "toy-gpu"\nname = "Toy"\nkind = "gpu"\nmemory_gib = 80\nbandwidth_gb_s = 3000\n'
            'source = "test"\nas_of = "2026-11-01"\n' + extra_prices)


def _price(provider="Acme", tier="on-demand", usd=2.0, more=""):
    return (f'\n[[hardware.prices]]\nprovider = "{provider}"\ntier = "{tier}"\nusd_per_gpu_hour = {usd}\n'
            f'source = "acme.example"\nas_of = "2026-11-20"\n{more}')


@pytest.mark.parametrize("prices, message", [
    (_price() + _price(usd=3.0),
     "prices[2] repeats provider 'Acme' and tier 'on-demand' of prices[1]: keep one price per provider and tier"),
    (_price() + _price("Bolt"),
     "the on-demand tier has 2 prices (prices[1], prices[2]) and none is default = true: mark the one a quote "
     "takes when no provider is named"),
    (_price(more="default = true\n") + _price("Bolt", more="default = true\n"),
     "prices[1] and prices[2] are both the default on-demand price: mark one default = true"),
    (_price(usd=2.0, more="instance_usd_per_hour = 20.0\ngpus_per_instance = 8\n"),
     "prices[1]: usd_per_gpu_hour (2) must be instance_usd_per_hour / gpus_per_instance (20 / 8 = 2.5)"),
    (_price(more="instance_usd_per_hour = 16.0\n"),
     "prices[1]: instance_usd_per_hour and gpus_per_instance go together: a price per instance is divided by the "
     "GPUs in it"),
    (_price(tier="monthly"), "prices[1]: tier must be one of on-demand, reserved-1y, reserved-3y, spot, got 'monthly'"),
    (_price(provider=" "), "prices[1]: provider must name who charges the price, e.g. provider = \"AWS\""),
    (_price(more="usd_per_hour = 0.3\n"), "prices[1]: unknown field 'usd_per_hour' (did you mean 'usd_per_gpu_hour'?)"),
])
def test_bad_price_lists_name_the_file_entry_and_field(tmp_path, prices, message):
    path = tmp_path / "bad.toml"
    path.write_text(_entry(prices), encoding="utf-8")
    with pytest.raises(CatalogError) as e:
        load_catalog([path])
    assert str(e.value) == f"Catalog file '{path}', [[hardware]] entry 1 'toy-gpu': {message}. Fix the entry and " \
                           "load again."


def test_one_price_and_a_price_list_together_are_refused(tmp_path):
    path = tmp_path / "both.toml"
    text = _entry("").replace('as_of = "2026-11-01"\n', 'as_of = "2026-11-01"\nprice_usd_per_hour = 2.0\n') + _price()
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as e:
        load_catalog([path])
    assert str(e.value) == (f"Catalog file '{path}', [[hardware]] entry 1 'toy-gpu': price_usd_per_hour and "
                            "[[hardware.prices]] both give a price: give each price as a [[hardware.prices]] table "
                            "(the on-demand one marked default = true stands for price_usd_per_hour). Fix the entry "
                            "and load again.")


def test_every_shipped_price_has_a_provider_source_and_date():
    for hw in load_catalog().entries("hardware"):
        for p in hw.prices:
            assert p.provider and p.source and p.as_of, hw.id
        assert hw.price_usd_per_hour == (hw.price("on-demand").usd_per_gpu_hour if hw.price("on-demand")
                                         else hw.price_usd_per_hour)


def test_catalog_prices_lists_tiers_and_providers(toy):
    r = CliRunner().invoke(main, ["catalog", "prices", "--hardware", "toy-gpu", "--catalog", str(toy), "--json"])
    assert r.exit_code == 0, r.output
    import json
    rows = json.loads(r.output)
    assert [(x["provider"], x["tier"], x["usd_per_gpu_hour"], x["default"]) for x in rows] == [
        ("Acme Cloud", "on-demand", 2.0, True), ("Bolt", "on-demand", 2.5, False),
        ("Acme Cloud", "reserved-1y", 1.4, True), ("Acme Cloud", "reserved-3y", 1.0, True), ("Bolt", "spot", 0.8, True)]


def test_plan_compares_the_tiers(toy):
    from llmcalc_xl.core.plan import plan
    result = plan(["llama-3-8b"], requests_per_day=100, hardware=["toy-gpu"], api_models=["gpt-4o"], catalog=[toy])
    row = result.self_hosted[0]
    per_gpu_month = row["replicas"] * row["gpus"] * 730
    assert row["monthly_usd_by_pricing"]["on-demand"] == pytest.approx(2.0 * per_gpu_month, rel=1e-12)
    assert row["monthly_usd_by_pricing"]["reserved-1y"] == pytest.approx(1.4 * per_gpu_month, rel=1e-12)
    assert row["monthly_usd_by_pricing"]["reserved-3y"] == pytest.approx(1.0 * per_gpu_month, rel=1e-12)
    assert row["monthly_usd_by_pricing"]["spot"] == pytest.approx(0.8 * per_gpu_month, rel=1e-12)
    assert row["monthly_usd_by_pricing"]["owned"] is None  # no purchase price or power for the toy
