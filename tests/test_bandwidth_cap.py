"""An engine's decode_bandwidth_cap_gb_s: a decode step streams at most that many GB/s, so on a device
whose bandwidth x decode_mbu passes it, the share reached is cap / bandwidth; below it, nothing changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmcalc_xl import estimate, load_catalog

from .engine_files import engine_variant


def _llamacpp_with(tmp_path, name: str, **fields) -> Path:
    """A user catalog with llama.cpp's shipped entry under the id llama.cpp-test, ``fields`` changed
    (None: left out)."""
    return engine_variant(tmp_path / f"{name}.toml", "llama.cpp", "llama.cpp-test", "llama.cpp test", **fields)


SCENARIO = dict(model="llama-3-8b", precision="q4_k_m", engine="llama.cpp-test", input_tokens=512, output_tokens=512)


def test_on_hbm_the_cap_sets_the_share_of_the_bandwidth_reached(tmp_path):
    # an H100 PCIe streams 2,000 GB/s; with decode_mbu 0.9 and a cap of 1,000 GB/s a step reads at
    # 1,000 GB/s: the share reached is 1000 / 2000 = 0.5, as if decode_mbu 0.5 were given
    capped = load_catalog([_llamacpp_with(tmp_path, "capped", decode_mbu=0.9, decode_bandwidth_cap_gb_s=1000.0)])
    plain = load_catalog([_llamacpp_with(tmp_path, "plain", decode_mbu=0.9, decode_bandwidth_cap_gb_s=None)])
    assert load_catalog().hardware("h100-pcie").bandwidth_gb_s == 2000
    got = estimate(hardware="h100-pcie", catalog=capped, **SCENARIO)
    want = estimate(hardware="h100-pcie", catalog=plain, decode_mbu=0.5, **SCENARIO)
    assert got.tpot_s == pytest.approx(want.tpot_s, rel=1e-12)
    assert got.ttft_s == pytest.approx(want.ttft_s, rel=1e-12)
    assert got.tpot_s > estimate(hardware="h100-pcie", catalog=plain, **SCENARIO).tpot_s * 1.2


def test_below_the_cap_nothing_changes(tmp_path):
    # an RTX 4090 streams 1,008 GB/s: at decode_mbu 0.9 that is 907 GB/s, under a 1,000 GB/s cap
    capped = load_catalog([_llamacpp_with(tmp_path, "capped", decode_mbu=0.9, decode_bandwidth_cap_gb_s=1000.0)])
    plain = load_catalog([_llamacpp_with(tmp_path, "plain", decode_mbu=0.9, decode_bandwidth_cap_gb_s=None)])
    got = estimate(hardware="rtx-4090", catalog=capped, **SCENARIO)
    want = estimate(hardware="rtx-4090", catalog=plain, **SCENARIO)
    assert (got.tpot_s, got.ttft_s) == (want.tpot_s, want.ttft_s)


def test_a_decode_mbu_given_wins_over_the_cap(tmp_path):
    # the user's own MBU is what the device reaches: the engine's cap does not lower it
    capped = load_catalog([_llamacpp_with(tmp_path, "capped", decode_mbu=0.9, decode_bandwidth_cap_gb_s=1000.0)])
    plain = load_catalog([_llamacpp_with(tmp_path, "plain", decode_mbu=0.9, decode_bandwidth_cap_gb_s=None)])
    got = estimate(hardware="h100-pcie", catalog=capped, decode_mbu=0.8, **SCENARIO)
    want = estimate(hardware="h100-pcie", catalog=plain, decode_mbu=0.8, **SCENARIO)
    assert got.tpot_s == want.tpot_s


def test_a_calibration_on_a_capped_device_reproduces_the_measurement(tmp_path):
    # llama.cpp on an H100 PCIe is capped (1,400 GB/s of 2,000); a user who measured a faster step than the
    # cap allows gets a calibration that gives exactly that step: the device's measured share, not the cap
    from click.testing import CliRunner

    from llmcalc_xl.cli.main import main

    capped = estimate("llama-3-8b", "h100-pcie", engine="llama.cpp", precision="q4_0").tpot_s
    measured_ms = round(capped * 1e3 * 0.9, 3)  # faster than the cap allows (a share of about 0.9 of 2,000 GB/s)
    out = tmp_path / "ours.toml"
    r = CliRunner().invoke(main, ["calibrate", "--model", "llama-3-8b", "--hardware", "h100-pcie", "--engine",
                                  "llama.cpp", "--precision", "q4_0", "--measured-tpot-ms", str(measured_ms),
                                  "--source", "x", "--out", str(out)])
    assert r.exit_code == 0, r.output
    got = estimate("llama-3-8b", "h100-pcie", engine="llama.cpp", precision="q4_0", catalog=[out])
    assert got.tpot_s == pytest.approx(measured_ms / 1e3, rel=0.005)


@pytest.mark.parametrize("hardware", ["h100-pcie", "rtx-4090", "apple-m2-ultra"])
def test_calibrate_starts_from_the_share_the_estimate_uses(hardware):
    # calibrate scales the engine's own share of the bandwidth on the device; its starting point must be
    # the estimate's, capped (H100 PCIe), below the cap (RTX 4090) or Apple's own (M2 Ultra)
    from llmcalc_xl.core.calibrate import fit_efficiencies

    own = estimate("llama-3-8b", hardware, engine="llama.cpp", precision="q4_0")
    fit = fit_efficiencies("llama-3-8b", hardware, "llama.cpp", own.tpot_s * 1.1, precision="q4_0")
    assert fit.default_tpot_s == pytest.approx(own.tpot_s, rel=1e-12)
