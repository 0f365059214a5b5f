"""The scenario options, declared once.

Every option a scenario takes (its name, unit, rule, default and help text) is one
:class:`Option` in :data:`OPTIONS`, in display order. Everything else is derived from it:
the core's checks and defaults (``estimate``), the command line's ``--kebab-case`` options,
the Excel functions' argument help, the quote's Scenarios columns and their "(empty: ...)"
notes, the CSV columns ``fill`` reads, the JSON keys and the README's option table
(``python -m llmcalc_xl.cli.readme`` rewrites it; a test checks it).

The default values themselves live in :mod:`.defaults`, next to their sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from . import defaults


@dataclass(frozen=True)
class Option:
    """One scenario option. ``name`` is snake_case with its unit (``latency_s``): the library
    keyword, the CSV column, the Excel argument and the JSON key; the command line spells it
    ``--latency-s``."""

    name: str
    kind: Literal["number", "text"]
    help: str                      # what it is, one phrase without unit or default
    header: str                    # the Scenarios column header of the quote
    unit: str = ""                 # "tokens", "s", "USD per GPU-hour", "0-1"; "" for text
    default: float | str | None = None  # what the core takes when the option is not given
    otherwise: str = ""            # in words, when not given, where that is not one value
    empty: str | None = None       # the header's "(empty: ...)" when it is not the default itself
    minimum: float | None = None   # the rule: value >= minimum
    above: float | None = None     # value > above
    maximum: float | None = None   # value <= maximum
    whole: bool = False            # a whole number
    advanced: bool = False         # an override (device, engine, owned hardware): right of the quote's results
    choices: tuple[str, ...] = ()  # a text option that takes one of these words (else: a catalog id)
    choice_fix: str = ""           # what the message for another word suggests
    free: bool = False             # a text option that is neither a catalog id nor a word of choices (provider)
    source: str = ""               # where the default comes from (the quote's Sources sheet)
    word: str = ""                 # a number option that also takes this word ("max"); its messages name it

    def __post_init__(self):
        if self.kind not in ("number", "text"):
            raise ValueError(f"Option {self.name}: kind must be 'number' or 'text', got {self.kind!r}")
        if self.kind == "text" and (self.minimum, self.above, self.maximum, self.whole) != (None, None, None, False):
            raise ValueError(f"Option {self.name}: a text option has no number rule")
        if self.kind == "number" and isinstance(self.default, str):
            raise ValueError(f"Option {self.name}: a number option's default must be a number or None")
        if self.kind == "number" and self.choices:
            raise ValueError(f"Option {self.name}: a number option has no choices")
        if self.free and (self.kind != "text" or self.choices):
            raise ValueError(f"Option {self.name}: only a text option without choices is free text")
        if self.word and self.kind != "number":
            raise ValueError(f"Option {self.name}: only a number option takes a word besides numbers")

    @property
    def flag(self) -> str:
        """The command-line option: ``--input-tokens``."""
        return "--" + self.name.replace("_", "-")

    @property
    def rule(self) -> dict[str, Any]:
        """The number rule as ``check_rule`` takes it (only the parts that are set)."""
        rule: dict[str, Any] = {k: getattr(self, k) for k in ("minimum", "above", "maximum")
                                if getattr(self, k) is not None}
        if self.whole:
            rule["whole"] = True
        return rule

    @property
    def rule_text(self) -> str:
        """The rule in words: ">= 0, whole"; "" for text options."""
        parts = []
        if self.minimum is not None:
            parts.append(f">= {self.minimum:g}")
        if self.above is not None:
            parts.append(f"> {self.above:g}")
        if self.maximum is not None:
            parts.append(f"<= {self.maximum:g}")
        if self.whole:
            parts.append("whole")
        return ", ".join(parts)

    @property
    def default_text(self) -> str:
        """What is taken when the option is not given, in words ("" when nothing is)."""
        if self.otherwise:
            return self.otherwise
        if isinstance(self.default, (int, float)):
            return f"{self.default:g}"
        return self.default or ""

    def help_text(self, word: str = "default") -> str:
        """The help line, with unit and default: "Prompt tokens per request (tokens; default: 1000)."
        The Excel functions say ``empty`` for ``default``."""
        notes = [self.unit] if self.unit else []
        if self.default_text:
            notes.append(f"{word}: {self.default_text}")
        return self.help + (f" ({'; '.join(notes)})" if notes else "") + "."

    @property
    def cell_empty(self) -> float | str | None:
        """What the quote's header says an empty cell means: the default number, a word, or None."""
        if self.empty is not None:
            return self.empty.format(default=self.default)
        return self.default if isinstance(self.default, (int, float)) else None


_TOKENS: dict[str, Any] = dict(kind="number", unit="tokens", minimum=0, whole=True)
_ENGINE: dict[str, Any] = dict(kind="number", otherwise="the engine's", empty="engine", advanced=True)
_DEVICE: dict[str, Any] = dict(kind="number", above=0, otherwise="the catalog's", empty="catalog", advanced=True)

#: Every scenario option, in display order (the quote's Scenarios columns, the command line's
#: help, the README table). The core checks them in this order: a row's first broken rule is
#: the one its message names.
OPTIONS: tuple[Option, ...] = (
    Option("model", "text", "Model id or name: open-weight (llama-3-8b, \"Llama 3 70B\") or API (gpt-4o)", "Model"),
    Option("hardware", "text", "Hardware id or name, e.g. h100-sxm, \"A100 80GB\", rtx-4090", "Hardware",
           otherwise="none; memory only, no GPU time"),
    Option("gpus", "number", "GPUs per deployment, or auto: the fewest that fit", "GPUs", unit="count",
           default=defaults.DEFAULT_GPUS, empty="{default:g}; auto: fewest that fit", minimum=1, whole=True),
    Option("precision", "text", "Weight precision: fp16, bf16, fp8, int8, int4, fp4, q4_k_m, q8_0, ...", "Precision",
           default=defaults.DEFAULT_PRECISION, empty="default"),
    Option("engine", "text", "Engine: vllm, sglang, tensorrt-llm, llama.cpp or transformers", "Engine",
           default=defaults.DEFAULT_ENGINE, otherwise="llama.cpp on Apple/CPU hardware or with GGUF weights, else vllm",
           empty="auto"),
    Option("input_tokens", help="Prompt tokens per request", header="Input tokens",
           default=defaults.DEFAULT_INPUT_TOKENS, **_TOKENS),
    Option("cached_input_tokens", help="Of the input tokens, those billed at the API's cache-read price",
           header="Cached input tokens", default=defaults.DEFAULT_CACHED_INPUT_TOKENS, **_TOKENS),
    Option("output_tokens", help="Generated tokens per request", header="Output tokens",
           default=defaults.DEFAULT_OUTPUT_TOKENS, **_TOKENS),
    Option("batch", "number", "Sequences served at once, or max: the largest batch that fits, capped by the "
           "engine's own maximum (its maximum throughput)", "Batch (sequences at once)", unit="sequences",
           default=defaults.DEFAULT_BATCH, empty="{default:g}; max: largest that fits", minimum=1, whole=True,
           word="max"),
    Option("requests_per_month", "number", "Requests a month, for the monthly cost", "Requests per month",
           unit="requests", minimum=0),
    Option("utilization", "number", "Share of time the GPUs do useful work", "Utilization 0-1", unit="0-1",
           default=defaults.DEFAULT_UTILIZATION, empty="default", above=0, maximum=1),
    Option("peak_to_average", "number", "Peak traffic over the month's average: replicas are sized for the peak",
           "Peak to average", unit="ratio", default=defaults.DEFAULT_PEAK_TO_AVERAGE, minimum=1),
    Option("redundancy", "number", "Spare replicas beyond those the peak needs (N+k)", "Spare replicas",
           unit="replicas", default=defaults.DEFAULT_REDUNDANCY, minimum=0, whole=True),
    Option("autoscale", "text", "Whether rented replicas follow the day's load: yes runs the peak's replicas for "
           "peak_hours_per_day hours and fewer the rest of the day, no keeps them up all day. Owned hardware and "
           "reserved capacity are paid for all day either way", "Autoscale", default=defaults.DEFAULT_AUTOSCALE, empty="no", choices=("yes", "no"),
           choice_fix="Write yes or no", advanced=True),
    Option("peak_hours_per_day", "number", "Hours a day at the peak, for autoscale: the other hours carry the rest "
           "of the day's traffic", "Peak hours a day", unit="hours a day",
           default=defaults.DEFAULT_PEAK_HOURS_PER_DAY, above=0, maximum=24, advanced=True,
           source="8: a working day, the quote's own assumption; give your traffic's"),
    Option("requests_per_s", "number", "Requests a second arriving at random at ONE deployment (replica): the rate "
           "view's concurrency, utilisation and mean, p90, p99 TTFT and TPOT with queueing (M/M/c, c = batch)", "Requests per second at one deployment",
           unit="requests/s", otherwise="none: no rate view", empty="none", minimum=0, advanced=True),
    Option("context_tokens", "number", "Context reserved per sequence", "Context tokens", unit="tokens",
           otherwise="input + output", empty="in + out", minimum=1, whole=True),
    Option("kv_precision", "text", "KV-cache precision", "KV precision", default=defaults.DEFAULT_KV_PRECISION,
           otherwise="the weights' float type, fp8 for a quantised FP8/FP4 checkpoint (vLLM, SGLang, TensorRT-LLM), else fp16",
           empty="auto"),
    Option("latency_s", "number", "Seconds a request takes", "Latency s", unit="s",
           otherwise="the estimate", empty="estimate", above=0),
    Option("price_per_hour", "number", "Price of a GPU-hour, whatever the pricing", "USD per GPU-hour",
           unit="USD per GPU-hour", otherwise="by pricing: the catalog's rental price, or the owned cost",
           empty="by pricing", minimum=0),
    Option("pricing", "text", "How a GPU-hour is priced: on-demand, reserved-1y, reserved-3y or spot (the catalog's "
           "published rental prices) or owned (purchase, power and upkeep)", "Pricing", default=defaults.DEFAULT_PRICING,
           otherwise="on-demand; owned for hardware with no rental price whose purchase price and power are known",
           empty="auto", choices=("on-demand", "reserved-1y", "reserved-3y", "spot", "owned"),
           choice_fix="reserved-1y and reserved-3y are 1- and 3-year commitments; owned prices hardware you buy"),
    Option("provider", "text", "Whose published price of the pricing's tier to take (`llmcalc-xl catalog prices` "
           "lists them)", "Provider", otherwise="the tier's default in the catalog", empty="default", free=True),
    # the parallel layout: gpus = tp x dp, the routed experts spread over all gpus in ep groups
    Option("tp", "number", "Tensor-parallel GPUs of each attention rank: each splits every layer's attention "
           "and dense weights", "Tensor parallel (tp)", unit="GPUs", otherwise="gpus / dp", empty="gpus / dp",
           minimum=1, whole=True, advanced=True),
    Option("dp", "number", "Attention data-parallel ranks (SGLang --dp, TensorRT-LLM attention DP): each holds "
           "its own copy of the attention and dense weights and the KV cache of its own sequences",
           "Attention data parallel (dp)", unit="ranks", otherwise="1", empty="1", minimum=1, whole=True,
           advanced=True),
    Option("ep", "number", "Expert-parallel degree: the routed experts are split over ep GPU groups, their tokens "
           "sent and gathered by an all-to-all each MoE layer; 1 splits every expert by tensor parallelism",
           "Expert parallel (ep)", unit="GPUs", otherwise="1", empty="1", minimum=1, whole=True, advanced=True),
    # device overrides; all three without a hardware id describe a device not in the catalog
    Option("memory_gib", help="Device memory; with bandwidth_gb_s and tflops and no hardware, a device not in the "
           "catalog", header="Memory GiB per GPU", unit="GiB per GPU", **_DEVICE),
    Option("bandwidth_gb_s", help="Device memory bandwidth", header="Bandwidth GB/s", unit="GB/s", **_DEVICE),
    Option("tflops", help="Device dense 16-bit compute", header="Dense TFLOPS", unit="TFLOPS", **_DEVICE),
    # owned hardware (pricing "owned"): what a GPU-hour you own costs
    Option("capex_usd_per_gpu", help="Purchase price per GPU, all-in: the GPU and its share of the server, network "
           "and installation", header="Capex USD per GPU", unit="USD per GPU", otherwise="the catalog's",
           empty="catalog", minimum=0, advanced=True, kind="number"),
    Option("depreciation_years", help="Years the purchase is written off over", header="Depreciation years",
           unit="years", default=defaults.DEFAULT_DEPRECIATION_YEARS, above=0, advanced=True, kind="number",
           source="4 years: the servers' useful life in Microsoft's and Alphabet's 2021 filings; 5-6 years since"),
    Option("residual_share", help="Share of the purchase price recovered at the end (resale value)",
           header="Residual share 0-1", unit="0-1", default=defaults.DEFAULT_RESIDUAL_SHARE, minimum=0, maximum=1,
           advanced=True, kind="number", source="No resale value counted unless given (as US tax depreciation, MACRS)"),
    Option("cost_of_capital", help="Annual cost of the money tied up: 0 writes the purchase off in a straight "
           "line, above 0 as an annuity", header="Cost of capital a year", unit="share a year",
           default=defaults.DEFAULT_COST_OF_CAPITAL, minimum=0, advanced=True, kind="number",
           source="0: straight-line depreciation, as the books carry servers; give your WACC for an annuity"),
    Option("power_w_per_gpu", help="Average power a GPU draws, with its share of the server's", header="Power W per GPU",
           unit="W per GPU", otherwise="the catalog's TDP", empty="catalog TDP", minimum=0, advanced=True,
           kind="number"),
    Option("pue", help="Power usage effectiveness: the site's power over the IT power", header="PUE", unit="ratio",
           default=defaults.DEFAULT_PUE, minimum=1, advanced=True, kind="number",
           source="Uptime Institute Global Data Center Survey 2024: average annual PUE 1.56"),
    Option("electricity_usd_per_kwh", help="Price of electricity", header="Electricity USD per kWh",
           unit="USD per kWh", default=defaults.DEFAULT_ELECTRICITY_USD_PER_KWH, minimum=0, advanced=True,
           kind="number", source="US EIA, Electric Power Annual 2023: commercial average 12.59 cents per kWh"),
    Option("hosting_usd_per_kw_month", help="Colocation price per kW of IT power a month",
           header="Hosting USD per kW-month", unit="USD per kW-month", default=defaults.DEFAULT_HOSTING_USD_PER_KW_MONTH,
           minimum=0, advanced=True, kind="number",
           source="Not counted unless given: own premises pay power and cooling through PUE x electricity"),
    Option("maintenance_share_per_year", help="Maintenance and support a year, as a share of the purchase price",
           header="Maintenance share a year", unit="share a year", default=defaults.DEFAULT_MAINTENANCE_SHARE_PER_YEAR,
           minimum=0, advanced=True, kind="number", source="Not counted unless given"),
    # over time: the horizon forecast (NPV, crossover month; the quote's Forecast sheet)
    Option("horizon_months", "number", "Months the forecast covers", "Horizon months", unit="months",
           default=defaults.DEFAULT_HORIZON_MONTHS, minimum=1, maximum=defaults.MAX_HORIZON_MONTHS, whole=True,
           advanced=True, source="3 years: the longer term the clouds reserve capacity for (AWS, Azure: 1 or 3 years)"),
    Option("growth_per_month", "number", "Traffic growth a month, compounded (0.05: 5% more each month)",
           "Growth a month", unit="share a month", default=defaults.DEFAULT_GROWTH_PER_MONTH, above=-1,
           advanced=True, source="0: no change unless given (the quote's own assumption)"),
    Option("api_price_change_per_year", "number", "Change of API token prices a year, compounded monthly "
           "(-0.3: 30% cheaper a year)", "API price change a year", unit="share a year",
           default=defaults.DEFAULT_API_PRICE_CHANGE_PER_YEAR, above=-1, advanced=True,
           source="0: no change unless given; published falls vary too much by model for one default"),
    Option("gpu_price_change_per_year", "number", "Change of rented GPU-hour prices a year, compounded monthly",
           "GPU price change a year", unit="share a year", default=defaults.DEFAULT_GPU_PRICE_CHANGE_PER_YEAR,
           above=-1, advanced=True, source="0: no change unless given"),
    Option("discount_rate", "number", "Annual rate the net present value discounts each month's cost at",
           "Discount rate a year", unit="share a year", default=defaults.DEFAULT_DISCOUNT_RATE, minimum=0,
           advanced=True, source="0: the NPV is the plain sum unless a rate (your WACC) is given"),
    Option("capex_upfront", "text", "Owned hardware pays its purchase when bought (yes), not spread as its GPU-hour "
           "(no); only with cost_of_capital 0", "Capex up front", default=defaults.DEFAULT_CAPEX_UPFRONT,
           empty="no", choices=("yes", "no"), choice_fix="Write yes or no", advanced=True),
    # engine overrides, for fitting the estimate to a measurement
    Option("memory_fraction", help="Share of device memory the engine may use", header="Memory fraction",
           unit="0-1", above=0, maximum=1, **_ENGINE),
    Option("overhead_gib", help="Engine memory overhead", header="Engine overhead GiB per GPU", unit="GiB per GPU",
           minimum=0, **_ENGINE),
    Option("prefill_mfu", help="Prefill share of peak FLOP/s", header="Prefill MFU", unit="0-1", above=0, maximum=1,
           **_ENGINE),
    Option("decode_mfu", help="Decode share of peak FLOP/s", header="Decode MFU", unit="0-1", above=0, maximum=1,
           **_ENGINE),
    Option("decode_mbu", help="Decode share of peak memory bandwidth", header="Decode MBU", unit="0-1", above=0,
           maximum=1, **_ENGINE),
    Option("prefill_overhead_s", help="Fixed time per prefill", header="Prefill fixed s", unit="s", minimum=0,
           **_ENGINE),
    Option("decode_step_overhead_s", help="Fixed time per decode step", header="Decode step fixed s", unit="s",
           minimum=0, **_ENGINE),
)

#: Each option by name.
BY_NAME: dict[str, Option] = {o.name: o for o in OPTIONS}
#: Text options, in display order: those matched against the catalogs, and those with choices.
TEXT_OPTIONS: tuple[str, ...] = tuple(o.name for o in OPTIONS if o.kind == "text")
#: Text options matched against the catalogs (ids and aliases), in display order.
CATALOG_OPTIONS: tuple[str, ...] = tuple(o.name for o in OPTIONS if o.kind == "text" and not o.choices and not o.free)
#: Text options that take one of a few words: name -> the words.
CHOICE_OPTIONS: dict[str, tuple[str, ...]] = {o.name: o.choices for o in OPTIONS if o.choices}
#: Numeric options: name -> rule and default, as ``check_rule`` takes them (plus ``default``).
NUMBER_OPTIONS: dict[str, dict[str, Any]] = {o.name: dict(o.rule, default=o.default)
                                            for o in OPTIONS if o.kind == "number"}
#: Number options that also take a word: name -> the word ("max" for batch).
WORD_OPTIONS: dict[str, str] = {o.name: o.word for o in OPTIONS if o.word}
#: Every option name, in display order.
OPTION_NAMES: tuple[str, ...] = tuple(o.name for o in OPTIONS)

