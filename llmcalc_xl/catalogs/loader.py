"""Catalogs: models, API models, hardware, engines and precisions.

The catalogs are TOML files shipped inside the package (``llmcalc_xl/catalogs``).
Each file starts with a comment header documenting every field and its unit; every
entry carries ``source`` and ``as_of``. A user adds or overrides entries with a file
of the same format (``--catalog PATH``, or the ``LLMCALC_XL_CATALOG`` environment
variable, several paths joined with ``os.pathsep``). A user entry whose id already
exists replaces the fields it gives; each group of numbers it sets (an entry's specs,
price or speed figures, ``FIELD_GROUPS``) needs that group's own source and date, and
the groups it leaves alone keep theirs.

Loaded lazily, once per set of files, into frozen dataclasses that validate
themselves: unknown fields, missing fields, duplicate ids or aliases and impossible
values are load errors naming the file, the entry and the field.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import os
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..errors import CatalogError, UnknownIdError

ENV_VAR = "LLMCALC_XL_CATALOG"
SHIPPED_FILES = ("models.toml", "api_models.toml", "hardware.toml", "engines.toml", "precisions.toml")
KINDS = ("models", "api_models", "hardware", "engines", "precisions", "calibrations")

# --- entry types -------------------------------------------------------------------
# Field metadata: "min" (inclusive lower bound), "gt" (strict lower bound), "choices".


def _f(default: Any = dataclasses.MISSING, **meta: Any) -> Any:
    if default is dataclasses.MISSING:
        return field(metadata=meta)
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Model:
    """An open-weight model: the architecture numbers the formulas need."""

    id: str
    name: str
    params_b: float = _f(gt=0)
    active_params_b: float = _f(gt=0)
    layers: int = _f(gt=0)
    hidden_size: int = _f(gt=0)
    heads: int = _f(gt=0)
    kv_heads: int = _f(gt=0)
    head_dim: int = _f(gt=0)
    vocab_size: int = _f(gt=0)
    context_length: int = _f(gt=0)
    source: str = _f()
    as_of: str = _f()
    aliases: tuple = _f(())
    family: str = _f("")
    intermediate_size: int = _f(0, min=0)
    tie_embeddings: bool = _f(False)
    experts: int = _f(0, min=0)
    experts_per_token: int = _f(0, min=0)
    shared_experts: int = _f(0, min=0)
    attention: str = _f("gqa", choices=("mha", "gqa", "mla"))
    sliding_window: int = _f(0, min=0)
    sliding_window_layers: int = _f(0, min=0)
    kv_lora_rank: int = _f(0, min=0)
    qk_rope_head_dim: int = _f(0, min=0)
    # attention kinds beyond full, sliding-window and MLA (0: none)
    chunked_attention_layers: int = _f(0, min=0)
    attention_chunk_tokens: int = _f(0, min=0)
    linear_attention_layers: int = _f(0, min=0)
    linear_state_elements: int = _f(0, min=0)
    mlp_only_layers: int = _f(0, min=0)
    sparse_attention_top_k: int = _f(0, min=0)
    indexer_heads: int = _f(0, min=0)
    indexer_head_dim: int = _f(0, min=0)
    # compressed attention (DeepSeek V4): layers that also hold one KV entry per so many tokens
    compressed_attention_layers: int = _f(0, min=0)
    kv_compression_tokens: int = _f(0, min=0)
    heavily_compressed_layers: int = _f(0, min=0)
    heavy_compression_tokens: int = _f(0, min=0)
    # KV heads and head dim of the full-attention layers where they differ from the others (0: the same)
    global_kv_heads: int = _f(0, min=0)
    global_head_dim: int = _f(0, min=0)
    # parameters of the attention blocks, billions: what a scope "all-but-attention" keeps at 16 bits
    attention_params_b: float = _f(0.0, min=0)
    native_precision: str = _f("")
    native_precision_source: str = _f("")
    native_precision_scope: str = _f("", choices=("", "all", "experts", "all-but-attention"))
    checkpoints: dict = _f({}, mapping=True)
    checkpoint_scopes: dict = _f({}, mapping=True)
    notes: str = _f("")

    kind = "open"

    def check(self) -> None:
        if self.active_params_b > self.params_b * (1 + 1e-9):
            raise ValueError("active_params_b must be <= params_b")
        if self.kv_heads > self.heads:
            raise ValueError("kv_heads must be <= heads")
        if self.experts_per_token > self.experts:
            raise ValueError("experts_per_token must be <= experts")
        special = (self.sliding_window_layers + self.chunked_attention_layers + self.linear_attention_layers
                   + self.mlp_only_layers)
        if special > self.layers:
            raise ValueError(f"sliding_window_layers + chunked_attention_layers + linear_attention_layers + "
                             f"mlp_only_layers ({special}) must be <= layers ({self.layers})")
        if (self.chunked_attention_layers > 0) != (self.attention_chunk_tokens > 0):
            raise ValueError("chunked_attention_layers and attention_chunk_tokens go together")
        if (self.compressed_attention_layers > 0) != (self.kv_compression_tokens > 0):
            raise ValueError("compressed_attention_layers and kv_compression_tokens go together")
        if (self.heavily_compressed_layers > 0) != (self.heavy_compression_tokens > 0):
            raise ValueError("heavily_compressed_layers and heavy_compression_tokens go together")
        if self.compressed_attention_layers + self.heavily_compressed_layers > self.sliding_window_layers:
            raise ValueError(f"compressed_attention_layers + heavily_compressed_layers "
                             f"({self.compressed_attention_layers + self.heavily_compressed_layers}) must be <= "
                             f"sliding_window_layers ({self.sliding_window_layers}): each keeps a window too")
        if (self.linear_attention_layers > 0) != (self.linear_state_elements > 0):
            raise ValueError("linear_attention_layers and linear_state_elements go together")
        if self.native_precision and not self.native_precision_source:
            raise ValueError("native_precision needs native_precision_source (where the model says how it ships)")
        if self.native_precision_scope == "experts" and not (self.native_precision and self.experts > 0):
            raise ValueError("native_precision_scope 'experts' needs a native_precision and routed experts "
                             "(experts > 0). Leave native_precision_scope out, or set both")
        if self.native_precision_scope == "all-but-attention" and not (self.native_precision
                                                                       and self.attention_params_b > 0):
            raise ValueError("native_precision_scope 'all-but-attention' needs a native_precision and "
                             "attention_params_b > 0 (the attention blocks' parameters, billions). Set both, or "
                             "leave native_precision_scope out")
        if self.attention_params_b >= self.params_b:
            raise ValueError(f"attention_params_b ({self.attention_params_b}) must be < params_b ({self.params_b})")
        for repo, scope in self.checkpoint_scopes.items():
            if repo not in self.checkpoints:
                raise ValueError(f"checkpoint_scopes names '{repo}', which is not one of checkpoints. Add it to "
                                 "checkpoints with the precision it implies, or remove it from checkpoint_scopes")
            if scope not in ("all", "experts", "all-but-attention"):
                raise ValueError(f"checkpoint_scopes['{repo}'] '{scope}' is not a scope. Use \"all\" (every linear "
                                 "layer), \"experts\" (the routed MoE experts only) or \"all-but-attention\" "
                                 "(every linear layer but the attention blocks)")
            if scope == "experts" and self.experts <= 0:
                raise ValueError(f"checkpoint_scopes['{repo}'] 'experts' needs routed experts (experts > 0). Use "
                                 "\"all\", or set experts")
            if scope == "all-but-attention" and self.attention_params_b <= 0:
                raise ValueError(f"checkpoint_scopes['{repo}'] 'all-but-attention' needs attention_params_b > 0 "
                                 "(the attention blocks' parameters, billions). Set it, or use \"all\"")
        if self.attention == "mla" and self.kv_lora_rank <= 0:
            raise ValueError("attention 'mla' needs kv_lora_rank > 0")
        if self.experts == 0 and abs(self.active_params_b - self.params_b) > 1e-9 * self.params_b:
            raise ValueError("a dense model (experts = 0) must have active_params_b == params_b")
        if self.experts > 0 and self.experts_per_token < 1:
            raise ValueError("an MoE model (experts > 0) needs experts_per_token >= 1")
        # every token passes through the embedding and the output layer: they are part of the active
        # parameters, or vocab_size or hidden_size is off (the rest would be negative)
        table_b = self.vocab_size * self.hidden_size * (1 if self.tie_embeddings else 2) / 1e9
        if table_b >= self.active_params_b:
            raise ValueError(f"vocab_size x hidden_size ({self.vocab_size:,} x {self.hidden_size:,}: {table_b:,.4g} "
                             f"billion parameters in the embedding{'' if self.tie_embeddings else ' and output'} "
                             f"layers) must be less than active_params_b ({self.active_params_b:g})")
        if self.experts > 0 and self.experts_per_token < self.experts:
            routed_b = (self.params_b - self.active_params_b) / (1 - self.experts_per_token / self.experts)
            if routed_b > self.params_b:
                raise ValueError(f"params_b, active_params_b, experts and experts_per_token imply {routed_b:,.4g} "
                                 f"billion parameters in routed experts, more than params_b ({self.params_b:g}); "
                                 "check those four numbers")


#: Price fields an API price may give besides input and output (USD per 1,000,000 tokens), in the
#: entry itself and in each period of its schedule. Pairs and the long-context group go together.
PRICE_EXTRAS = ("cached_input_usd_per_mtok", "cache_write_usd_per_mtok", "batch_input_usd_per_mtok",
                "batch_output_usd_per_mtok", "long_context_threshold_tokens", "long_input_usd_per_mtok",
                "long_cached_input_usd_per_mtok", "long_output_usd_per_mtok", "priority_input_usd_per_mtok",
                "priority_output_usd_per_mtok")
PRICE_FIELDS = ("input_usd_per_mtok", "output_usd_per_mtok") + PRICE_EXTRAS


def _check_prices(price: Any) -> None:
    """What no single price field can say: pairs given together, a long-context tier complete."""
    for a, b in (("batch_input_usd_per_mtok", "batch_output_usd_per_mtok"),
                 ("priority_input_usd_per_mtok", "priority_output_usd_per_mtok")):
        if (getattr(price, a) is None) != (getattr(price, b) is None):
            raise ValueError(f"{a} and {b} go together: give both, or neither")
    tier = [n for n in ("long_input_usd_per_mtok", "long_cached_input_usd_per_mtok", "long_output_usd_per_mtok")
            if getattr(price, n) is not None]
    if price.long_context_threshold_tokens is None and tier:
        raise ValueError(f"{tier[0]} needs long_context_threshold_tokens (the prompt length in tokens above "
                         "which the long-context prices apply)")
    if price.long_context_threshold_tokens is not None:
        for n in ("long_input_usd_per_mtok", "long_output_usd_per_mtok"):
            if getattr(price, n) is None:
                raise ValueError(f"long_context_threshold_tokens needs {n} (the price above the threshold)")


def as_date(value: str) -> _dt.date:
    """A catalog date (YYYY-MM-DD, or YYYY-MM for the first of the month) as a date."""
    return _day(value)


def _day(value: str) -> _dt.date:
    """An ISO date (YYYY-MM-DD, or YYYY-MM for the first of the month) as a date."""
    parts = [int(p) for p in value.split("-")] + [1]
    return _dt.date(parts[0], parts[1], parts[2])


@dataclass(frozen=True)
class PricePeriod:
    """One period of an API model's price schedule (a ``[[api_models.prices]]`` table): the prices that
    apply from ``effective_from`` through ``effective_until`` (ISO dates, both days included; an empty
    one leaves that end open)."""

    input_usd_per_mtok: float = _f(min=0)
    output_usd_per_mtok: float = _f(min=0)
    effective_from: str = _f("")
    effective_until: str = _f("")
    cached_input_usd_per_mtok: float | None = _f(None, min=0)
    cache_write_usd_per_mtok: float | None = _f(None, min=0)
    batch_input_usd_per_mtok: float | None = _f(None, min=0)
    batch_output_usd_per_mtok: float | None = _f(None, min=0)
    long_context_threshold_tokens: int | None = _f(None, gt=0)
    long_input_usd_per_mtok: float | None = _f(None, min=0)
    long_cached_input_usd_per_mtok: float | None = _f(None, min=0)
    long_output_usd_per_mtok: float | None = _f(None, min=0)
    priority_input_usd_per_mtok: float | None = _f(None, min=0)
    priority_output_usd_per_mtok: float | None = _f(None, min=0)
    source: str = _f("")

    def check(self) -> None:
        if not (self.effective_from or self.effective_until):
            raise ValueError("needs effective_from or effective_until (or both): the days this price applies")
        for name in ("effective_from", "effective_until"):
            if getattr(self, name):
                _check_date(getattr(self, name), name)
        if self.effective_from and self.effective_until and _day(self.effective_until) < _day(self.effective_from):
            raise ValueError(f"effective_until ({self.effective_until}) is before effective_from "
                             f"({self.effective_from})")
        _check_prices(self)

    def bounds(self) -> tuple[_dt.date, _dt.date]:
        """First and last day the period covers (date.min / date.max for an open end)."""
        return (_day(self.effective_from) if self.effective_from else _dt.date.min,
                _day(self.effective_until) if self.effective_until else _dt.date.max)

    def covers(self, day: _dt.date) -> bool:
        first, last = self.bounds()
        return first <= day <= last

    def span(self) -> str:
        return f"{self.effective_from or 'open'} to {self.effective_until or 'open'}"

    def describe(self) -> str:
        """One line for a cell or a listing: the days, then every price given."""
        prices = ", ".join(f"{n.replace('_usd_per_mtok', '')} {getattr(self, n):g}" for n in PRICE_FIELDS
                           if getattr(self, n) is not None)
        return f"{self.span()}: {prices}"


@dataclass(frozen=True)
class ApiModel:
    """A model sold per token through an API.

    The top-level prices are the price in force on ``as_of``; ``prices`` holds the other periods of
    a published schedule (an introductory price that ends, an announced rise). Only a period that ends
    may cover ``as_of``: an introductory price read on ``as_of`` together with the standing price that
    follows it, which is then the top-level price (published in advance).
    """

    id: str
    name: str
    provider: str
    input_usd_per_mtok: float = _f(min=0)
    output_usd_per_mtok: float = _f(min=0)
    source: str = _f()
    as_of: str = _f()
    aliases: tuple = _f(())
    cached_input_usd_per_mtok: float | None = _f(None, min=0)
    context_length: int | None = _f(None, gt=0)
    ttft_s: float | None = _f(None, gt=0)
    output_tokens_per_s: float | None = _f(None, gt=0)
    speed_source: str = _f("")
    speed_as_of: str = _f("")
    notes: str = _f("")
    cache_write_usd_per_mtok: float | None = _f(None, min=0)
    batch_input_usd_per_mtok: float | None = _f(None, min=0)
    batch_output_usd_per_mtok: float | None = _f(None, min=0)
    long_context_threshold_tokens: int | None = _f(None, gt=0)
    long_input_usd_per_mtok: float | None = _f(None, min=0)
    long_cached_input_usd_per_mtok: float | None = _f(None, min=0)
    long_output_usd_per_mtok: float | None = _f(None, min=0)
    priority_input_usd_per_mtok: float | None = _f(None, min=0)
    priority_output_usd_per_mtok: float | None = _f(None, min=0)
    released: str = _f("")
    deprecated: str = _f("")
    retires: str = _f("")
    successor: str = _f("")
    prices: tuple = _f((), table=PricePeriod)
    # where the specs (context length, lifecycle dates, successor) come from, when not from `source`
    specs_source: str = _f("")
    specs_as_of: str = _f("")

    kind = "api"

    def check(self) -> None:
        if (self.ttft_s is not None or self.output_tokens_per_s is not None) and not self.speed_source:
            raise ValueError("ttft_s/output_tokens_per_s need speed_source and speed_as_of")
        for name in ("speed_as_of", "specs_as_of"):
            if getattr(self, name):
                _check_date(getattr(self, name), name)
        _check_prices(self)
        dates = [(n, getattr(self, n)) for n in ("released", "deprecated", "retires") if getattr(self, n)]
        for name, value in dates:
            _check_date(value, name)
        for (a, va), (b, vb) in zip(dates, dates[1:]):
            if _day(vb) < _day(va):
                raise ValueError(f"{b} ({vb}) is before {a} ({va}); the order is released, deprecated, retires")
        if self.successor and self.successor == self.id:
            raise ValueError(f"successor '{self.successor}' is this model itself. Name the model that replaces it")
        as_of = _day(self.as_of)
        for n, period in enumerate(self.prices, start=1):
            # a period that ends may cover as_of: an introductory price, read on as_of with the standing price
            # that follows it (the top-level one); an open-ended one would make the top-level price one that
            # ended before the day it was read
            if period.covers(as_of) and not period.effective_until:
                raise ValueError(f"prices[{n}] ({period.span()}) covers as_of {self.as_of} and has no end: the "
                                 "top-level prices are the price on as_of, or the standing price that follows an "
                                 "introductory period, so an open-ended period may not cover that day. Move its "
                                 "dates, give its effective_until, or make it the top-level price")
            for m, other in enumerate(self.prices[:n - 1], start=1):
                (a0, a1), (b0, b1) = period.bounds(), other.bounds()
                if a0 <= b1 and b0 <= a1:
                    raise ValueError(f"prices[{m}] ({other.span()}) and prices[{n}] ({period.span()}) overlap; "
                                     "each day has one price")

    def price_on(self, day: _dt.date | str) -> PricePeriod:
        """The price in force on ``day``: the schedule period that covers it, else the top-level price."""
        if isinstance(day, str):
            _check_date(day, "day")
            day = _day(day)
        for period in self.prices:
            if period.covers(day):
                return period
        return PricePeriod(**{n: getattr(self, n) for n in PRICE_FIELDS})


#: The tiers of a published price of GPU time, in the order a listing shows them.
TIERS = ("on-demand", "reserved-1y", "reserved-3y", "spot")
#: Each tier's default price as a catalog column (the Hardware sheet, ``EntryTable.column``): the
#: on-demand one is ``price_usd_per_hour``, as before tiers existed.
TIER_FIELDS = {"on-demand": "price_usd_per_hour", "reserved-1y": "price_reserved_1y_usd_per_hour",
               "reserved-3y": "price_reserved_3y_usd_per_hour", "spot": "price_spot_usd_per_hour"}


@dataclass(frozen=True)
class HardwarePrice:
    """One published price of GPU time (a ``[[hardware.prices]]`` table): who charges it, in which
    tier, in USD per GPU-hour. A price per instance is divided by the GPUs in it, and the entry says
    so: ``instance_usd_per_hour`` / ``gpus_per_instance`` = ``usd_per_gpu_hour``."""

    provider: str = _f()
    tier: str = _f(choices=TIERS)
    usd_per_gpu_hour: float = _f(min=0)
    source: str = _f()
    as_of: str = _f()
    default: bool = _f(False)
    instance: str = _f("")
    instance_usd_per_hour: float | None = _f(None, min=0)
    gpus_per_instance: int | None = _f(None, gt=0)
    notes: str = _f("")

    def check(self) -> None:
        if not self.provider.strip():
            raise ValueError("provider must name who charges the price, e.g. provider = \"AWS\"")
        if not self.source.strip():
            raise ValueError("source must say where the price is published (the provider's price page)")
        _check_date(self.as_of, "as_of")
        if (self.instance_usd_per_hour is None) != (self.gpus_per_instance is None):
            raise ValueError("instance_usd_per_hour and gpus_per_instance go together: a price per instance is "
                             "divided by the GPUs in it")
        if self.instance_usd_per_hour is not None and self.gpus_per_instance is not None:
            per_gpu = self.instance_usd_per_hour / self.gpus_per_instance
            if abs(per_gpu - self.usd_per_gpu_hour) > 0.00005 + 1e-9 * per_gpu:
                raise ValueError(f"usd_per_gpu_hour ({self.usd_per_gpu_hour:g}) must be instance_usd_per_hour / "
                                 f"gpus_per_instance ({self.instance_usd_per_hour:g} / {self.gpus_per_instance} = "
                                 f"{per_gpu:.6g})")

    def describe(self) -> str:
        """One line for a listing: provider, tier, price, and the instance it was divided from."""
        inst = (f" ({self.instance + ': ' if self.instance else ''}{self.instance_usd_per_hour:g} USD an hour / "
                f"{self.gpus_per_instance} GPUs)" if self.instance_usd_per_hour is not None else "")
        return f"{self.provider} {self.tier} {self.usd_per_gpu_hour:g} USD per GPU-hour{inst}, as of {self.as_of}"


def default_price(prices: Iterable[HardwarePrice], tier: str) -> HardwarePrice | None:
    """The price a quote takes for ``tier`` when no provider is named: the one marked default, else
    the tier's only price (None: none, or several and none marked)."""
    in_tier = [p for p in prices if p.tier == tier]
    marked = [p for p in in_tier if p.default]
    if marked:
        return marked[0]
    return in_tier[0] if len(in_tier) == 1 else None


@dataclass(frozen=True)
class Hardware:
    """A GPU, an Apple SoC or a CPU machine: one unit of what is priced per hour.

    ``prices`` lists the published prices of its time (provider, tier, USD per GPU-hour); the
    ``price_*`` fields are the default on-demand one (filled in from the list when loading)."""

    id: str
    name: str
    kind: str = _f(choices=("gpu", "apple", "cpu"))
    memory_gib: float = _f(gt=0)
    bandwidth_gb_s: float = _f(gt=0)
    source: str = _f()
    as_of: str = _f()
    aliases: tuple = _f(())
    vendor: str = _f("")
    tflops_fp32: float | None = _f(None, min=0)
    tflops_fp16: float | None = _f(None, min=0)
    tflops_bf16: float | None = _f(None, min=0)
    tflops_fp8: float | None = _f(None, min=0)
    tflops_int8: float | None = _f(None, min=0)
    tflops_fp4: float | None = _f(None, min=0)
    memory_fraction: float = _f(1.0, gt=0)
    interconnect: str = _f("")
    interconnect_gb_s: float | None = _f(None, gt=0)
    nvlink_domain_gpus: float | None = _f(None, gt=0)
    scale_out_gb_s: float | None = _f(None, gt=0)
    tdp_w: float | None = _f(None, gt=0)
    price_usd_per_hour: float | None = _f(None, min=0)
    price_provider: str = _f("")
    price_source: str = _f("")
    price_as_of: str = _f("")
    capex_usd_per_gpu: float | None = _f(None, min=0)
    capex_source: str = _f("")
    capex_as_of: str = _f("")
    prices: tuple = _f((), table=HardwarePrice)
    notes: str = _f("")

    def check(self) -> None:
        self._check_price_list()
        if self.memory_fraction > 1:
            raise ValueError("memory_fraction must be <= 1")
        if (self.price_usd_per_hour or 0) > 0 and not (self.price_source and self.price_as_of):
            raise ValueError("a price needs price_source and price_as_of")
        if self.price_as_of:
            _check_date(self.price_as_of, "price_as_of")
        if self.capex_usd_per_gpu is not None and not (self.capex_source and self.capex_as_of):
            raise ValueError("a purchase price (capex_usd_per_gpu) needs capex_source and capex_as_of")
        if self.capex_as_of:
            _check_date(self.capex_as_of, "capex_as_of")

    def _check_price_list(self) -> None:
        """One price per provider and tier; a default for each tier that has several."""
        seen: dict[tuple[str, str], int] = {}
        for n, p in enumerate(self.prices, start=1):
            key = (normalize(p.provider), p.tier)
            if key in seen:
                raise ValueError(f"prices[{n}] repeats provider '{p.provider}' and tier '{p.tier}' of prices[{seen[key]}]: "
                                 "keep one price per provider and tier")
            seen[key] = n
        for tier in TIERS:
            numbered = [(n, p) for n, p in enumerate(self.prices, start=1) if p.tier == tier]
            marked = [n for n, p in numbered if p.default]
            if len(marked) > 1:
                raise ValueError(f"prices[{marked[0]}] and prices[{marked[1]}] are both the default {tier} price: "
                                 "mark one default = true")
            if len(numbered) > 1 and not marked:
                listed = ", ".join(f"prices[{n}]" for n, _ in numbered)
                raise ValueError(f"the {tier} tier has {len(numbered)} prices ({listed}) and none is default = true: "
                                 "mark the one a quote takes when no provider is named")

    def price(self, tier: str, provider: str | None = None) -> HardwarePrice | None:
        """The published price of ``tier``: the provider's (matched as names are), else the tier's default."""
        if provider is None:
            return default_price(self.prices, tier)
        return next((p for p in self.prices if p.tier == tier and normalize(p.provider) == normalize(provider)), None)

    def providers(self) -> list[str]:
        """The providers of the published prices, in catalog order, each once."""
        return list(dict.fromkeys(p.provider for p in self.prices if p.provider))

    def _tier_usd(self, tier: str) -> float | None:
        found = default_price(self.prices, tier)
        return None if found is None else found.usd_per_gpu_hour

    @property
    def price_reserved_1y_usd_per_hour(self) -> float | None:
        """The default reserved-1y price, USD per GPU-hour (None: none published)."""
        return self._tier_usd("reserved-1y")

    @property
    def price_reserved_3y_usd_per_hour(self) -> float | None:
        """The default reserved-3y price, USD per GPU-hour (None: none published)."""
        return self._tier_usd("reserved-3y")

    @property
    def price_spot_usd_per_hour(self) -> float | None:
        """The default spot price, USD per GPU-hour (None: none published)."""
        return self._tier_usd("spot")


def _settle_hardware_prices(raw: dict, values: dict[str, Any]) -> None:
    """A device's price list and its one-price fields (``price_usd_per_hour``, ``price_provider``,
    ``price_source``, ``price_as_of``) say the same: the fields are the default on-demand price of the
    list. A file gives either the list, or the fields alone (one on-demand price, the form before
    tiers), or only a new ``price_source``/``price_as_of`` (the same price read again on a later day)."""
    legacy = [k for k in ("price_usd_per_hour", "price_provider") if k in raw]
    if "prices" in raw:
        restated = legacy + [k for k in ("price_source", "price_as_of") if k in raw]
        if restated:
            raise ValueError(f"{restated[0]} and [[hardware.prices]] both give a price: give each price as a "
                             "[[hardware.prices]] table (the on-demand one marked default = true stands for "
                             "price_usd_per_hour)")
    elif "price_usd_per_hour" in raw:
        price, source, as_of = values.get("price_usd_per_hour"), values.get("price_source"), values.get("price_as_of")
        values["prices"] = (() if price is None or not (source and as_of) else (HardwarePrice(
            provider=values.get("price_provider", ""), tier="on-demand", usd_per_gpu_hour=price, source=source,
            as_of=as_of, default=True),))
        return
    elif values.get("prices") and ("price_source" in raw or "price_as_of" in raw):
        chosen = default_price(values["prices"], "on-demand")
        values["prices"] = tuple(dataclasses.replace(p, source=values.get("price_source") or p.source,
                                                     as_of=values.get("price_as_of") or p.as_of)
                                 if chosen is not None and p is chosen else p for p in values["prices"])
        return
    if "prices" not in raw and not values.get("prices"):
        return
    chosen = default_price(values.get("prices", ()), "on-demand")
    values.update(price_usd_per_hour=chosen.usd_per_gpu_hour if chosen else None,
                  price_provider=chosen.provider if chosen else "", price_source=chosen.source if chosen else "",
                  price_as_of=chosen.as_of if chosen else "")


@dataclass(frozen=True)
class Engine:
    """An inference engine: its memory rule, paging, parallelism and efficiencies."""

    id: str
    name: str
    parallelism: str = _f(choices=("tensor", "layer"))
    memory_rule: str = _f(choices=("fraction_of_total", "fraction_of_free"))
    memory_fraction: float = _f(gt=0)
    kv_block_tokens: int = _f(gt=0)
    max_batched_tokens: int = _f(gt=0)
    overhead_gib: float = _f(min=0)
    prefill_mfu: float = _f(gt=0)
    decode_mfu: float = _f(gt=0)
    decode_mbu: float = _f(gt=0)
    prefill_overhead_s: float = _f(min=0)
    decode_step_overhead_s: float = _f(min=0)
    source: str = _f()
    as_of: str = _f()
    aliases: tuple = _f(())
    sliding_window_saves_memory: bool = _f(True)
    kv_cache_follows_checkpoint: bool = _f(False)
    decode_overhead_s_per_layer: float = _f(0.0, min=0)
    continuous_batching: bool = _f(True)
    prefill_half_tokens: float = _f(0.0, min=0)
    prefill_dequantizes: bool = _f(False)
    cpu_floor_s_per_layer: float = _f(0.0, min=0)
    sparse_attention_overhead_s_per_layer: float = _f(0.0, min=0)
    ttft_wait_steps: float = _f(0.0, min=0)
    wave_share: float = _f(0.0, min=0)
    loaded_prefill_factor: float = _f(1.0, gt=0)
    ttft_ratio_p10: float | None = _f(None, gt=0)
    ttft_ratio_p90: float | None = _f(None, gt=0)
    tpot_ratio_p10: float | None = _f(None, gt=0)
    tpot_ratio_p90: float | None = _f(None, gt=0)
    throughput_ratio_p10: float | None = _f(None, gt=0)
    throughput_ratio_p90: float | None = _f(None, gt=0)
    bands_source: str = _f("")
    bands_as_of: str = _f("")
    apple_prefill_mfu: float | None = _f(None, gt=0)
    apple_decode_mbu: float | None = _f(None, gt=0)
    decode_attention_mbu: float | None = _f(None, gt=0)
    decode_bandwidth_cap_gb_s: float | None = _f(None, gt=0)
    allreduce_bandwidth_share: float | None = _f(None, gt=0)
    apple_prefill_half_tokens: float | None = _f(None, min=0)
    max_batch_cap: int | None = _f(None, gt=0)
    max_batch_cap_large_gpu: int | None = _f(None, gt=0)
    large_gpu_min_gib: float | None = _f(None, gt=0)
    large_gpu_excludes: str = _f("")
    hardware_kinds: tuple = _f(("gpu", "apple", "cpu"))
    vendors: tuple = _f(())
    precisions: tuple = _f(())
    notes: str = _f("")

    def check(self) -> None:
        for name in ("memory_fraction", "prefill_mfu", "decode_mfu", "decode_mbu", "apple_prefill_mfu",
                     "apple_decode_mbu", "decode_attention_mbu", "allreduce_bandwidth_share", "wave_share"):
            if (getattr(self, name) or 0) > 1:
                raise ValueError(f"{name} must be <= 1")
        for metric in ("ttft", "tpot", "throughput"):
            low, high = getattr(self, f"{metric}_ratio_p10"), getattr(self, f"{metric}_ratio_p90")
            if (low is None) != (high is None):
                raise ValueError(f"{metric}_ratio_p10 and {metric}_ratio_p90 go together: give both or neither")
            if low is not None and low > high:
                raise ValueError(f"{metric}_ratio_p10 ({low:g}) must be <= {metric}_ratio_p90 ({high:g})")
        if (self.max_batch_cap_large_gpu is None) != (self.large_gpu_min_gib is None):
            raise ValueError("max_batch_cap_large_gpu and large_gpu_min_gib go together: give both or neither")
        if self.large_gpu_excludes and self.max_batch_cap_large_gpu is None:
            raise ValueError("large_gpu_excludes needs max_batch_cap_large_gpu")


@dataclass(frozen=True)
class Precision:
    """A number format for weights (and, where kv_bytes > 0, for the KV cache)."""

    id: str
    name: str
    bits_per_weight: float = _f(gt=0)
    embedding_bits: float = _f(gt=0)
    output_bits: float = _f(gt=0)
    compute: str = _f(choices=("fp32", "fp16", "bf16", "fp8", "int8", "fp4"))
    source: str = _f()
    as_of: str = _f()
    aliases: tuple = _f(())
    family: str = _f("", choices=("", "float", "int", "gguf", "fp4"))
    attn_v_bits: float | None = _f(None, gt=0)
    attn_v_bits_gqa4: float | None = _f(None, gt=0)
    ffn_down_bits: float | None = _f(None, gt=0)
    attn_output_bits: float | None = _f(None, gt=0)
    upgraded_layer_share: float = _f(1.0, min=0)
    kv_bytes: float = _f(0.0, min=0)
    gemm_efficiency: float = _f(1.0, gt=0)
    notes: str = _f("")

    def check(self) -> None:
        if self.gemm_efficiency > 1:
            raise ValueError("gemm_efficiency must be <= 1")
        if self.upgraded_layer_share > 1:
            raise ValueError("upgraded_layer_share must be <= 1")


#: The efficiencies of an engine that a calibration may set for one device.
CALIBRATED_FIELDS = ("prefill_mfu", "decode_mfu", "decode_mbu")


@dataclass(frozen=True)
class Calibration:
    """An engine's efficiencies fitted to a measurement on one device (``llmcalc-xl calibrate``): where
    ``engine`` runs on ``hardware``, each efficiency given replaces the engine's own (and its Apple
    variant); the fields left out keep the engine's. Ids are written ``<engine>-on-<hardware>``."""

    id: str
    engine: str = _f()
    hardware: str = _f()
    source: str = _f()
    as_of: str = _f()
    prefill_mfu: float | None = _f(None, gt=0)
    decode_mfu: float | None = _f(None, gt=0)
    decode_mbu: float | None = _f(None, gt=0)
    measurement: str = _f("")
    notes: str = _f("")

    aliases = ()

    def check(self) -> None:
        if all(getattr(self, name) is None for name in CALIBRATED_FIELDS):
            raise ValueError(f"a calibration sets at least one of {', '.join(CALIBRATED_FIELDS)}")
        for name in CALIBRATED_FIELDS:
            if (getattr(self, name) or 0) > 1:
                raise ValueError(f"{name} must be <= 1")


def calibration_id(engine_id: str, hardware_id: str) -> str:
    """The id ``llmcalc-xl calibrate`` gives the calibration of an engine on a device."""
    return f"{engine_id}-on-{hardware_id}"


#: Physical bounds of every number a catalog entry holds: field -> (lowest, highest, what the
#: ceiling stands above). The lower bound is inclusive, except where it equals the field's "gt"
#: metadata (strictly above: an amount that must not be 0). Ceilings are far above any real model
#: or device (the reason names the largest published figure), low enough that a slip of a few
#: zeros or of a unit is caught before it turns into negative times or costs. A field that two
#: kinds share means the same in both. Model.check adds what no single field can say (the
#: embeddings are part of the active parameters).
_PARAMS = "the largest published models have about 2,800 billion parameters"
_MODEL_COUNT = "no published model comes within a factor 100 of it"
_TFLOPS = "the fastest GPUs reach about 15,000 dense TFLOPS, at 4 bits"
_API_PRICE = "the dearest published API prices are about 600 USD per million tokens"
BOUNDS: dict[str, tuple[float, float, str]] = {
    # models: architecture counts
    "params_b": (0, 100_000, _PARAMS),
    "active_params_b": (0, 100_000, _PARAMS),
    "layers": (1, 10_000, "the deepest published models have about 130 layers"),
    "hidden_size": (1, 1_000_000, "the widest published models have a hidden size of about 20,000"),
    "heads": (1, 100_000, _MODEL_COUNT),
    "kv_heads": (1, 100_000, _MODEL_COUNT),
    "head_dim": (1, 100_000, _MODEL_COUNT),
    "vocab_size": (1, 10_000_000, "the largest published vocabularies have about 262,000 tokens"),
    "context_length": (1, 1_000_000_000, "the longest published context is 10 million tokens"),
    "intermediate_size": (0, 10_000_000, _MODEL_COUNT),
    "experts": (0, 100_000, "the most routed experts published are 896"),
    "experts_per_token": (0, 100_000, "the most routed experts published are 896"),
    "shared_experts": (0, 100_000, "the most routed experts published are 896"),
    "sliding_window": (0, 1_000_000_000, "the longest published context is 10 million tokens"),
    "sliding_window_layers": (0, 10_000, "the deepest published models have about 130 layers"),
    "kv_lora_rank": (0, 1_000_000, _MODEL_COUNT),
    "qk_rope_head_dim": (0, 100_000, _MODEL_COUNT),
    "chunked_attention_layers": (0, 10_000, "the deepest published models have about 130 layers"),
    "attention_chunk_tokens": (0, 1_000_000_000, "the longest published context is 10 million tokens"),
    "linear_attention_layers": (0, 10_000, "the deepest published models have about 130 layers"),
    "linear_state_elements": (0, 1_000_000_000, "the largest published recurrent states hold about 2 million "
                                                "elements per layer"),
    "mlp_only_layers": (0, 10_000, "the deepest published models have about 130 layers"),
    "sparse_attention_top_k": (0, 1_000_000_000, "the longest published context is 10 million tokens"),
    "indexer_heads": (0, 100_000, _MODEL_COUNT),
    "indexer_head_dim": (0, 100_000, _MODEL_COUNT),
    "attention_params_b": (0, 100_000, _PARAMS),
    "global_kv_heads": (0, 100_000, _MODEL_COUNT),
    "global_head_dim": (0, 100_000, _MODEL_COUNT),
    "compressed_attention_layers": (0, 10_000, "the deepest published models have about 130 layers"),
    "kv_compression_tokens": (0, 1_000_000_000, "the longest published context is 10 million tokens"),
    "heavily_compressed_layers": (0, 10_000, "the deepest published models have about 130 layers"),
    "heavy_compression_tokens": (0, 1_000_000_000, "the longest published context is 10 million tokens"),
    # API models
    "input_usd_per_mtok": (0, 100_000, _API_PRICE),
    "output_usd_per_mtok": (0, 100_000, _API_PRICE),
    "cached_input_usd_per_mtok": (0, 100_000, _API_PRICE),
    "cache_write_usd_per_mtok": (0, 100_000, _API_PRICE),
    "batch_input_usd_per_mtok": (0, 100_000, _API_PRICE),
    "batch_output_usd_per_mtok": (0, 100_000, _API_PRICE),
    "long_input_usd_per_mtok": (0, 100_000, _API_PRICE),
    "long_cached_input_usd_per_mtok": (0, 100_000, _API_PRICE),
    "long_output_usd_per_mtok": (0, 100_000, _API_PRICE),
    "priority_input_usd_per_mtok": (0, 100_000, _API_PRICE),
    "priority_output_usd_per_mtok": (0, 100_000, _API_PRICE),
    "long_context_threshold_tokens": (0, 1_000_000_000, "the longest published context is 10 million tokens"),
    "ttft_s": (0, 3_600, "an hour to the first token"),
    "output_tokens_per_s": (0, 10_000_000, "published APIs stream at most a few thousand tokens a second"),
    # hardware: one unit
    "memory_gib": (0, 1_000_000, "the largest single machines hold a few TiB"),
    "bandwidth_gb_s": (0, 1_000_000, "the fastest GPU memory moves about 8,000 GB/s"),
    "tflops_fp32": (0, 10_000_000, _TFLOPS),
    "tflops_fp16": (0, 10_000_000, _TFLOPS),
    "tflops_bf16": (0, 10_000_000, _TFLOPS),
    "tflops_fp8": (0, 10_000_000, _TFLOPS),
    "tflops_int8": (0, 10_000_000, _TFLOPS),
    "tflops_fp4": (0, 10_000_000, _TFLOPS),
    "memory_fraction": (0, 1, "a share of memory"),
    "interconnect_gb_s": (0, 1_000_000, "the fastest GPU links move about 1,800 GB/s"),
    "nvlink_domain_gpus": (0, 100_000, "the largest NVLink domains hold 576 GPUs"),
    "scale_out_gb_s": (0, 1_000_000, "a GPU's network ports move at most a few hundred GB/s"),
    "tdp_w": (0, 100_000, "the hungriest GPUs draw about 1,400 W"),
    "price_usd_per_hour": (0, 10_000, "a whole 8-GPU server rents for about 100 USD an hour"),
    "capex_usd_per_gpu": (0, 10_000_000, "a purchase price per GPU above 10 million USD is a slip of zeros"),
    "usd_per_gpu_hour": (0, 10_000, "a whole 8-GPU server rents for about 100 USD an hour"),
    "instance_usd_per_hour": (0, 100_000, "a 72-GPU rack rents for about 1,000 USD an hour"),
    "gpus_per_instance": (0, 100_000, "the largest instances rented whole hold 72 GPUs"),
    # engines
    "kv_block_tokens": (1, 1_000_000, "engines page the KV cache in blocks of 16 to 256 tokens"),
    "max_batched_tokens": (1, 1e12, "1e9 stands for no cap"),
    "max_batch_cap": (1, 1_000_000, "engines cap the sequences they run at once at a few thousand"),
    "max_batch_cap_large_gpu": (1, 1_000_000, "engines cap the sequences they run at once at a few thousand"),
    "large_gpu_min_gib": (0, 1_000_000, "the largest single machines hold a few TiB"),
    "overhead_gib": (0, 10_000, "engines keep well under 10 GiB for themselves"),
    "prefill_mfu": (0, 1, "a share of the peak"),
    "decode_mfu": (0, 1, "a share of the peak"),
    "decode_mbu": (0, 1, "a share of the peak"),
    "apple_prefill_mfu": (0, 1, "a share of the peak"),
    "apple_decode_mbu": (0, 1, "a share of the peak"),
    "decode_attention_mbu": (0, 1, "a share of the peak"),
    "decode_bandwidth_cap_gb_s": (0, 100_000, "the fastest memories stream about 8,000 GB/s"),
    "allreduce_bandwidth_share": (0, 1, "a share of the link"),
    "prefill_overhead_s": (0, 3_600, "an hour"),
    "decode_step_overhead_s": (0, 60, "a minute per step"),
    "decode_overhead_s_per_layer": (0, 1, "a second per layer and step"),
    "cpu_floor_s_per_layer": (0, 1, "a second per layer and step"),
    "sparse_attention_overhead_s_per_layer": (0, 1, "a second per layer and step"),
    "ttft_wait_steps": (0, 10_000, "ten thousand steps"),
    "wave_share": (0, 1, "a share of the wave"),
    "loaded_prefill_factor": (0, 100, "a hundred times a lone prompt's prefill"),
    "ttft_ratio_p10": (0, 100, "a measurement a hundred times the estimate"),
    "ttft_ratio_p90": (0, 100, "a measurement a hundred times the estimate"),
    "tpot_ratio_p10": (0, 100, "a measurement a hundred times the estimate"),
    "tpot_ratio_p90": (0, 100, "a measurement a hundred times the estimate"),
    "throughput_ratio_p10": (0, 100, "a measurement a hundred times the estimate"),
    "throughput_ratio_p90": (0, 100, "a measurement a hundred times the estimate"),
    "prefill_half_tokens": (0, 1_000_000_000, "the longest published context is 10 million tokens"),
    "apple_prefill_half_tokens": (0, 1_000_000_000, "the longest published context is 10 million tokens"),
    # precisions
    "bits_per_weight": (0, 64, "no weight format is wider than a 64-bit float"),
    "gemm_efficiency": (0, 1, "a share of the 16-bit kernels' efficiency"),
    "embedding_bits": (0, 64, "no weight format is wider than a 64-bit float"),
    "output_bits": (0, 64, "no weight format is wider than a 64-bit float"),
    "attn_v_bits": (0, 64, "no weight format is wider than a 64-bit float"),
    "attn_v_bits_gqa4": (0, 64, "no weight format is wider than a 64-bit float"),
    "ffn_down_bits": (0, 64, "no weight format is wider than a 64-bit float"),
    "attn_output_bits": (0, 64, "no weight format is wider than a 64-bit float"),
    "upgraded_layer_share": (0, 1, "a share of the layers"),
    "kv_bytes": (0, 8, "a 64-bit float is 8 bytes"),
}


ENTRY_TYPES: dict[str, type] = {
    "models": Model,
    "api_models": ApiModel,
    "hardware": Hardware,
    "engines": Engine,
    "precisions": Precision,
    "calibrations": Calibration,
}
SINGULAR = {"models": "model", "api_models": "API model", "hardware": "hardware",
            "engines": "engine", "precisions": "precision", "calibrations": "calibration"}
KIND_OF = {cls: kind for kind, cls in ENTRY_TYPES.items()}


# --- provenance: which source stands behind which numbers ----------------------------------------

@dataclass(frozen=True)
class FieldGroup:
    """Numbers of an entry that come from one source: its specs, its price or its speed figures.

    ``source`` and ``as_of`` name the fields that say where the group's numbers come from and as of
    when. A file that sets a field of a group gives that group its own source and date; the other
    groups keep theirs. A ``whole`` group (a price, speed figures) is given whole: the fields a file
    leaves out are empty, not the catalog's, which came from another source. The specs are merged
    field by field (a measured bandwidth does not erase the datasheet's memory size).
    """

    name: str
    source: str
    as_of: str
    fields: tuple[str, ...]
    whole: bool

    @property
    def said(self) -> str:
        """How a message names what comes from the new source."""
        return {"specs": "the new specs come", "price": "the new price comes",
                "speed": "the new speed figures come"}[self.name]


#: Fields that name or describe an entry rather than state a number with a source.
DESCRIPTIVE_FIELDS = ("id", "name", "aliases", "notes", "family", "provider", "measurement")

#: kind -> (group, source field, as-of field, its fields; None: every field no other group holds, whole)
_GROUP_LAYOUT: dict[str, tuple] = {
    "api_models": (("price", "source", "as_of", PRICE_FIELDS + ("prices",), True),
                   ("speed", "speed_source", "speed_as_of", ("ttft_s", "output_tokens_per_s"), True),
                   ("specs", "specs_source", "specs_as_of", None, False)),
    "hardware": (("specs", "source", "as_of", None, False),
                 ("price", "price_source", "price_as_of", ("price_usd_per_hour", "price_provider", "prices"), True)),
}


def _field_groups(kind: str) -> tuple[FieldGroup, ...]:
    layout = _GROUP_LAYOUT.get(kind, (("specs", "source", "as_of", None, False),))
    named = {f for *_, fields, _ in layout if fields for f in fields}
    provenance = {f for _, source, as_of, *_ in layout for f in (source, as_of)}
    rest = tuple(f.name for f in dataclasses.fields(ENTRY_TYPES[kind])
                 if f.name not in named | provenance and f.name not in DESCRIPTIVE_FIELDS)
    return tuple(FieldGroup(name, source, as_of, fields or rest, whole) for name, source, as_of, fields, whole in layout)


#: The provenance groups of every kind of entry: hardware has specs and a price, an API model a
#: price, speed figures and specs (context length, lifecycle), the other kinds specs only.
FIELD_GROUPS: dict[str, tuple[FieldGroup, ...]] = {kind: _field_groups(kind) for kind in KINDS}


@dataclass(frozen=True)
class Provenance:
    """Where one group of an entry's numbers comes from: the source, its date, and the file that set
    it (``shipped`` for the catalog in the package, else the user's catalog file)."""

    group: str
    source: str
    as_of: str
    file: str


def provenance_of(entry: Any, files: dict[tuple[str, str, str], str] | None = None) -> tuple[Provenance, ...]:
    """The groups of ``entry`` that hold numbers or a source, each with its source, date and file."""
    kind = KIND_OF[type(entry)]
    found = []
    for g in FIELD_GROUPS[kind]:
        source, as_of = getattr(entry, g.source), getattr(entry, g.as_of)
        holds = any(getattr(entry, f) not in (None, "", ()) for f in g.fields)
        if holds or source:
            found.append(Provenance(g.name, source, as_of, (files or {}).get((kind, entry.id, g.name), "shipped")))
    return tuple(found)


_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


def _check_date(value: str, name: str) -> None:
    if not _DATE.match(value):
        raise ValueError(f"{name} must be an ISO date like 2025-06-30, got {value!r}")
    parts = [int(p) for p in value.split("-")] + [1]
    _dt.date(parts[0], parts[1], parts[2])  # raises ValueError on 2025-13-40


def normalize(name: str) -> str:
    """The key names are matched on: lower case, without spaces, underscores or hyphens."""
    return re.sub(r"[\s_\-]+", "", str(name)).lower()


# --- building entries from TOML tables ---------------------------------------------

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def _coerce(fld: dataclasses.Field, value: Any) -> Any:
    ann = str(fld.type)
    if "table" in fld.metadata:
        return _coerce_tables(fld.metadata["table"], fld.name, value)
    if "mapping" in fld.metadata:
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ValueError(f'{fld.name} must be a table of text, e.g. {{"org/repo-FP8" = "fp8"}}, got {value!r}')
        for repo in value:
            if not _REPO_ID.match(repo):
                raise ValueError(f"{fld.name}: '{repo}' is not a Hugging Face repo id. Write it as owner/name, "
                                 "e.g. nvidia/DeepSeek-R1-NVFP4")
        return dict(value)
    if "tuple" in ann:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{fld.name} must be a list of text")
        return tuple(value)
    if ann.startswith("bool"):
        if not isinstance(value, bool):
            raise ValueError(f"{fld.name} must be true or false")
        return value
    if ann.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ValueError(f"{fld.name} must be a whole number, got {value!r}")
    elif ann.startswith("float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{fld.name} must be a number, got {value!r}")
        value = float(value)
    elif ann.startswith("str"):
        if isinstance(value, (_dt.date, _dt.datetime)):
            value = value.isoformat()[:10]
        if not isinstance(value, str):
            raise ValueError(f"{fld.name} must be text, got {value!r}")
    meta = fld.metadata
    if "min" in meta and value < meta["min"]:
        raise ValueError(f"{fld.name} must be >= {meta['min']}, got {value!r}")
    if "gt" in meta and value <= meta["gt"]:
        raise ValueError(f"{fld.name} must be > {meta['gt']}, got {value!r}")
    if "choices" in meta and value not in meta["choices"]:
        raise ValueError(f"{fld.name} must be one of {', '.join(c for c in meta['choices'] if c)}, got {value!r}")
    if fld.name in BOUNDS and isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high, why = BOUNDS[fld.name]
        strict = meta.get("gt") == low  # "above 0" for amounts; counts are "at least 1"
        if (value <= low if strict else value < low) or value > high:
            raise ValueError(f"{fld.name} must be {'above' if strict else 'at least'} {low:,} and at most {high:,} "
                             f"({why}), got {value!r}")
    return value


def _coerce_tables(cls: type, name: str, value: Any) -> tuple:
    """Sub-tables (``[[api_models.prices]]``) as frozen entries; errors name the table: ``prices[2]: ...``."""
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError(f"{name} must be a list of [[...{name}]] tables")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    built = []
    for n, raw in enumerate(value, start=1):
        label = f"{name}[{n}]"
        unknown = sorted(set(raw) - set(fields))
        if unknown:
            close = difflib.get_close_matches(unknown[0], list(fields), n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known fields: {', '.join(fields)}"
            raise ValueError(f"{label}: unknown field '{unknown[0]}' ({hint})")
        try:
            values = {k: _coerce(fields[k], v) for k, v in raw.items()}
            missing = [k for k, f in fields.items() if k not in values and f.default is dataclasses.MISSING]
            if missing:
                raise ValueError(f"missing field '{missing[0]}'")
            entry = cls(**values)
            entry.check()
        except ValueError as exc:
            raise ValueError(f"{label}: {exc}") from None
        built.append(entry)
    return tuple(built)


def _build(kind: str, raw: dict, base: Any | None, where: str) -> Any:
    cls = ENTRY_TYPES[kind]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(fields), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else f" Known fields: {', '.join(fields)}."
        raise CatalogError(f"{where}: unknown field '{unknown[0]}'.{hint}")
    # a shallow copy: nested entries (a price schedule) stay entries
    values: dict[str, Any] = {f: getattr(base, f) for f in fields} if base is not None else {}
    if base is not None:
        _override_groups(kind, raw, values, fields, where)
    try:
        for name, value in raw.items():
            values[name] = _coerce(fields[name], value)
        if kind == "api_models" and not values.get("specs_source"):
            # the specs come from the entry's own source unless it names another; said once, here, so that
            # a later file that changes only the price leaves them with the source they came from
            values["specs_source"], values["specs_as_of"] = values.get("source", ""), values.get("as_of", "")
        if kind == "hardware":
            _settle_hardware_prices(raw, values)
        missing = [n for n, f in fields.items()
                   if n not in values and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise ValueError(f"missing field '{missing[0]}'")
        entry = cls(**values)
        if not entry.source.strip():
            raise ValueError("source must say where the numbers come from")
        _check_date(entry.as_of, "as_of")
        entry.check()
    except ValueError as exc:
        raise CatalogError(f"{where}: {exc}. Fix the entry and load again.") from None
    return entry


def _override_groups(kind: str, raw: dict, values: dict[str, Any], fields: dict[str, dataclasses.Field],
                     where: str) -> None:
    """A user's entry over an existing one: each group it sets needs its own source and date, and a
    whole group (a price, speed figures) is replaced whole; the groups it leaves alone keep their
    numbers and their sources."""
    rid = raw.get("id")
    for g in FIELD_GROUPS[kind]:
        given = [f for f in g.fields if f in raw]
        if not given:
            continue
        listed = kind == "hardware" and "prices" in raw  # each listed price carries its own source and date
        for key, example in ((g.source, '"our contract, 2026"'), (g.as_of, '"2026-01-31"')):
            if key not in raw and not listed:
                raise CatalogError(f"{where}: overriding '{rid}' sets {given[0]}, which needs its own '{key}'. "
                                   f"Say where {g.said} from and as of when, e.g. {key} = {example}.")
        if not g.whole:
            continue
        for name in g.fields:
            if name in raw:
                continue
            f = fields[name]
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                whole = {"price": "A price from a new source is", "speed": "Speed figures from a new source are"}
                raise CatalogError(f"{where}: overriding '{rid}' sets {given[0]} but not {name}. {whole[g.name]} "
                                   f"given whole (the catalog's {name} comes from another source): give {name} too.")
            if f.default is not dataclasses.MISSING:
                values[name] = f.default
            else:
                factory: Any = f.default_factory
                values[name] = factory()


def groups_set_by(kind: str, raw: dict, new: bool) -> list[str]:
    """The groups a file's entry sets: every group of a new entry; for an override, the groups of
    which it gives a field, a source or a date."""
    return [g.name for g in FIELD_GROUPS[kind]
            if new or any(f in raw for f in g.fields + (g.source, g.as_of))]


def _read_toml(path: Path) -> dict:
    """A user catalog file: a regular file of bounded size and nesting, parsed as TOML."""
    from ..files import MAX_CATALOG_BYTES, MAX_TOML_DEPTH, read_bounded
    from ..errors import InvalidValueError

    try:
        raw = read_bounded(path, "Catalog file", MAX_CATALOG_BYTES)
    except InvalidValueError as exc:
        raise CatalogError(str(exc).replace(" Check the path.", f" Check the path given to --catalog or {ENV_VAR}.")) \
            from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CatalogError(f"Catalog file '{path}' is not UTF-8 text. Save it as UTF-8 TOML.") from None
    depth = _toml_depth(text)
    if depth > MAX_TOML_DEPTH:
        raise CatalogError(f"Catalog file '{path}' nests arrays or tables {depth} deep; a catalog needs at most 2 "
                           f"(the limit is {MAX_TOML_DEPTH}). See the header of a shipped catalog file for the format.")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"Catalog file '{path}' is not valid TOML ({exc}). "
                           "See the header of a shipped catalog file for the format.") from None
    except RecursionError:  # the depth scan is conservative; this is the last line
        raise CatalogError(f"Catalog file '{path}' nests arrays or tables too deep. "
                           "See the header of a shipped catalog file for the format.") from None


_TOML_TOKEN = re.compile(r'"""|\'\'\'|[\[\]{}"\'#]')
_TOML_BASIC = re.compile(r'(?:[^"\\\n]|\\.)*')
_TOML_MULTILINE = re.compile(r'(?:[^"\\]|\\.|"(?!""))*', re.S)


def _match_end(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Where a string's body ends from ``pos`` (the patterns match the empty string too)."""
    m = pattern.match(text, pos)
    return m.end() if m else pos


def _toml_depth(text: str) -> int:
    """How deep arrays and inline tables nest in TOML text (brackets outside strings and comments).
    Table headers ([x], [[x]]) count too, which only adds 2."""
    depth = deepest = pos = 0
    while m := _TOML_TOKEN.search(text, pos):
        token, pos = m.group(), m.end()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth = max(depth - 1, 0)
        elif token == "#":
            pos = text.find("\n", pos) % (len(text) + 1)
        elif token == '"':
            pos = _match_end(_TOML_BASIC, text, pos) + 1
        elif token == '"""':
            pos = _match_end(_TOML_MULTILINE, text, pos) + 3
        else:
            end = text.find(token, pos)
            if token == "'":
                newline = text.find("\n", pos)
                end = newline if 0 <= newline < end or end < 0 else end
            pos = len(text) if end < 0 else end + len(token)
    return deepest


def _refuse_non_finite(raw: Any, where: str, name: str = "") -> None:
    """Catalog numbers must be finite: TOML's nan and inf (and integers beyond 64 bits) are refused."""
    import math

    if isinstance(raw, dict):
        for key, value in raw.items():
            _refuse_non_finite(value, where, key if not name else f"{name}.{key}")
    elif isinstance(raw, list):
        for value in raw:
            _refuse_non_finite(value, where, name)
    elif isinstance(raw, float) and not math.isfinite(raw):
        raise CatalogError(f"{where}: {name or 'a value'} must be a finite number, got {raw}. Give the number itself, "
                           "or leave the field out.")
    elif isinstance(raw, int) and not isinstance(raw, bool) and not -2**63 <= raw < 2**63:
        raise CatalogError(f"{where}: {name or 'a value'} is too large ({len(str(abs(raw)))} digits). Give a "
                           "realistic number.")


# --- the merged catalog -------------------------------------------------------------

class Catalog:
    """The merged catalog every surface uses. Build with :func:`load_catalog`."""

    def __init__(self, entries: dict[str, dict[str, Any]], files: tuple[str, ...],
                 origins: dict[tuple[str, str], str] | None = None,
                 group_files: dict[tuple[str, str, str], str] | None = None):
        self.files = files
        self._entries = entries
        self._group_files = dict(group_files or {})
        self._keys: dict[str, dict[str, str]] = {}
        self._tables: dict[str, Any] = {}
        self._index_keys()
        self._check_successors(origins or {})
        self._check_precisions(origins or {})
        self._calibrations = self._pair_calibrations(origins or {})
        self._days: dict[str, "Catalog"] = {}

    def on(self, day: _dt.date | str) -> "Catalog":
        """The catalog as of ``day``: each API model at the price its schedule gives for that day
        (an introductory price ends on its date). Cached per day."""
        key = day if isinstance(day, str) else day.isoformat()
        if key not in self._days:
            scheduled = {e.id: e for e in self._entries["api_models"].values() if e.prices}
            if not scheduled:
                self._days[key] = self
            else:
                api = {}
                for mid, e in self._entries["api_models"].items():
                    price = e.price_on(key) if e.prices else None
                    api[mid] = e if price is None else dataclasses.replace(
                        e, **{n: getattr(price, n) for n in PRICE_FIELDS})
                self._days[key] = Catalog(dict(self._entries, api_models=api), self.files,
                                          group_files=self._group_files)
        return self._days[key]

    def with_calibrations(self, tables: list[dict[str, Any]], label: str, file: str) -> "Catalog":
        """This catalog with ``tables`` (``[[calibrations]]`` tables, as a catalog file holds them) added
        after its files, as if read from ``file`` (the name the Sources sheet shows). Raises CatalogError,
        naming ``label``, for a table the loader refuses."""
        entries = {kind: dict(group) for kind, group in self._entries.items()}
        group_files = dict(self._group_files)
        origins: dict[tuple[str, str], str] = {}
        _load_dict({"calibrations": tables}, entries, label, user=True, origins=origins, group_files=group_files,
                   file=file)
        return Catalog(entries, self.files, origins, group_files)

    def retired(self, day: _dt.date | str) -> dict[str, tuple[str, str]]:
        """{model id: (retirement date, successor id)} of the API models retired on or before ``day``."""
        key = day if isinstance(day, str) else day.isoformat()
        return {e.id: (e.retires, e.successor) for e in self._entries["api_models"].values()
                if e.retires and e.retires <= key}

    def _check_precisions(self, origins: dict[tuple[str, str], str]) -> None:
        """A model's native precision and its checkpoints' precisions are precision ids."""
        ids = list(self._entries["precisions"])
        for entry in self._entries["models"].values():
            named = ([("native_precision", entry.native_precision)] if entry.native_precision else []) + [
                (f"checkpoints['{repo}']", precision) for repo, precision in entry.checkpoints.items()]
            for what, precision in named:
                if precision not in ids:
                    where = origins.get(("models", entry.id), f"Catalog, model '{entry.id}'")
                    close = difflib.get_close_matches(str(precision), ids, n=3, cutoff=0.5)
                    hint = f"Did you mean: {', '.join(close)}? " if close else ""
                    raise CatalogError(f"{where}: {what} '{precision}' is not a precision id. {hint}"
                                       "Use an id of the precisions catalog.")

    def _pair_calibrations(self, origins: dict[tuple[str, str], str]) -> dict[tuple[str, str], "Calibration"]:
        """{(engine id, hardware id): calibration}: each calibration's engine and device are names of the
        merged catalog, and no two calibrations are for the same pair."""
        pairs: dict[tuple[str, str], Calibration] = {}
        for entry in self._entries["calibrations"].values():
            where = origins.get(("calibrations", entry.id), f"Catalog, calibration '{entry.id}'")
            ids = []
            for group, name in (("engines", entry.engine), ("hardware", entry.hardware)):
                found = self._keys[group].get(normalize(name))
                if found is None:
                    raise CatalogError(f"{where}: {SINGULAR[group]} '{name}' is not in the catalog. "
                                       f"{self.suggest(group, name)}")
                ids.append(found)
            pair = (ids[0], ids[1])
            if pair in pairs:
                raise CatalogError(f"{where}: '{pairs[pair].id}' already calibrates {pair[0]} on {pair[1]}. Keep "
                                   f"one calibration per engine and device (id '{calibration_id(*pair)}').")
            pairs[pair] = entry
        return pairs

    def calibration(self, engine_id: str, hardware_id: str) -> "Calibration | None":
        """The calibration of an engine on a device (catalog ids), or None."""
        return self._calibrations.get((engine_id, hardware_id))

    def calibrations(self) -> dict[tuple[str, str], "Calibration"]:
        """{(engine id, hardware id): calibration} of every calibration in the catalog."""
        return dict(self._calibrations)

    def _check_successors(self, origins: dict[tuple[str, str], str]) -> None:
        """A successor is the id of a model in the merged catalog (checked once every file is in)."""
        ids = list(self._entries["models"]) + list(self._entries["api_models"])
        for entry in self._entries["api_models"].values():
            if entry.successor and entry.successor not in ids:
                where = origins.get(("api_models", entry.id), f"Catalog, API model '{entry.id}'")
                close = difflib.get_close_matches(entry.successor, ids, n=3, cutoff=0.6)
                hint = f"Did you mean: {', '.join(close)}? " if close else ""
                raise CatalogError(f"{where}: successor '{entry.successor}' is not an id in the catalog. {hint}"
                                   "Give the id of a catalog model, or leave successor out.")

    # id and alias index; an alias may not name two entries across models and api_models
    def _index_keys(self) -> None:
        groups = {"models": ("models", "api_models"), "hardware": ("hardware",),
                  "engines": ("engines",), "precisions": ("precisions",)}
        for group, kinds in groups.items():
            keys: dict[str, str] = {}
            for kind in kinds:
                for entry in self._entries[kind].values():
                    for name in (entry.id, *entry.aliases, *getattr(entry, "checkpoints", {})):
                        key = normalize(name)
                        other = keys.get(key)
                        if other is not None and other != entry.id:
                            raise CatalogError(
                                f"Catalog: the name '{name}' of {SINGULAR[kind]} '{entry.id}' also names "
                                f"'{other}'. Remove or rename one of the two aliases.")
                        keys[key] = entry.id
            self._keys[group] = keys

    def provenance(self, entry: Any) -> tuple[Provenance, ...]:
        """Where each group of an entry's numbers (specs, price, speed) comes from, and which file set it."""
        return provenance_of(entry, self._group_files)

    def as_of(self) -> str:
        """The catalog's date: the newest date any of its numbers was stated."""
        return max((p.as_of for kind in KINDS for e in self._entries[kind].values() for p in self.provenance(e)
                    if p.as_of), default="")

    def names(self, group: str) -> dict[str, str]:
        """{normalized name: id} of every id and alias of a group (models include API models and
        the Hugging Face repos of their quantised checkpoints)."""
        return dict(self._keys[group])

    def implied_precisions(self) -> dict[str, str]:
        """{normalized checkpoint repo: precision id}: the precision a quantised checkpoint's name
        implies (``nvidia/DeepSeek-R1-NVFP4``: fp4)."""
        return {normalize(repo): precision for entry in self._entries["models"].values()
                for repo, precision in entry.checkpoints.items()}

    def checkpoint_scopes(self) -> dict[str, str]:
        """{normalized checkpoint repo: scope}: the checkpoints that quantise part of the body only
        (``nvidia/Kimi-K2.6-NVFP4``: experts); a checkpoint not listed quantises every linear layer."""
        return {normalize(repo): scope for entry in self._entries["models"].values()
                for repo, scope in entry.checkpoint_scopes.items()}

    def entries(self, kind: str) -> list[Any]:
        return list(self._entries[kind].values())

    def ids(self, kind: str) -> list[str]:
        return list(self._entries[kind])

    def resolve_id(self, group: str, name: Any, what: str | None = None) -> str:
        """The id for a name people type; raises UnknownIdError with the closest ids."""
        what = what or {"models": "model", "hardware": "hardware", "engines": "engine",
                        "precisions": "precision"}[group]
        if not isinstance(name, str) or not name.strip():
            raise UnknownIdError(f"{what} is empty. Give a {what} id; `llmcalc-xl catalog "
                                 f"{group if group != 'models' else 'models'}` lists them.")
        key = normalize(name)
        found = self._keys[group].get(key)
        if found is None:
            raise UnknownIdError(f"Unknown {what} '{name}'. {self.suggest(group, name)}")
        return found

    def suggest(self, group: str, name: str) -> str:
        keys = self._keys[group]
        close = difflib.get_close_matches(normalize(name), list(keys), n=6, cutoff=0.5)
        ids: list[str] = []
        for k in close:
            if keys[k] not in ids:
                ids.append(keys[k])
        if not ids:
            listing = "models" if group == "models" else group
            return f"See `llmcalc-xl catalog {listing}` for the known ids."
        return "Did you mean: " + ", ".join(ids[:3]) + "?"

    def model(self, name: str) -> Model | ApiModel:
        mid = self.resolve_id("models", name)
        return self._entries["models"].get(mid) or self._entries["api_models"][mid]

    def hardware(self, name: str) -> Hardware:
        return self._entries["hardware"][self.resolve_id("hardware", name)]

    def engine(self, name: str) -> Engine:
        return self._entries["engines"][self.resolve_id("engines", name)]

    def precision(self, name: str) -> Precision:
        return self._entries["precisions"][self.resolve_id("precisions", name)]

    def offers(self) -> "OfferTable":
        """Every published price of GPU time, one row per (device, provider, tier), for vectorised lookups (cached)."""
        if "offers" not in self._tables:
            self._tables["offers"] = OfferTable([(h.id, p) for h in self.entries("hardware") for p in h.prices],
                                                self.entries("hardware"))
        return self._tables["offers"]

    def table(self, group: str) -> "EntryTable":
        """Column arrays over all entries of a group, for vectorised lookups (cached)."""
        if group not in self._tables:
            if group == "models":
                rows = self.entries("models") + self.entries("api_models")
            else:
                rows = self.entries(group)
            self._tables[group] = EntryTable(rows, self._keys[group])
        return self._tables[group]


class EntryTable:
    """Entries of one group as numpy columns; ``positions`` maps names to row numbers."""

    def __init__(self, rows: list[Any], keys: dict[str, str]):
        import numpy as np

        self.rows = rows
        self.ids = [r.id for r in rows]
        pos = {rid: i for i, rid in enumerate(self.ids)}
        self._key_pos = {k: pos[v] for k, v in keys.items()}
        self._cols: dict[tuple[Any, ...], Any] = {}  # (field, default) or ("flag", field, value)
        self._np = np

    def position(self, name: Any) -> int:
        """Row number for a name, or -1 when unknown."""
        if not isinstance(name, str):
            return -1
        return self._key_pos.get(normalize(name), -1)

    def column(self, name: str, default: float = float("nan")) -> Any:
        """A float column; None and missing attributes become ``default``."""
        col = self._cols.get((name, default))
        if col is None:
            vals = []
            for r in self.rows:
                v = getattr(r, name, None)
                if isinstance(v, bool):
                    v = float(v)
                vals.append(default if v is None or isinstance(v, str) else float(v))
            col = self._np.asarray(vals, dtype=float)
            self._cols[(name, default)] = col
        return col

    def flag(self, name: str, value: str) -> Any:
        """A bool column: does the entry's ``name`` equal ``value``?"""
        key = ("flag", name, value)
        col = self._cols.get(key)
        if col is None:
            col = self._np.asarray([getattr(r, name, None) == value for r in self.rows], dtype=bool)
            self._cols[key] = col
        return col

    def index(self, entry_id: str) -> int:
        """Row number of an id (not an alias); raises KeyError for an unknown id."""
        return self.ids.index(entry_id)


def offer_key(hardware_id: str, provider: str, tier: str) -> str:
    """How a published price is looked up: the device's id, the provider as names are matched, the tier
    (the workbook's Prices sheet has the same key)."""
    return f"o:{hardware_id}:{normalize(provider)}:{tier}"


class OfferTable:
    """The published prices of GPU time as numpy columns: ``rows`` are (hardware id, price)."""

    def __init__(self, rows: list[tuple[str, "HardwarePrice"]], hardware: Sequence["Hardware"] = ()):
        import numpy as np

        self.rows = rows
        self._hardware = list(hardware)
        self._defaults: Any = None
        self.keys = {offer_key(hid, p.provider, p.tier): i for i, (hid, p) in enumerate(rows)}
        self._np = np
        self._cols: dict[str, Any] = {}

    def default_providers(self) -> Any:
        """[hardware row, tier] -> who charges the tier's default price (None: none; a last row of None for
        no catalog device), in ``TIERS`` order; a device's one-price fields count as its on-demand default."""
        if self._defaults is None:
            out = self._np.full((len(self._hardware) + 1, len(TIERS)), None, dtype=object)
            for j, h in enumerate(self._hardware):
                for t, tier in enumerate(TIERS):
                    chosen = h.price(tier)
                    out[j, t] = (chosen.provider or None) if chosen else (h.price_provider or None) if t == 0 else None
            self._defaults = out
        return self._defaults

    def column(self, name: str) -> Any:
        """A float column of the prices' field ``name`` (NaN where None)."""
        if name not in self._cols:
            vals = [getattr(p, name) for _, p in self.rows]
            self._cols[name] = self._np.asarray([float("nan") if v is None else float(v) for v in vals], dtype=float)
        return self._cols[name]


def _shipped_dir() -> Any:
    return resources.files("llmcalc_xl") / "catalogs"


def parse_shipped(text: str) -> dict[str, Any]:
    """A shipped catalog file's TOML, parsed by rtoml (a compiled parser, about ten times faster
    than the standard library's: most of a command's start) where it is installed, else by tomllib.
    Both give the same values and types for these files (a test checks it). Users' files always go
    through tomllib, whose error messages the loader reports."""
    try:
        import rtoml
    except ImportError:  # pragma: no cover - rtoml is a dependency; a platform without its wheel still works
        return tomllib.loads(text)
    return rtoml.loads(text)


@lru_cache(maxsize=16)
def _load(user_files: tuple[tuple[str, float], ...]) -> Catalog:
    entries: dict[str, dict[str, Any]] = {k: {} for k in KINDS}
    origins: dict[tuple[str, str], str] = {}
    group_files: dict[tuple[str, str, str], str] = {}
    shipped = _shipped_dir()
    for name in SHIPPED_FILES:
        res = shipped / name
        data = parse_shipped(res.read_text(encoding="utf-8"))
        _load_dict(data, entries, f"shipped catalog {name}", user=False, origins=origins)
    for path, _mtime in user_files:
        _load_dict(_read_toml(Path(path)), entries, f"Catalog file '{path}'", user=True, origins=origins,
                   group_files=group_files, file=path)
    return Catalog(entries, tuple(p for p, _ in user_files), origins, group_files)


def _load_dict(data: dict, entries: dict[str, dict[str, Any]], label: str, user: bool,
               origins: dict[tuple[str, str], str] | None = None,
               group_files: dict[tuple[str, str, str], str] | None = None, file: str = "shipped") -> None:
    unknown = sorted(set(data) - set(KINDS))
    if unknown:
        raise CatalogError(f"{label}: unknown section '{unknown[0]}'. Sections are "
                           f"{', '.join('[[' + k + ']]' for k in KINDS)}.")
    for kind in KINDS:
        tables = data.get(kind, [])
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise CatalogError(f"{label}: '{kind}' must be a list of [[{kind}]] tables.")
        seen: set[str] = set()
        for n, raw in enumerate(tables, start=1):
            rid = raw.get("id")
            where = f"{label}, [[{kind}]] entry {n}" + (f" '{rid}'" if isinstance(rid, str) else "")
            if not isinstance(rid, str) or not rid.strip():
                raise CatalogError(f"{where}: missing field 'id'. Give each entry an id such as \"my-gpu\".")
            if rid != rid.strip().lower() or re.search(r"\s", rid):
                fixed = re.sub(r"[\s_]+", "-", rid.strip().lower())
                raise CatalogError(f"{where}: id '{rid}' must be lower case without spaces, e.g. '{fixed}'.")
            if rid in seen:
                raise CatalogError(f"{where}: duplicate id '{rid}' in this file. Keep one entry per id.")
            seen.add(rid)
            other_kind = {"models": "api_models", "api_models": "models"}.get(kind)
            if other_kind and rid in entries[other_kind]:
                if not user:
                    raise CatalogError(f"{where}: id '{rid}' is already an {SINGULAR[other_kind]}.")
                del entries[other_kind][rid]  # a user may replace an API model by an open one
            base = entries[kind].get(rid) if user else None
            _refuse_non_finite(raw, where)
            entries[kind][rid] = _build(kind, raw, base, where)
            if origins is not None:
                origins[(kind, rid)] = where
            if group_files is not None:
                for group in groups_set_by(kind, raw, new=base is None):
                    group_files[(kind, rid, group)] = file


def user_catalog_paths(paths: Iterable[str | os.PathLike] = ()) -> tuple[str, ...]:
    """The user files in force: those given, else those in $LLMCALC_XL_CATALOG."""
    given = [os.fspath(p) for p in paths if p]
    if given:
        return tuple(given)
    env = os.environ.get(ENV_VAR, "")
    return tuple(p for p in env.split(os.pathsep) if p.strip())


def load_catalog(paths: Iterable[str | os.PathLike] = ()) -> Catalog:
    """The shipped catalog merged with the user's files (in order; later ones win).

    With no paths, the files named in ``$LLMCALC_XL_CATALOG`` are used. The result is
    cached until one of the files changes.
    """
    files = []
    for p in user_catalog_paths(paths):
        try:
            mtime = os.stat(p).st_mtime
        except FileNotFoundError:
            raise CatalogError(f"Catalog file '{p}' does not exist. Check the path given to "
                               f"--catalog or {ENV_VAR}.") from None
        except (OSError, ValueError) as exc:
            raise CatalogError(f"Catalog file '{p}' cannot be read ({getattr(exc, 'strerror', None) or exc}). "
                               f"Check the path given to --catalog or {ENV_VAR}.") from None
        files.append((os.path.abspath(p), mtime))
    return _load(tuple(files))
