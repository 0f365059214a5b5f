"""``plan``: which hardware serves a target load, at what monthly cost, next to the APIs.

For every model, hardware, GPU count (1, 2, 4, 8; then 16, 32, ... over several nodes where a wider
replica could be cheaper, see :func:`wider_gpu_choices`) and parallel layout the model can take (tp = gpus;
for a mixture-of-experts model also dp attention ranks with ep = gpus, see :func:`layouts_to_try`)
the search tries every whole batch from 1 up
to the largest that fits and the engine runs (batch "max", the core's figure), in vectorised rounds of
:func:`~llmcalc_xl.estimate_many`: batches 1-256 first, then 257-512, 513-1024, ... for the
configurations still open. A configuration closes when its batches run out or when no larger
batch can be cheaper (see :func:`_search`). Latency, capacity, replicas (sized for the peak, plus spares)
and the monthly cost are the core's outputs; nothing here re-derives them. The cheapest
configuration of each hardware is kept (ties: the lower latency, then fewer GPUs per replica,
then fewer attention ranks, then the smaller batch).

Self-hosted deployments are priced always-on (GPUs x USD/h x 730 h per replica, as many
replicas as the peak needs plus the spares); APIs per token. The break-even is the monthly
volume at which that fleet costs what the API would (:func:`fleet_breakeven_requests_per_month`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from . import cost as _cost
from . import defaults
from ..catalogs.loader import Catalog, load_catalog
from ..errors import InvalidValueError
from .estimate import estimate_many
from .inputs import NONE, RowErrors, check_rule, column_length, numbers_column
from .options import BY_NAME
from ..units import HOURS_PER_MONTH, SECONDS_PER_HOUR

DAYS_PER_MONTH = 365.0 / 12.0
GPU_CHOICES = (1, 2, 4, 8)
#: The most GPUs a replica is tried at over several nodes (8 nodes of 8), or the hardware's NVLink
#: domain where it holds more (a GB200 NVL72 rack): :func:`wider_gpu_choices`.
MAX_GPUS = 64
#: The most GPUs tried on any hardware, whatever its catalog entry says: the largest NVLink domains
#: built hold 576 GPUs (a user's file may state up to 100,000).
MOST_GPUS = 512
#: Batches 1..FIRST_BATCHES are tried for every configuration in the first round; each later
#: round doubles the range for the configurations still open.
FIRST_BATCHES = 256
#: Rows of one estimate_many call: bounds the memory of a round (about 1 KB a row).
ROWS_PER_CALL = 200_000
#: Halvings of the search for the highest utilisation at which a replica meets percentile targets
#: (the request-rate view): 12 find it to 1/4096.
PERCENTILE_STEPS = 12
#: Percentile targets ``plan`` takes: its keyword -> the rate view's output.
PERCENTILE_TARGETS = {"max_ttft_p90_s": "ttft_at_rate_p90_s", "max_ttft_p99_s": "ttft_at_rate_p99_s", "max_tpot_p90_s": "tpot_at_rate_p90_s",
                      "max_tpot_p99_s": "tpot_at_rate_p99_s"}


@dataclass
class Plan:
    requests_per_month: float
    self_hosted: list[dict[str, Any]] = field(default_factory=list)  # cheapest first
    apis: list[dict[str, Any]] = field(default_factory=list)          # cheapest first
    rejected: dict[str, str] = field(default_factory=dict)            # hardware -> why
    open_models: list[str] = field(default_factory=list)              # the models that could be self-hosted
    peak_to_average: float = defaults.DEFAULT_PEAK_TO_AVERAGE
    redundancy: int = defaults.DEFAULT_REDUNDANCY
    autoscale: bool = False                                           # rented replicas follow the day
    peak_hours_per_day: float = defaults.DEFAULT_PEAK_HOURS_PER_DAY
    configurations_tried: int = 0                                     # rows estimated by the search


def requests_per_month(requests_per_day: float | None = None, requests_per_s: float | None = None) -> float:
    """Monthly requests from a daily or per-second rate (365/12 days, 730 h a month)."""
    if requests_per_day is not None and requests_per_s is None:
        name, rate, scale = "requests_per_day", requests_per_day, DAYS_PER_MONTH
    elif requests_per_s is not None and requests_per_day is None:
        name, rate, scale = "requests_per_s", requests_per_s, SECONDS_PER_HOUR * HOURS_PER_MONTH
    else:
        raise InvalidValueError("Give the load as requests_per_day or requests_per_s (one of them).")
    if not rate > 0:
        raise InvalidValueError(f"{name} must be > 0, got {rate:g}")
    if not math.isfinite(rate * scale):
        raise InvalidValueError(f"{name} must be a finite number, got {rate:g}. Give the load you plan for.")
    return rate * scale


def _checked(name: str, value: Any) -> float:
    """One scenario option checked against its rule in the option table (the core's messages)."""
    errors = RowErrors(1)
    number = _option_numbers({name: value}, 1, (name,), errors)[name]
    if errors.bad.any():
        raise errors.first()
    return float(number[0])


def plan(models: Iterable[str], *, requests_per_day: float | None = None, requests_per_s: float | None = None,
         input_tokens: int = defaults.DEFAULT_INPUT_TOKENS, output_tokens: int = defaults.DEFAULT_OUTPUT_TOKENS,
         hardware: Iterable[str] = (), api_models: Iterable[str] = (), max_ttft_s: float | None = None,
         max_tpot_s: float | None = None, max_latency_s: float | None = None,
         max_ttft_p90_s: float | None = None, max_ttft_p99_s: float | None = None,
         max_tpot_p90_s: float | None = None, max_tpot_p99_s: float | None = None, precision: str | None = None,
         engine: str | None = None, utilization: float = defaults.DEFAULT_UTILIZATION,
         peak_to_average: float = defaults.DEFAULT_PEAK_TO_AVERAGE, redundancy: int = defaults.DEFAULT_REDUNDANCY,
         autoscale: str | None = defaults.DEFAULT_AUTOSCALE,
         peak_hours_per_day: float = defaults.DEFAULT_PEAK_HOURS_PER_DAY,
         catalog: Catalog | Iterable[str] | None = None) -> Plan:
    """Cheapest self-hosted configurations per hardware, and the API alternatives.

    Each configuration is a GPU count (1, 2, 4, 8, and over several nodes 16, 32, ... where that can be
    cheaper: :func:`wider_gpu_choices`), a parallel layout (tp = gpus; for a mixture of
    experts also dp attention ranks with ep = gpus: :func:`layouts_to_try`) and a batch; each row of
    ``self_hosted`` names its layout (``tp``, ``dp``, ``ep`` as ``estimate`` takes them, ``nodes`` and
    ``layout``).

    The load is ``requests_per_day`` or ``requests_per_s`` (the month's average); replicas are
    sized for ``peak_to_average`` x that load, plus ``redundancy`` spare replicas (N+k). Targets,
    in seconds: ``max_ttft_s`` (time to first token), ``max_tpot_s`` (time per output token),
    ``max_latency_s`` (whole request); each is the core's mean at the configuration's batch. Percentile
    targets (``max_ttft_p90_s``, ``max_ttft_p99_s``, ``max_tpot_p90_s``, ``max_tpot_p99_s``) use the
    request-rate view: requests arrive at random at each replica (M/M/c, c = batch), and a replica is
    loaded no further than the highest utilisation at which it meets them (that share is its
    ``utilization``, so the replicas and the cost follow from the core's own arithmetic). Each chosen
    configuration reports its p90 and p99 TTFT and TPOT at the peak's load per serving replica.
    With ``autoscale`` "yes", rented replicas follow a two-level day (``peak_hours_per_day`` hours at
    the peak), as the core prices them; owned and reserved GPUs stay paid for all day.
    """
    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog or ())
    monthly = requests_per_month(requests_per_day, requests_per_s)
    given = {"max_ttft_p90_s": max_ttft_p90_s, "max_ttft_p99_s": max_ttft_p99_s, "max_tpot_p90_s": max_tpot_p90_s,
             "max_tpot_p99_s": max_tpot_p99_s}
    for name, limit in (("max_ttft_s", max_ttft_s), ("max_tpot_s", max_tpot_s), ("max_latency_s", max_latency_s),
                        *given.items()):
        if limit is not None and not limit > 0:
            raise InvalidValueError(f"{name} must be > 0, got {limit:g}")
    percentiles = {PERCENTILE_TARGETS[k]: v for k, v in given.items() if v is not None}
    fleet = dict(utilization=_checked("utilization", utilization),
                 peak_to_average=_checked("peak_to_average", peak_to_average),
                 redundancy=_checked("redundancy", redundancy))
    scaled = _autoscale_checked(autoscale, fleet["peak_to_average"], peak_hours_per_day)
    hours = _checked("peak_hours_per_day", peak_hours_per_day)
    models = [cat.model(m).id for m in models]
    if not models:
        raise InvalidValueError("Give at least one model to self-host (--model).")
    open_models = [m for m in models if cat.model(m).kind == "open"]
    api_ids = [cat.model(a).id for a in api_models] or [m.id for m in cat.entries("api_models")]
    api_ids += [m for m in models if cat.model(m).kind == "api" and m not in api_ids]
    hw_ids = [cat.hardware(h).id for h in hardware] or \
        [h.id for h in cat.entries("hardware") if (h.price_usd_per_hour or 0) > 0]

    result = Plan(requests_per_month=monthly, open_models=open_models, peak_to_average=fleet["peak_to_average"],
                  redundancy=int(fleet["redundancy"]), autoscale=scaled, peak_hours_per_day=hours)
    if open_models and hw_ids:
        common = dict(input_tokens=input_tokens, output_tokens=output_tokens, precision=precision, engine=engine,
                      requests_per_month=monthly, autoscale="yes" if scaled else "no", peak_hours_per_day=hours,
                      **fleet)
        targets = dict(ttft_s=max_ttft_s, tpot_s=max_tpot_s, latency_s=max_latency_s)
        configs = [(m, h, g, dp, ep) for m in open_models for h in hw_ids for g in GPU_CHOICES
                   for dp, ep in layouts_to_try(cat.model(m), g)]
        est, tried = _search(configs, cat, common, targets, monthly, percentiles)
        est, tried = _wider(est, tried, open_models, hw_ids, cat, common, targets, monthly, percentiles)
        result.configurations_tried = tried
        result.self_hosted, result.rejected = _choose(est, monthly, targets, fleet["redundancy"], scaled, cat)
        _at_the_peak(result.self_hosted, cat, common, monthly)
        _price_tiers(result.self_hosted, cat, **common)
    for a in api_ids:
        e = estimate_many(a, catalog=cat, input_tokens=input_tokens, output_tokens=output_tokens,
                          errors="raise")
        per_request = float(e["token_cost_usd"][0])
        row = {"api_model": a, "cost_per_request_usd": per_request, "usd_per_1k_requests": per_request * 1000,
               "monthly_usd": per_request * monthly,
               "ttft_s": _f(e["ttft_s"][0]), "latency_s": _f(e["latency_s"][0])}
        if result.self_hosted:
            best = result.self_hosted[0]
            volume = float(fleet_breakeven_requests_per_month(
                best["replica_usd_per_month"], per_request, best["capacity_requests_per_month"],
                fleet["peak_to_average"], fleet["redundancy"], best["autoscaled"], hours))
            row["breakeven_requests_per_month"] = volume
            row["cheaper"] = "self-hosted" if best["monthly_usd"] < row["monthly_usd"] else "API"
        result.apis.append(row)
    result.apis.sort(key=lambda r: r["monthly_usd"])
    return result


def fleet_breakeven_requests_per_month(replica_usd_per_month: Any, api_cost_per_request_usd: Any,
                                       capacity_requests_per_month: Any,
                                       peak_to_average: Any = defaults.DEFAULT_PEAK_TO_AVERAGE,
                                       redundancy: Any = defaults.DEFAULT_REDUNDANCY, autoscaled: Any = False,
                                       peak_hours_per_day: Any = defaults.DEFAULT_PEAK_HOURS_PER_DAY) -> np.ndarray:
    """The smallest monthly volume V at which a self-hosted fleet costs no more than the API:
    (n + k) x F <= V x a, where F is one replica's monthly cost, a the API's cost per request,
    C one replica's capacity (requests a month), p the peak-to-average ratio and k the spares,
    and n = max(1, ceil(V x p / C)) the replicas the peak needs (the core's ``replicas_needed``).

    V = (n + k) x F / a for the fewest replicas n >= 1 at which that volume still fits them
    ((n + k) x F / a <= n x C / p): n = max(1, ceil(k x F x p / (a x C - F x p))). Infinite
    (never) when a x C <= F x p (the API costs less per request than a replica fully busy at
    the peak; with k = 0 equality breaks even at V = F / a). With p = 1 and k = 0 this is the
    one-replica break-even F / a. Above V the cost of
    self-hosting rises in steps as replicas are added, so just past a step the API can briefly
    be cheaper again; V is where self-hosting first pays. NaN where a figure is unknown.
    ``autoscaled`` rows (rented replicas following a day of ``peak_hours_per_day`` hours at the peak)
    pay ``cost.paid_replicas`` instead: see ``_autoscaled_breakeven``.
    """
    f, a, c, p, k = (np.asarray(x, dtype=float) for x in (replica_usd_per_month, api_cost_per_request_usd,
                                                          capacity_requests_per_month, peak_to_average, redundancy))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        volume, reachable = _cost.fleet_breakeven_parts(f, a, c, p, k)
    unknown = np.isnan(f) | np.isnan(a) | np.isnan(c) | np.isnan(p) | np.isnan(k)
    volume = np.where(unknown, np.nan, np.where(reachable, volume, np.inf))
    scaled = np.broadcast_to(np.asarray(autoscaled, dtype=bool), volume.shape)
    if scaled.any():
        volume = np.where(scaled, _autoscaled_breakeven(f, a, c, p, k, np.asarray(peak_hours_per_day, dtype=float),
                                                        unknown), volume)
    return volume


def _autoscaled_breakeven(f, a, c, p, k, h, unknown) -> np.ndarray:
    """The break-even volume V of an autoscaled fleet: the smallest V with V x a >= paid(V) x F, where
    paid is ``cost.paid_replicas`` (never below 1 + k, and not decreasing in V). From V = (1 + k) x F / a,
    V <- paid(V) x F / a never passes the smallest solution and stops on it; a day that averages 1
    needs about V / C replicas, so a solution exists where a x C > F (the API costs more per request
    than a fully busy replica), and the steps end. Infinite where a x C <= F."""
    shape = np.broadcast(f, a, c, p, k, h, unknown).shape
    f, a, c, p, k, h, unknown = (np.broadcast_to(x, shape).ravel() for x in (f, a, c, p, k, h, unknown))
    with np.errstate(divide="ignore", invalid="ignore"):
        live = ~unknown & (a > 0) & (a * c > f)
        volume = np.where(live, (1.0 + k) * f / np.where(live, a, 1.0), np.inf)
        while live.any():
            paid = _cost.paid_replicas(volume[live], c[live], p[live], k[live], True, h[live])
            moved = paid * f[live] / a[live]
            step = moved > volume[live] * (1 + 1e-12)
            idx = np.flatnonzero(live)
            volume[idx[step]] = moved[step]
            live[idx[~step]] = False
    return np.where(unknown, np.nan, volume).reshape(shape)


def _autoscale_checked(autoscale: Any, peak_to_average: float, peak_hours_per_day: Any) -> bool:
    """Whether ``plan``'s fleet autoscales, refused as the core refuses a row (its words, its messages)."""
    from .estimate import AUTOSCALE_CROWDED
    from .resolve import _choices

    errors = RowErrors(1)
    word = _choices("autoscale", autoscale, 1, errors, BY_NAME["autoscale"].choices, BY_NAME["autoscale"].choice_fix)[0]
    if errors.bad.any():
        raise errors.first()
    hours = _checked("peak_hours_per_day", peak_hours_per_day)
    if word == "yes" and peak_to_average * hours > 24.0:
        raise InvalidValueError(AUTOSCALE_CROWDED.format(peak_to_average, hours))
    return word == "yes"


def layouts_to_try(model: Any, gpus: int) -> list[tuple[float, float]]:
    """The parallel layouts ``plan`` tries for a model on ``gpus`` GPUs, as (dp, ep) options (NaN: not
    given). Every model: the default layout (tp = gpus: empty options, as ``estimate`` takes them).
    A mixture-of-experts model (routed experts) also: each dp > 1 that divides gpus, as attention
    data-parallel ranks of tp = gpus / dp GPUs with the experts spread over all GPUs (ep = gpus), as
    DeepSeek-, Kimi- and Qwen-MoE serving runs them. A dense model gains nothing from dp (each rank
    would hold every weight: a replica with extra traffic), nor a MoE from ep under one rank (every
    GPU already holds every token). The core refuses what the model or the engine cannot take (experts
    that gpus does not divide, an engine that splits layers); ``_search`` drops those layouts."""
    default = [(math.nan, math.nan)]
    if not getattr(model, "experts", 0):
        return default
    return default + [(float(dp), float(gpus)) for dp in range(2, gpus + 1) if gpus % dp == 0]


def wider_gpu_choices(hardware: Any) -> tuple[int, ...]:
    """The GPU counts beyond one 8-GPU node that ``plan`` tries on a hardware: 16, 32, ... up to
    MAX_GPUS, or up to its NVLink domain where that holds more (at most MOST_GPUS). None where the
    catalog does not state the domain (``nvlink_domain_gpus``): the core would not know where the nodes
    split, so could not price the link between them."""
    domain = getattr(hardware, "nvlink_domain_gpus", None) or 0
    if not domain:
        return ()
    counts, gpus = [], 2 * max(GPU_CHOICES)
    while gpus <= min(max(MAX_GPUS, domain), MOST_GPUS):
        counts.append(gpus)
        gpus *= 2
    return tuple(counts)


def nodes_of(gpus: int, domain: float | None) -> int:
    """The NVLink domains (nodes) a replica of ``gpus`` spans: 1 within one domain, or where the
    catalog does not state it (``domain`` None or 0: never crossed, as the core prices it)."""
    return math.ceil(gpus / domain) if domain and gpus > domain else 1


def _wider(est: dict[str, np.ndarray], tried: int, models: list[str], hw_ids: list[str], cat: Catalog,
           common: dict[str, Any], targets: dict[str, float | None], monthly: float,
           percentiles: dict[str, float]) -> tuple[dict[str, np.ndarray], int]:
    """The search over several nodes, after the counts of one node (``est``, ``tried``): each wider
    count of :func:`wider_gpu_choices` in turn, 16 first, with the layouts of :func:`layouts_to_try`.
    A configuration is searched only where it could win: its model and hardware have no answer yet
    (fewer GPUs do not fit or miss the targets), or its fewest replicas (1 + redundancy) cost less than
    the best answer found with fewer GPUs (``_search``'s ``prior``). Returns every estimate kept and
    the rows estimated."""
    wider = {h: wider_gpu_choices(cat.hardware(h)) for h in hw_ids}
    parts = [est]
    for gpus in sorted({g for counts in wider.values() for g in counts}):
        prior: dict[tuple[str, str], float] = {}
        for part in parts:
            for i in np.flatnonzero(part["ok"]):
                key = (str(part["model"][i]), str(part["hardware"][i]))
                prior[key] = min(prior.get(key, math.inf), float(part["monthly_cost_usd"][i]))
        configs = [(m, h, gpus, dp, ep) for m in models for h in hw_ids if gpus in wider[h]
                   for dp, ep in layouts_to_try(cat.model(m), gpus)]
        more, rows = _search(configs, cat, common, targets, monthly, percentiles, prior)
        tried += rows
        if more:
            parts.append(more)
    if len(parts) == 1:
        return est, tried
    return {k: np.concatenate([p[k] for p in parts]) for k in est}, tried


def _layout_options(dp: np.ndarray, ep: np.ndarray) -> dict[str, Any]:
    """The layout columns for ``estimate_many`` (none where every row takes the default layout)."""
    return {} if np.isnan(dp).all() else {"dp": dp, "ep": ep}


def _search(configs: list[tuple[str, str, int, float, float]], cat: Catalog, common: dict[str, Any],
            targets: dict[str, float | None], monthly: float, percentiles: dict[str, float] | None = None,
            prior: dict[tuple[str, str], float] | None = None) -> tuple[dict[str, np.ndarray], int]:
    """Every whole batch of each (model, hardware, GPUs, dp, ep) configuration, in rounds of doubling
    range. Returns, concatenated, the estimates of each configuration's best row per block of
    rows (among those that answer: ``ok``) and of its first row (for the reasons a hardware is not
    shown), and the number of rows estimated.

    A configuration closes when its batches run out (``max_batch``, and at most the batch that batch
    "max" serves: the engine's own maximum, vLLM's max_num_seqs...), or when no larger batch can be
    cheaper: a batch answers with the fewest replicas a fleet can have (1 + redundancy: a larger
    batch could only cost as much); a batch misses a target (a request never gets faster as more
    share the GPUs); or the most any larger batch could serve (capacity per sequence never rises
    with the batch: max_batch / b x this capacity) needs a fleet that costs more than the best
    answer of the same model and hardware found so far (not with percentile targets: more slots meet them
    at a higher utilisation, so capacity per sequence may rise with the batch). A layout other than the
    default that the core refuses (its batch "max" row has an error) is not searched.

    ``prior`` (the search over several nodes, ``_wider``): the cheapest answer of each (model, hardware)
    found with fewer GPUs. Then a configuration is searched only where the core takes it (no error, an
    engine that splits tensors: layer splitting does not price the link between nodes) and its fewest
    replicas cost less than that answer (a fleet never has fewer than 1 + redundancy, whatever the
    targets or the utilisation). Before any batch is searched, a configuration whose cost cannot come
    below the answer found (:func:`_bounded`) is closed. Returns an empty dict when none is left."""
    fewest = float(_cost.replicas_needed(monthly, np.inf, common["peak_to_average"], common["redundancy"]))
    # a lower bound of the replicas paid for at a capacity: autoscaled as if every row were rented (an owned
    # or reserved row pays at least that)
    scaled = common.get("autoscale") == "yes"
    pair_of = {pair: i for i, pair in enumerate(dict.fromkeys((c[0], c[1]) for c in configs))}
    pair = np.array([pair_of[(c[0], c[1])] for c in configs])
    models, hardware = np.array([c[0] for c in configs], dtype=object), np.array([c[1] for c in configs], dtype=object)
    gpus, dp, ep = (np.array([c[k] for c in configs], dtype=float) for k in (2, 3, 4))
    best_usd = np.full(len(pair_of), np.inf)      # per (model, hardware): the cheapest answer so far
    replica_usd = np.full(len(configs), np.nan)   # per configuration: one replica a month
    # per configuration: the most sequences it runs, the engine's own maximum now and max_batch once known
    served = estimate_many(models.tolist(), hardware.tolist(), catalog=cat, gpus=gpus, batch="max",
                           **_layout_options(dp, ep), **common)
    largest = np.where(np.equal(served["error"], NONE), served["batch"], np.inf)
    # a layout the model or engine cannot take is the core's error (the default layout's errors are
    # the configuration's own, shown as today)
    open_ = np.flatnonzero(np.isnan(dp) | np.equal(served["error"], NONE))
    if prior is not None:
        best_usd[:] = [prior.get(p, np.inf) for p in pair_of]
        tensor = np.array([e is not None and cat.engine(str(e)).parallelism == "tensor" for e in served["engine"]])
        can_win = ~(fewest * served["deployment_usd_per_month"] > best_usd[pair] + defaults.MONEY_TIE_USD)
        open_ = np.flatnonzero(np.equal(served["error"], NONE) & tensor & can_win)
        if not open_.size:
            return {}, 0
    tried = 0
    if not percentiles:  # closed before their batches are searched: configurations that cannot be cheaper
        open_, tried = _bounded(open_, largest, models, hardware, gpus, dp, ep, pair, best_usd, cat, common, targets,
                                monthly)
    lo, hi = 0, FIRST_BATCHES
    kept: list[dict[str, np.ndarray]] = []
    while open_.size:
        top = np.minimum(largest[open_], hi)
        counts = np.maximum(top - lo, 0).astype(int)
        which = np.repeat(open_, counts)
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        batches = lo + 1 + np.arange(which.size) - starts
        done = np.zeros(len(configs), bool)
        done[open_[counts == 0]] = True
        for s in range(0, which.size, ROWS_PER_CALL):
            rows, batch = which[s:s + ROWS_PER_CALL], batches[s:s + ROWS_PER_CALL]
            est = estimate_many(models[rows].tolist(), hardware[rows].tolist(), catalog=cat, gpus=gpus[rows],
                                batch=batch, **_layout_options(dp[rows], ep[rows]), **common)
            est["dp"], est["ep"] = dp[rows], ep[rows]  # the layout options given (NaN: the default)
            if percentiles:
                est = _percentile_capped(est, cat, common, percentiles)
            tried += rows.size
            ok = est["ok"] = _answers(est, targets)
            fine = np.equal(est["error"], NONE)
            # the largest batch that fits and a replica's cost: the same for every batch of a configuration
            np.minimum.at(largest, rows, np.where(fine, np.nan_to_num(est["max_batch"], nan=0.0), np.inf))
            replica_usd[rows[fine]] = est["deployment_usd_per_month"][fine]
            np.minimum.at(best_usd, pair[rows[ok]], est["monthly_cost_usd"][ok])
            done[rows[(ok & (est["average_replicas"] <= fewest)) | ~fine]] = True
            # at the round's last batch of a configuration: a request never gets faster as more share the
            # GPUs, so a target missed there is missed by every larger batch, and capacity per sequence
            # only falls: no larger batch serves more than (largest / batch) x this capacity
            last = (np.r_[rows[1:] != rows[:-1], True]) & fine & (est["fits"] == 1)
            missed = np.zeros(rows.size, bool)
            for key, limit in targets.items():
                if limit is not None:
                    missed |= est[key] > limit
            done[rows[last & missed]] = True
            at_most = est["capacity_requests_per_month"] * largest[rows] / batch
            beyond = _cost.paid_replicas(monthly, at_most, common["peak_to_average"], common["redundancy"], scaled,
                                         common["peak_hours_per_day"]) \
                * est["deployment_usd_per_month"] > best_usd[pair[rows]] + defaults.MONEY_TIE_USD
            done[rows[last & beyond & (not percentiles)]] = True
            keep = np.zeros(rows.size, bool)
            keep[_cheapest(est, np.flatnonzero(ok), rows)] = True
            keep |= batch == lo + 1
            kept.append({k: v[keep] for k, v in est.items() if isinstance(v, np.ndarray) and v.shape == keep.shape})
        done[open_[largest[open_] <= hi]] = True
        if not percentiles:
            done[open_[fewest * replica_usd[open_] > best_usd[pair[open_]] + defaults.MONEY_TIE_USD]] = True
        open_ = open_[~done[open_]]
        lo, hi = hi, 2 * hi
    if not kept:  # every configuration closed by its bound (over several nodes: fewer GPUs answer for less)
        return {}, tried
    return {k: np.concatenate([p[k] for p in kept]) for k in kept[0]}, tried


def _bounded(open_: np.ndarray, largest: np.ndarray, models: np.ndarray, hardware: np.ndarray, gpus: np.ndarray,
             dp: np.ndarray, ep: np.ndarray, pair: np.ndarray, best_usd: np.ndarray, cat: Catalog,
             common: dict[str, Any], targets: dict[str, float | None], monthly: float) -> tuple[np.ndarray, int]:
    """The configurations ``open_`` less those no batch of which can cost less than the cheapest answer of
    their model and hardware (``best_usd``, lowered here by the answers found), and the rows estimated.

    Each configuration is estimated at the powers of two up to its largest batch. Capacity per sequence
    never rises with the batch (the bound ``_search`` closes on), so no batch b from 2^k to 2^(k+1) - 1
    serves more than b / 2^k x the capacity at 2^k: the most of those bounds over every k bounds the
    capacity of every batch, and the replicas that capacity needs, times one replica's cost, bound the
    configuration's monthly cost from below. A configuration whose bound is above that answer (by more
    than half a cent, as ``_search`` closes) is not searched; the others are, every batch, as before."""
    finite = open_[np.isfinite(largest[open_])]
    if not finite.size:
        return open_, 0
    steps = np.floor(np.log2(np.maximum(largest[finite], 1.0))).astype(int) + 1  # 1, 2, 4, ... <= largest
    rows = np.repeat(finite, steps)
    batch = 2.0 ** (np.arange(rows.size) - np.repeat(np.cumsum(steps) - steps, steps))
    est = estimate_many(models[rows].tolist(), hardware[rows].tolist(), catalog=cat, gpus=gpus[rows], batch=batch,
                        **_layout_options(dp[rows], ep[rows]), **common)
    ok = _answers(est, targets)
    np.minimum.at(best_usd, pair[rows[ok]], est["monthly_cost_usd"][ok])
    # the most any batch from this power of two to the next (and at most the largest) can serve; NaN where
    # the probe has no capacity (an error, or it does not fit): nothing is bounded
    fine = np.equal(est["error"], NONE) & (est["fits"] == 1) & np.isfinite(est["capacity_requests_per_month"])
    reach = np.minimum(2.0 * batch - 1.0, largest[rows]) / batch
    capacity = np.full(len(largest), -np.inf)
    np.maximum.at(capacity, rows, np.where(fine, est["capacity_requests_per_month"] * reach, np.inf))
    replica_usd = np.full(len(largest), np.nan)
    replica_usd[rows[fine]] = est["deployment_usd_per_month"][fine]
    scaled = common.get("autoscale") == "yes"
    cheapest = _cost.paid_replicas(monthly, capacity[finite], common["peak_to_average"], common["redundancy"], scaled,
                                   common["peak_hours_per_day"]) * replica_usd[finite]
    closed = finite[cheapest > best_usd[pair[finite]] + defaults.MONEY_TIE_USD]
    return np.setdiff1d(open_, closed), int(rows.size)


def _percentile_capped(est: dict[str, np.ndarray], cat: Catalog, common: dict[str, Any],
                       percentiles: dict[str, float]) -> dict[str, np.ndarray]:
    """The rows re-estimated at the highest utilisation that meets the percentile targets (the rate
    view's, ``targets``: output key -> seconds), found by halving (PERCENTILE_STEPS): a replica whose
    random arrivals stay at or below that share of what it serves (``served_requests_per_s``) meets
    them, so with it as ``utilization`` the core's replicas and cost meet them. The utilisation given
    stays where it is lower. ``percentile_ok`` is False where even a lone request misses a target."""
    est["percentile_ok"] = np.zeros(len(est["error"]), bool)
    idx = np.flatnonzero(np.equal(est["error"], NONE) & (est["fits"] == 1) & ~np.isnan(est["latency_s"]))
    if not idx.size:
        return est
    args = dict(common, catalog=cat, gpus=est["gpus"][idx], batch=est["batch"][idx],
                **_layout_options(est["dp"][idx], est["ep"][idx]))
    models, hardware = est["model"][idx], est["hardware"][idx]
    served = estimate_many(models, hardware, requests_per_s=0.0, **args)["served_requests_per_s"]

    def meets(share: np.ndarray) -> np.ndarray:
        e = estimate_many(models, hardware, requests_per_s=share * served, **args)
        ok = np.equal(e["error"], NONE)
        for key, limit in percentiles.items():
            ok &= e[key] <= limit
        return ok

    lo, hi = np.full(idx.size, 1.0 / 2 ** PERCENTILE_STEPS), np.ones(idx.size)
    feasible = meets(lo)
    for _ in range(PERCENTILE_STEPS):
        mid = (lo + hi) / 2.0
        fine = meets(mid)
        lo, hi = np.where(fine, mid, lo), np.where(fine, hi, mid)
    again = estimate_many(models, hardware, **dict(args, utilization=np.minimum(lo, common["utilization"])))
    for key, column in list(est.items()):
        if key in again and isinstance(column, np.ndarray) and column.shape == est["error"].shape:
            est[key] = column.copy()  # a column may be a read-only view
            est[key][idx] = again[key]
    est["percentile_ok"][idx] = feasible
    return est


def _at_the_peak(rows: list[dict[str, Any]], cat: Catalog, common: dict[str, Any], monthly: float) -> None:
    """Each chosen configuration's rate view at the peak: the peak's requests a second shared by the
    replicas that serve (all but the spares), arriving at random (``utilization``: the share a
    replica is loaded to at most; p90 and p99 TTFT and TPOT, None where there is no figure)."""
    if not rows:
        return
    peak_per_s = monthly * common["peak_to_average"] / (SECONDS_PER_HOUR * HOURS_PER_MONTH)
    serving = np.array([max(r["replicas"] - r["spare_replicas"], 1) for r in rows], dtype=float)
    e = estimate_many([r["model"] for r in rows], [r["hardware"] for r in rows], catalog=cat,
                      gpus=[r["gpus"] for r in rows], batch=[r["batch"] for r in rows],
                      requests_per_s=peak_per_s / serving, **_row_layouts(rows),
                      **dict(common, utilization=[r["utilization"] for r in rows]))
    for i, row in enumerate(rows):
        for key in ("utilization_at_rate", "ttft_at_rate_p90_s", "ttft_at_rate_p99_s", "tpot_at_rate_p90_s", "tpot_at_rate_p99_s"):
            row[key if key != "utilization_at_rate" else "utilization_at_peak"] = (
                _f(e[key][i]) if e["error"][i] is None else None)


def _row_layouts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The layout options of chosen configurations, as ``estimate_many`` takes them (empty for the default)."""
    given = [r["dp"] is not None and r["dp"] > 1 for r in rows]
    dp = np.array([r["dp"] if g else math.nan for r, g in zip(rows, given)], dtype=float)
    ep = np.array([r["ep"] if g else math.nan for r, g in zip(rows, given)], dtype=float)
    return _layout_options(dp, ep)


def _cheapest(est: dict[str, np.ndarray], idx: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Of the rows ``idx``, the best of each ``group`` (an array over all rows): the lowest monthly
    cost (to the cent: equal costs tie), then the lowest latency, fewer GPUs, fewer attention ranks
    (dp), the smaller batch."""
    if not idx.size:
        return idx
    order = idx[np.lexsort((est["batch"][idx], np.nan_to_num(est["dp"][idx], nan=1.0), est["gpus"][idx],
                            est["latency_s"][idx],
                            np.round(est["monthly_cost_usd"][idx], 2), group[idx]))]
    g = group[order]
    return order[np.r_[True, g[1:] != g[:-1]]]


def _answers(est: dict[str, np.ndarray], targets: dict[str, float | None]) -> np.ndarray:
    """Rows that fit, have a price and meet every target given."""
    ok = np.equal(est["error"], NONE) & (est["fits"] == 1) & (est["price_per_hour"] > 0)
    if "percentile_ok" in est:
        ok &= est["percentile_ok"]
    for key, limit in targets.items():
        if limit is not None:
            ok &= est[key] <= limit
    return ok


#: The ways a GPU-hour is paid for that ``plan`` compares for each hardware.
PLAN_PRICINGS = ("on-demand", "reserved-1y", "reserved-3y", "spot", "owned")


def _price_tiers(rows: list[dict[str, Any]], cat: Catalog, **options: Any) -> None:
    """Each chosen configuration's monthly cost at every pricing the catalog can price: the default
    published price of each rental tier, and the owned GPU-hour where the purchase price and power are
    known (``monthly_usd_by_pricing``: pricing -> USD a month, None where there is no price). ``options``
    are the plan's scenario options (the load and the fleet among them)."""
    if not rows:
        return
    n = len(rows)
    cols = {k: [r[k] for r in rows] * len(PLAN_PRICINGS) for k in ("model", "hardware", "gpus", "batch")}
    pricing = [p for p in PLAN_PRICINGS for _ in range(n)]
    # each configuration at its own utilisation (lower than the plan's where percentile targets cap it)
    layout: dict[str, Any] = {k: np.tile(v, len(PLAN_PRICINGS)) for k, v in _row_layouts(rows).items()}
    est = estimate_many(cols["model"], cols["hardware"], catalog=cat, pricing=pricing, gpus=cols["gpus"],
                        batch=cols["batch"], **layout, **dict(options, utilization=[r["utilization"] for r in rows]
                                                              * len(PLAN_PRICINGS)))
    for t, word in enumerate(PLAN_PRICINGS):
        for i, row in enumerate(rows):
            # the core's monthly cost of the configuration at this pricing (autoscale follows the day only
            # where the GPU-hour is rented on demand or spot)
            monthly = float(est["monthly_cost_usd"][t * n + i]) if est["error"][t * n + i] is None else math.nan
            row.setdefault("monthly_usd_by_pricing", {})[word] = None if math.isnan(monthly) else monthly
            row.setdefault("provider_by_pricing", {})[word] = est["provider"][t * n + i] if word != "owned" else None


def _f(x: Any) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def layout_text(tp: int | None, dp: int | None, ep: int | None, gpus: int, nodes: int = 1) -> str:
    """A layout in words, as the plan shows it: "tp 8", "dp 8, ep 8", "tp 2 x dp 4, ep 8"; a layout
    without tensor parallelism (tp None: an engine that splits layers) "layers over 2 GPUs"; over
    several nodes "tp 8 x dp 2, ep 16 over 2 nodes"."""
    if tp is None:
        return "1 GPU" if gpus == 1 else f"layers over {gpus} GPUs"
    text = f"tp {tp}" if dp in (None, 1) else (f"dp {dp}" if tp == 1 else f"tp {tp} x dp {dp}")
    return text + (f", ep {ep}" if ep not in (None, 1) else "") + (f" over {nodes} nodes" if nodes > 1 else "")


def _choose(est: dict[str, np.ndarray], monthly: float, targets: dict[str, float | None],
            spares: float, scaled: bool, cat: Catalog) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The cheapest row of each (model, hardware) among those that answer; why the others have none."""
    ok = est["ok"]
    total = est["monthly_cost_usd"]
    model, hw = est["model"].astype(str), est["hardware"].astype(str)
    rows: list[dict[str, Any]] = []
    pairs = np.unique(np.char.add(np.char.add(model, "\t"), hw), return_inverse=True)[1]
    if ok.any():
        for i in _cheapest(est, np.flatnonzero(ok), pairs).tolist():
            replicas = int(est["replicas_needed"][i])
            gpus = int(est["gpus"][i])
            # the layout as ``estimate`` takes it: tp x dp = gpus (the default: tp = gpus on an engine
            # that splits tensors; none on one that splits layers)
            tensor = cat.engine(str(est["engine"][i])).parallelism == "tensor"
            dp = 1 if math.isnan(est["dp"][i]) else int(est["dp"][i])
            ep = 1 if math.isnan(est["ep"][i]) else int(est["ep"][i])
            tp, dp_, ep_ = (gpus // dp, dp, ep) if tensor else (None, None, None)
            nodes = nodes_of(gpus, cat.hardware(str(hw[i])).nvlink_domain_gpus)
            rows.append({
                "model": str(model[i]), "hardware": str(hw[i]), "gpus": gpus,
                "tp": tp, "dp": dp_, "ep": ep_, "nodes": nodes, "layout": layout_text(tp, dp_, ep_, gpus, nodes),
                "batch": int(est["batch"][i]), "utilization": float(est["utilization"][i]),
                "max_batch": int(est["max_batch"][i]), "replicas": replicas, "spare_replicas": int(spares),
                "average_replicas": float(est["average_replicas"][i]),
                "autoscaled": bool(scaled and est["pricing"][i] in ("on-demand", "spot")),
                "total_gpus": int(replicas * est["gpus"][i]),
                "ttft_s": float(est["ttft_s"][i]), "tpot_s": float(est["tpot_s"][i]),
                "latency_s": float(est["latency_s"][i]),
                "capacity_requests_per_month": float(est["capacity_requests_per_month"][i]),
                "replica_usd_per_month": float(est["deployment_usd_per_month"][i]),
                "monthly_usd": float(total[i]),
                "cost_per_request_usd": float(total[i] / monthly),
                "usd_per_1k_requests": float(total[i] / monthly * 1000),
            })
    rows.sort(key=lambda r: r["monthly_usd"])
    why = {}
    for h in sorted(set(hw.tolist()) - {r["hardware"] for r in rows}):
        mask = hw == h
        if not (est["fits"][mask] == 1).any():
            why[h] = f"the model does not fit on {int(np.max(est['gpus'][mask]))} GPUs"
        elif not (est["price_per_hour"][mask] > 0).any():
            why[h] = "no price per GPU-hour in the catalog"
        else:
            why[h] = "no configuration meets the latency targets"
    return rows, why


def breakeven_many(api_model: Any, model: Any, hardware: Any, *, catalog: Catalog | Iterable[str] | None = None,
                   **options: Any) -> dict[str, np.ndarray]:
    """Monthly requests at which an always-on self-hosted fleet of ``model`` on ``hardware``
    first costs no more than ``api_model`` for the same requests (inf: never); the fleet has
    replicas for the peak (``peak_to_average``) plus ``redundancy`` spares, one replica by default; with
    ``autoscale`` yes, rented replicas follow the day (:func:`fleet_breakeven_requests_per_month`).

    Columns or single values, like :func:`~llmcalc_xl.estimate_many`; options are its options
    (input_tokens, output_tokens, gpus, batch, precision, engine, price_per_hour, ...).
    Returns ``breakeven_requests_per_month`` and ``error`` arrays.
    """
    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog or ())
    tokens = {k: v for k, v in options.items() if k in ("input_tokens", "output_tokens", "cached_input_tokens")}
    api = estimate_many(api_model, catalog=cat, **tokens)
    own = estimate_many(model, hardware, catalog=cat, **options)
    error = np.where(np.equal(api["error"], NONE), own["error"], api["error"])
    not_api = np.equal(error, NONE) & (np.asarray(api["model_kind"]) != "api")
    if not_api.any():
        error = error.copy()
        for i in np.flatnonzero(not_api):
            error[i] = (f"api_model '{api['model'][i]}' is not an API model. Give an API model such as "
                        "gpt-4o as the first argument")
    not_open = np.equal(error, NONE) & (np.asarray(own["model_kind"]) != "open")
    for i in np.flatnonzero(not_open):
        error[i] = f"model '{own['model'][i]}' is an API model. Give an open-weight model to self-host"
    # bad values are the rows' errors already
    fleet: dict[str, Any] = _option_numbers(options, len(error), ("peak_to_average", "redundancy", "peak_hours_per_day"))
    # autoscaled: rented on demand or spot (owned hardware and reservations are paid all day)
    fleet["autoscaled"] = _yes(options.get("autoscale"), len(error)) & np.isin(own["pricing"], ("on-demand", "spot"))
    volume = fleet_breakeven_requests_per_month(own["deployment_usd_per_month"], api["token_cost_usd"],
                                                own["capacity_requests_per_month"], **fleet)
    volume = np.where(np.equal(error, NONE), volume, np.nan)
    return {"breakeven_requests_per_month": volume, "error": error, "notes": own["notes"],
            "note_kinds": own["note_kinds"]}


# --- over time and sensitivity ------------------------------------------------------------------------

#: What ``horizon_many`` returns beside ``error``, in display order (the fill columns, the JSON keys).
HORIZON_KEYS = ("horizon_cost_usd", "horizon_cost_api_usd", "npv_usd", "npv_api_usd", "crossover_month")


def _option_numbers(options: dict[str, Any], n: int, names: Iterable[str],
                    errors: RowErrors | None = None) -> dict[str, np.ndarray]:
    """Numeric options as columns of n with their defaults applied. With ``errors``, each is checked
    against its rule in the option table and a bad value is its row's error (the core's messages);
    without, the caller's ``estimate_many`` has checked them."""
    out = {}
    for name in names:
        column = numbers_column(name, options.get(name), n, errors or RowErrors(n))
        if errors is not None:
            check_rule(name, column, errors, **BY_NAME[name].rule)
        default = BY_NAME[name].default
        out[name] = np.where(np.isnan(column), np.nan if default is None else float(default), column)
    return out


def _yes(value: Any, n: int) -> np.ndarray:
    """Where a yes/no option says yes, matched as the core matches its words (any case, without
    spaces, hyphens or underscores)."""
    from ..catalogs.loader import normalize
    from .inputs import length_of

    def is_yes(v):
        return isinstance(v, str) and normalize(v) == "yes"

    if length_of(value) is None:
        return np.full(n, is_yes(value))
    return np.fromiter((is_yes(v) for v in np.asarray(value, dtype=object).tolist()), dtype=bool, count=n)


def _scenarios(model: Any, hardware: Any, cat: Catalog, quote_date: Any, options: dict[str, Any]):
    """The estimate of each scenario, and the numbers the forecast and the sensitivity read."""
    est = estimate_many(model, hardware, catalog=cat, quote_date=quote_date, **options)
    n = len(est["error"])
    nums = _option_numbers(options, n, ("peak_to_average", "redundancy", "depreciation_years", "residual_share",
                                        "cost_of_capital", "price_per_hour", "horizon_months", "growth_per_month",
                                        "api_price_change_per_year", "gpu_price_change_per_year",
                                        "discount_rate", "peak_hours_per_day"))
    hours = defaults.ASSUMPTIONS.hours_per_month
    is_api = np.asarray(est["model_kind"]) == "api"
    has_hw = ~np.equal(est["hardware"], NONE)
    owned = np.asarray(est["pricing"]) == "owned"
    capex = np.asarray(est["capex_usd_per_gpu"], dtype=float)
    own_capital = _cost.capital_usd_per_hour(capex, nums["depreciation_years"], nums["residual_share"],
                                             nums["cost_of_capital"], hours)
    # autoscaled: rented replicas other than a reservation (a commitment is paid all day)
    scaled = _yes(options.get("autoscale"), n) & ~owned & ~np.isin(est["pricing"], ("reserved-1y", "reserved-3y"))
    return est, nums, dict(is_api=is_api, hosted=has_hw & ~is_api, owned=owned, capex=capex,
                           own_capital=own_capital, price_given=~np.isnan(nums["price_per_hour"]), hours=hours,
                           scaled=scaled)


def horizon_many(api_model: Any, model: Any, hardware: Any = None, *, catalog: Catalog | Iterable[str] | None = None,
                 quote_date: Any = None, series: bool = False, **options: Any) -> dict[str, np.ndarray]:
    """Each scenario over its horizon (``horizon_months``) next to the same traffic on ``api_model``:
    ``horizon_cost_usd`` and ``horizon_cost_api_usd`` (sums of the monthly costs), ``npv_usd`` and
    ``npv_api_usd`` (at ``discount_rate``, end-of-month cash flows), ``crossover_month`` (NaN: the lead
    never changes) and ``error``. Columns or single values, like :func:`~llmcalc_xl.estimate_many`;
    the options are its options. ``series``: also ``requests_per_month``, ``replicas`` (paid for),
    ``monthly_usd``, ``monthly_api_usd``,
    ``cumulative_usd`` and ``cumulative_api_usd``, arrays of scenarios x months (the monthly costs
    NaN past a horizon, the cumulative ones at the horizon's total).
    Conventions: :mod:`llmcalc_xl.core.forecast`."""
    from . import forecast as _fc
    from .defaults import MAX_HORIZON_MONTHS

    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog or ())
    est, nums, q = _scenarios(model, hardware, cat, quote_date, options)
    tokens = {k: v for k, v in options.items() if k in ("input_tokens", "output_tokens", "cached_input_tokens")}
    api = estimate_many(api_model, catalog=cat, quote_date=quote_date, **tokens)
    error = np.where(np.equal(api["error"], NONE), est["error"], api["error"])
    not_api = np.equal(error, NONE) & (np.asarray(api["model_kind"]) != "api")
    if not_api.any():
        error = error.copy()
        for i in np.flatnonzero(not_api):
            error[i] = (f"api_model '{api['model'][i]}' is not an API model. Give an API model such as "
                        "gpt-4o as the first argument")
    n = len(error)
    api_request = np.broadcast_to(api["token_cost_usd"], (n,))
    # the rows the quote's totals count: those with a monthly cost (the others have no forecast)
    ok = np.equal(error, NONE) & ~np.isnan(est["monthly_cost_usd"])
    b = _fc.base(np.where(ok, est["requests_per_month"], np.nan), nums["peak_to_average"], nums["redundancy"],
                 est["capacity_requests_per_month"], est["deployment_usd_per_month"], est["token_cost_usd"],
                 est["infra_cost_usd"], q["is_api"], q["hosted"], q["owned"], _yes(options.get("capex_upfront"), n),
                 nums["cost_of_capital"], q["price_given"], q["capex"], q["own_capital"], est["gpus"], api_request,
                 q["hours"], q["scaled"], nums["peak_hours_per_day"])
    h = _fc.Horizon(months=nums["horizon_months"], growth=nums["growth_per_month"],
                    api_change=nums["api_price_change_per_year"], gpu_change=nums["gpu_price_change_per_year"],
                    discount=nums["discount_rate"])
    kept: dict[str, list] = {}

    def let(name, month, value):
        if series and month is not None:
            kept.setdefault(name, []).append(np.broadcast_to(value, (n,)))
        return value

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t = _fc.forecast(b, h, let, MAX_HORIZON_MONTHS)
    out = {key: np.where(ok, np.broadcast_to(value, (n,)), np.nan) for key, value in zip(
        HORIZON_KEYS, (t.total, t.total_api, t.npv, t.npv_api, t.crossover))}
    if series:
        for key, name in (("requests_per_month", "requests"), ("replicas", "replicas"), ("monthly_usd", "quoted"),
                          ("monthly_api_usd", "api"), ("cumulative_usd", "cum_quoted"),
                          ("cumulative_api_usd", "cum_api")):
            out[key] = np.where(ok[:, None], np.stack(kept[name], axis=1), np.nan)
    out["error"] = error
    return out


def horizon_totals(result: dict[str, np.ndarray]) -> dict[str, Any]:
    """The quote's totals of a ``horizon_many(..., series=True)`` result, as its Forecast sheet shows
    them: the sums of ``HORIZON_KEYS`` but the crossover, each month's sums over the scenarios whose
    horizon covers it (NaN past the longest; a cumulative sum counts a shorter horizon's total), and the
    crossover month of the cumulative sums."""
    from . import forecast as _fc

    counted = ~np.isnan(result["npv_usd"])
    out: dict[str, Any] = {k: float(np.sum(np.where(counted, result[k], 0.0))) for k in HORIZON_KEYS[:-1]}
    months = result["monthly_usd"].shape[1]
    longest = np.max(np.where(counted, np.sum(~np.isnan(result["monthly_usd"]), axis=1), 0), initial=0)
    for key in ("monthly_usd", "monthly_api_usd", "cumulative_usd", "cumulative_api_usd"):
        sums = np.nansum(np.where(counted[:, None], result[key], np.nan), axis=0)
        out[key] = _fc.month_total(np.arange(1, months + 1), longest, sums)
    out["crossover_month"] = float(_fc.crossover_of(list(out["cumulative_usd"]), list(out["cumulative_api_usd"])))
    return out


def sensitivity_many(model: Any, hardware: Any = None, *, share: float = defaults.DEFAULT_SENSITIVITY_SHARE,
                     catalog: Catalog | Iterable[str] | None = None, quote_date: Any = None,
                     **options: Any) -> dict[str, np.ndarray]:
    """Each scenario's monthly cost with each driver of :data:`~llmcalc_xl.core.forecast.DRIVERS`
    moved down and up by ``share``: ``base_usd`` (the estimate's monthly cost) and
    ``<driver>_down_usd`` / ``<driver>_up_usd``, with ``error``. How each driver acts:
    :func:`llmcalc_xl.core.forecast.sensitivity`."""
    from . import forecast as _fc

    if not (isinstance(share, (int, float)) and 0 < share < 1):
        raise InvalidValueError(f"share must be above 0 and below 1, got {share!r}. Give 0.2 for 20%.")
    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog or ())
    est, nums, q = _scenarios(model, hardware, cat, quote_date, options)
    n = len(est["error"])
    hours = q["hours"]
    parts = dict(
        own_power=_cost.power_usd_per_hour(np.asarray(est["power_w_per_gpu"], dtype=float),
                                           *_option_numbers(options, n, ("pue", "electricity_usd_per_kwh")).values()),
        own_maintenance=_cost.maintenance_usd_per_hour(q["capex"], _option_numbers(
            options, n, ("maintenance_share_per_year",))["maintenance_share_per_year"], hours))
    ok = np.equal(est["error"], NONE) & ~np.isnan(est["monthly_cost_usd"])
    b = _fc.SensitivityBase(
        requests=np.where(ok, est["requests_per_month"], np.nan), peak_ratio=nums["peak_to_average"], spares=nums["redundancy"],
        capacity=est["capacity_requests_per_month"], deployment=est["deployment_usd_per_month"],
        token_cost=est["token_cost_usd"], infra=est["infra_cost_usd"], is_api=q["is_api"], hosted=q["hosted"],
        util=est["utilization"], gpus=est["gpus"], owned_parts=q["owned"] & ~q["price_given"],
        own_capital=q["own_capital"], capex=q["capex"], years=nums["depreciation_years"],
        residual=nums["residual_share"], rate=nums["cost_of_capital"], hours_per_month=hours, scaled=q["scaled"],
        peak_hours=nums["peak_hours_per_day"], **parts)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        moved = _fc.sensitivity(b, share)
    out = {f"{key}_usd": np.where(ok, np.broadcast_to(value, (n,)), np.nan) for key, value in moved.items()}
    out["error"] = est["error"]
    return out


def sensitivity_total(result: dict[str, np.ndarray]) -> dict[str, float]:
    """The quote's total of each ``sensitivity_many`` column: the sum over the scenarios that have a
    monthly cost (those the quote's totals count)."""
    counted = ~np.isnan(result["base_usd"])
    return {key: float(np.sum(np.where(counted, values, 0.0))) for key, values in result.items() if key != "error"}


#: The options of owned hardware's GPU-hour (``owned_gpu_hour_many``).
OWNING_OPTIONS = ("capex_usd_per_gpu", "depreciation_years", "residual_share", "cost_of_capital", "power_w_per_gpu",
                  "pue", "electricity_usd_per_kwh", "hosting_usd_per_kw_month", "maintenance_share_per_year")


def owned_gpu_hour_many(hardware: Any = None, *, catalog: Catalog | Iterable[str] | None = None,
                        **options: Any) -> dict[str, np.ndarray]:
    """USD per GPU-hour of hardware you own (``owned_usd_per_gpu_hour``, with ``error``): the catalog's
    purchase price and TDP where ``capex_usd_per_gpu`` and ``power_w_per_gpu`` are not given, and the
    defaults of the other options. Columns or single values, read as ``estimate_many`` reads them."""
    from .resolve import _positions, _take

    unknown = sorted(set(options) - set(OWNING_OPTIONS))
    if unknown:
        raise InvalidValueError(f"Unknown option '{unknown[0]}'. Options: {', '.join(OWNING_OPTIONS)}.")
    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog or ())
    n = column_length(dict(hardware=hardware, **options))
    errs = RowErrors(n)
    hw_pos = _positions(cat, "hardware", hardware, n, errs, "hardware", blank=-1)  # -1: none given
    table = cat.table("hardware")
    catalog_capex, catalog_power = _take(table.column("capex_usd_per_gpu"), hw_pos), _take(table.column("tdp_w"), hw_pos)
    nums = _option_numbers(options, n, OWNING_OPTIONS, errs)
    capex = np.where(np.isnan(nums["capex_usd_per_gpu"]), catalog_capex, nums["capex_usd_per_gpu"])
    power = np.where(np.isnan(nums["power_w_per_gpu"]), catalog_power, nums["power_w_per_gpu"])
    for value, option, what in ((capex, "capex_usd_per_gpu", "purchase price"), (power, "power_w_per_gpu", "power draw")):
        missing = np.isnan(value)
        if missing.any():
            errs.add(missing, f"{option} is needed: give it, or a hardware id whose catalog entry has a {what}")
    hourly = _cost.owned_usd_per_gpu_hour(capex, nums["depreciation_years"], nums["residual_share"],
                                          nums["cost_of_capital"], power, nums["pue"], nums["electricity_usd_per_kwh"],
                                          nums["hosting_usd_per_kw_month"], nums["maintenance_share_per_year"],
                                          defaults.ASSUMPTIONS.hours_per_month)
    return {"owned_usd_per_gpu_hour": np.where(np.equal(errs.messages, NONE), hourly, np.nan),
            "error": errs.messages}
