"""An engine's efficiencies on one device, fitted to a user's own measurement (``llmcalc-xl calibrate``).

One measured TPOT is one number, so the decode stage gets one unknown: a factor ``k`` on the engine's
decode efficiencies (``decode_mbu`` and ``decode_mfu`` together, so that their ratio, the point where
a step turns from bandwidth- to compute-bound, stays the engine's). A measured TTFT gets another: a
factor ``p`` on ``prefill_mfu``. The estimate's TPOT falls as ``k`` grows and its TTFT as ``p`` grows;
under load each also moves a little with the other (the other clients' prompts share the decode steps,
and a new prompt waits for steps), so the two are solved in turn until both hold. Each is a bounded 1-D
solve on the estimate itself (bisection over a grid of candidates, all computed in one vectorised
pass), so the fit holds whatever regime the scenario is in (bandwidth- or compute-bound, the CPU floor
of an engine, the fixed step times): the fitted catalog reproduces the measurement.

The efficiencies are capped at 1 (a share of the peak): a measurement that needs more, or one faster
than the device's peak allows, is refused with the figure the device can reach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from ..catalogs.loader import Catalog, load_catalog
from ..errors import InvalidValueError
from .estimate import Estimate, estimate, estimate_many
from .physics import capped_share

#: The lowest efficiency a fit may reach, as a share of the peak: below it the measurement is refused.
LOWEST_EFFICIENCY = 0.01
#: A fit stops when the estimate is within this share of the measurement.
TOLERANCE = 1e-7
_GRID = 33  # candidates per round of the bisection
_FITTED_OPTIONS = ("prefill_mfu", "decode_mfu", "decode_mbu")


@dataclass(frozen=True)
class Fit:
    """The efficiencies that make the estimate reproduce a measurement, and the scenario it was of."""

    engine_id: str
    hardware_id: str
    decode_mfu: float
    decode_mbu: float
    prefill_mfu: float | None  # None: no TTFT measured, the engine's own is kept
    tpot_s: float              # the estimate with the fitted efficiencies
    ttft_s: float
    default_tpot_s: float      # the estimate with the engine's own efficiencies
    default_ttft_s: float
    scenario: dict[str, Any]   # the resolved scenario: model, precision, gpus, batch, tokens
    engine_efficiencies: dict[str, float]  # the engine's own on the device, which the fit scaled

    def describe(self, measured_tpot_s: float, measured_ttft_s: float | None) -> str:
        """The measurement as a catalog entry records it."""
        s = self.scenario
        gpus = f"{s['gpus']:g} GPU{'' if s['gpus'] == 1 else 's'}"
        if s.get("layout"):  # tp, dp or ep given: the layout as plan writes it
            gpus += f" ({s['layout']})"
        ttft = f", TTFT {measured_ttft_s * 1e3:g} ms" if measured_ttft_s is not None else ""
        return (f"{s['model']} at {s['precision']} on {gpus}, batch {s['batch']:g}, {s['input_tokens']:g} input / "
                f"{s['output_tokens']:g} output tokens: TPOT {measured_tpot_s * 1e3:g} ms{ttft}")


def _number(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _engine_efficiencies(cat: Catalog, engine_id: str, hardware_id: str) -> dict[str, float]:
    """The engine's own efficiencies on the device (its Apple ones on an Apple GPU; the share of the
    bandwidth at most its decode_bandwidth_cap_gb_s over the device's), before any calibration."""
    e, h = cat.engine(engine_id), cat.hardware(hardware_id)
    apple = h.kind == "apple"
    mbu = e.apple_decode_mbu if apple and e.apple_decode_mbu else e.decode_mbu
    return {"decode_mfu": e.decode_mfu,
            "decode_mbu": float(capped_share(mbu, _number(e.decode_bandwidth_cap_gb_s), _number(h.bandwidth_gb_s))),
            "prefill_mfu": e.apple_prefill_mfu if apple and e.apple_prefill_mfu else e.prefill_mfu}


def _solve(f, target: float, lo: float, hi: float) -> float:
    """The x in [lo, hi] where the decreasing f(x) (a function of an array of x) meets ``target``,
    by bisection on a log grid: each round computes the grid in one pass and keeps the cell that
    holds the crossing."""
    for _ in range(12):
        xs = np.geomspace(lo, hi, _GRID)
        ys = f(xs)
        above = np.flatnonzero(ys > target)  # too slow: x too small
        i = int(above[-1]) if len(above) else 0
        lo, hi = xs[i], xs[min(i + 1, _GRID - 1)]
        if hi / lo - 1 < 1e-12:
            break
    return float(math.sqrt(lo * hi))


def fit_efficiencies(model: Any, hardware: Any, engine: Any, measured_tpot_s: float,
                     measured_ttft_s: float | None = None, *, catalog: Catalog | Iterable[str] | None = None,
                     **options: Any) -> Fit:
    """The engine's efficiencies on ``hardware`` that make the estimate of the scenario (``options``: batch,
    input_tokens, output_tokens, precision, gpus, ...) give the measured TPOT (seconds per output token)
    and, where given, TTFT (seconds). Raises InvalidValueError for a measurement no efficiency up to 1
    reaches, naming the figure the device can reach."""
    fixed = sorted(set(options) & set(_FITTED_OPTIONS))
    if fixed:
        raise InvalidValueError(f"{fixed[0]} is what calibrate fits; leave it out.")
    for name, value in (("measured TPOT", measured_tpot_s), ("measured TTFT", measured_ttft_s)):
        if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise InvalidValueError(f"{name} must be a number of milliseconds above 0, got {value!r}.")
    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog or ())
    engine_id, hardware_id = cat.resolve_id("engines", engine), cat.resolve_id("hardware", hardware)
    if cat.model(model).kind == "api":
        raise InvalidValueError(f"Model '{model}' is an API model: its speed is the provider's. Calibrate an "
                                "open-weight model that you run yourself.")
    base = _engine_efficiencies(cat, engine_id, hardware_id)
    given = dict(options, engine=engine_id)
    default = estimate(model, hardware_id, catalog=cat, **given, **base)
    default_tpot_s, default_ttft_s = default.tpot_s, default.ttft_s
    if default_tpot_s is None or default_ttft_s is None or not (math.isfinite(default_tpot_s)
                                                                and math.isfinite(default_ttft_s)):
        raise InvalidValueError(f"The scenario has no speed to calibrate: {'; '.join(map(str, default.notes))}. "
                                "Give --gpus (or a precision, batch or context) with which it fits.")

    def speeds(k: Any, p: Any) -> tuple[np.ndarray, np.ndarray]:
        n = max(np.size(k), np.size(p))
        r = estimate_many(model, hardware_id, catalog=cat, errors="raise", **given,
                          decode_mfu=np.broadcast_to(np.minimum(k * base["decode_mfu"], 1.0), n).copy(),
                          decode_mbu=np.broadcast_to(np.minimum(k * base["decode_mbu"], 1.0), n).copy(),
                          prefill_mfu=np.broadcast_to(np.minimum(p * base["prefill_mfu"], 1.0), n).copy())
        return r["tpot_s"], r["ttft_s"]

    k_hi = 1.0 / max(base["decode_mfu"], base["decode_mbu"])
    k_lo = LOWEST_EFFICIENCY / max(base["decode_mfu"], base["decode_mbu"])
    p_hi, p_lo = 1.0 / base["prefill_mfu"], LOWEST_EFFICIENCY / base["prefill_mfu"]
    device = cat.hardware(hardware_id)
    k, p = 1.0, 1.0
    for _ in range(50):
        # the fastest decode: with a TTFT to fit, the others' prompts may be prefilled at up to prefill_mfu 1
        best_p = p if measured_ttft_s is None else p_hi
        tpot_range = speeds(np.asarray([k_lo, k_hi, 1.0 / min(base["decode_mfu"], base["decode_mbu"])]),
                            np.asarray([p, best_p, best_p]))[0]
        _check_tpot(measured_tpot_s, tpot_range, device, base, gpus=default.gpus)
        k = _solve(lambda ks: speeds(ks, p)[0], measured_tpot_s, k_lo, k_hi)
        if measured_ttft_s is None:
            break
        ttft_range = speeds(k, np.asarray([p_lo, p_hi]))[1]
        _check_ttft(measured_ttft_s, ttft_range, default.input_tokens)
        p = _solve(lambda ps: speeds(k, ps)[1], measured_ttft_s, p_lo, p_hi)
        tpot, ttft = (float(x[0]) for x in speeds(k, p))
        if abs(tpot / measured_tpot_s - 1) < TOLERANCE and abs(ttft / measured_ttft_s - 1) < TOLERANCE:
            break
    tpot, ttft = (float(x[0]) for x in speeds(k, p))
    for name, got, want in (("TPOT", tpot, measured_tpot_s), ("TTFT", ttft, measured_ttft_s)):
        if want is not None and abs(got / want - 1) > 1e-4:  # a plateau of the estimate: no efficiency moves it
            raise InvalidValueError(f"measured {name} {want * 1e3:g} ms cannot be reached: the closest the estimate "
                                    f"comes is {got * 1e3:.4g} ms, where the other part of the step does not change "
                                    "with the efficiency fitted. Check the scenario (batch, tokens, precision, gpus).")
    return Fit(engine_id=engine_id, hardware_id=hardware_id,
               decode_mfu=min(k * base["decode_mfu"], 1.0), decode_mbu=min(k * base["decode_mbu"], 1.0),
               prefill_mfu=None if measured_ttft_s is None else min(p * base["prefill_mfu"], 1.0),
               tpot_s=tpot, ttft_s=ttft, default_tpot_s=default_tpot_s, default_ttft_s=default_ttft_s,
               scenario=dict(model=default.model, precision=default.precision, gpus=default.gpus,
                             batch=default.batch, input_tokens=default.input_tokens,
                             output_tokens=default.output_tokens, layout=_layout(options, default)),
               engine_efficiencies=base)


def _layout(options: dict[str, Any], used: Estimate) -> str | None:
    """The parallel layout measured, in words ("tp 2 x dp 4, ep 4"), where tp, dp or ep was given (as ``used``,
    the estimate, resolved it)."""
    if all(v is None or (isinstance(v, str) and not v.strip()) for v in (options.get(k) for k in ("tp", "dp", "ep"))):
        return None
    from .plan import layout_text

    return layout_text(used.tp, used.dp, used.ep, used.gpus)


def _check_tpot(measured_s: float, reached: np.ndarray, device: Any, base: dict[str, float], gpus: float) -> None:
    """Refuse a TPOT the decode efficiencies cannot reach: reached = TPOT at the lowest efficiency, at
    the highest the engine's ratio allows, and with both at 1 (the device's peak)."""
    slowest, fastest, at_peak = (float(x) for x in reached)
    if measured_s < fastest * (1 - 1e-9):
        peak = min(fastest, at_peak)
        if measured_s < peak * (1 - 1e-9):
            raise InvalidValueError(
                f"measured TPOT {measured_s * 1e3:g} ms is faster than {peak * 1e3:.4g} ms, the fastest "
                f"{gpus:g} x {device.id} can decode this scenario with every decode efficiency at 1 (the weights and "
                f"KV cache read at the peak {device.bandwidth_gb_s:g} GB/s a GPU, the matrix products at the peak "
                "FLOPS, plus the fixed step time and the other requests' prompts). Check the measurement: "
                "milliseconds per output token of one request, and the batch, precision and GPUs it ran with.")
        raise InvalidValueError(
            f"measured TPOT {measured_s * 1e3:g} ms needs a decode efficiency above 1 (decode_mbu "
            f"{base['decode_mbu']:g} and decode_mfu {base['decode_mfu']:g} scaled together reach {fastest * 1e3:.4g} "
            "ms at 1). Check the measurement: milliseconds per output token of one request, and the batch, "
            "precision and GPUs it ran with.")
    if measured_s > slowest * (1 + 1e-9):
        raise InvalidValueError(
            f"measured TPOT {measured_s * 1e3:g} ms is slower than {slowest * 1e3:.4g} ms, what the estimate gives at a "
            f"decode efficiency of {LOWEST_EFFICIENCY:g}. Check the units (milliseconds per output token) and the "
            "scenario (batch, tokens, precision, gpus).")


def _check_ttft(measured_s: float, reached: np.ndarray, prompt_tokens: float) -> None:
    """Refuse a TTFT prefill_mfu cannot reach: reached = TTFT at the lowest and at prefill_mfu 1."""
    slowest, fastest = (float(x) for x in reached)
    if measured_s < fastest * (1 - 1e-9):
        raise InvalidValueError(
            f"measured TTFT {measured_s * 1e3:g} ms is faster than {fastest * 1e3:.4g} ms, what the estimate gives with "
            f"prefill_mfu at 1 (the device's peak FLOPS) for {prompt_tokens:g} input tokens. Check the measurement "
            "(milliseconds to the first token, with the --input-tokens it ran with).")
    if measured_s > slowest * (1 + 1e-9):
        raise InvalidValueError(
            f"measured TTFT {measured_s * 1e3:g} ms is slower than {slowest * 1e3:.4g} ms, what the estimate gives at a "
            f"prefill efficiency of {LOWEST_EFFICIENCY:g}. Check the units (milliseconds) and the scenario.")
