"""What in the catalog may no longer hold on a given day: `llmcalc-xl catalog check`.

Three kinds of finding:

- **retired**: an API model whose ``retires`` date has come. The catalog keeps retired models on
  purpose, so that old quotes still compute; a retired model is a problem only for a quote that
  uses it.
- **ended**: an API model whose top-level price (the standing price, in force on its ``as_of`` or
  published in advance to follow an introductory period) has given way to a later period of its
  published schedule.
- **stale**: a price stated more than ``max_age_days`` before the day: an API model's price
  (``as_of``) or each published price of a device's GPU time (every provider and tier). Only prices age: the specs of a
  released model or device (a config.json, a datasheet) do not change, and an API model's typical
  speed is shown, never charged. A price of 0 (hardware you own) does not age either.

Retired models are not checked for staleness or ended prices: no new quote can use them.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Iterable

from .loader import Catalog, as_date

DEFAULT_MAX_AGE_DAYS = 90
KINDS = ("retired", "ended", "stale")


@dataclass(frozen=True)
class Finding:
    """One entry that may no longer hold on the day checked."""

    kind: str            # retired, ended or stale
    catalog: str         # api_models or hardware
    id: str
    text: str            # what, in words
    as_of: str           # the date of the price (or the retirement) it is about
    file: str            # the file that set it: shipped, or the user's catalog file
    used: bool | None    # whether the quote uses it (None: no quote given)

    @property
    def failing(self) -> bool:
        """Whether it makes the check fail: a retired model only when a quote uses it; the others
        always, or, when a quote is given, when the quote uses them."""
        if self.kind == "retired":
            return bool(self.used)
        return self.used is not False

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "catalog": self.catalog, "id": self.id, "text": self.text, "as_of": self.as_of,
                "file": self.file, "used": self.used, "failing": self.failing}


def _age(day: _dt.date, as_of: str) -> int:
    return (day - as_date(as_of)).days


def _stale_before(on: _dt.date, max_age_days: int) -> _dt.date:
    return on - _dt.timedelta(days=max_age_days)


def find(cat: Catalog, on: _dt.date, max_age_days: int = DEFAULT_MAX_AGE_DAYS,
         used: Iterable[str] | None = None) -> list[Finding]:
    """Every retired model, ended price and stale price of the merged catalog on day ``on``.

    ``used``: the catalog ids a quote uses; when given, each finding says whether the quote uses it,
    and only those fail.
    """
    used_ids = set(used) if used is not None else None
    oldest = _stale_before(on, max_age_days)
    found: list[Finding] = []

    def add(kind: str, catalog: str, entry: Any, text: str, as_of: str, group: str) -> None:
        file = next((p.file for p in cat.provenance(entry) if p.group == group), "shipped")
        found.append(Finding(kind, catalog, entry.id, text, as_of, file,
                             None if used_ids is None else entry.id in used_ids))

    for m in cat.entries("api_models"):
        if m.retires and as_date(m.retires) <= on:
            successor = f"; successor {m.successor}" if m.successor else ""
            add("retired", "api_models", m, f"retired {m.retires}{successor}", m.retires, "specs")
            continue
        now = m.price_on(on)
        if now.effective_from and as_date(now.effective_from) > as_date(m.as_of):
            add("ended", "api_models", m,
                f"the price of {m.as_of} (input {m.input_usd_per_mtok:g}, output {m.output_usd_per_mtok:g} USD per "
                f"million tokens) ended; from {now.effective_from}: input {now.input_usd_per_mtok:g}, output "
                f"{now.output_usd_per_mtok:g}", m.as_of, "price")
        if as_date(m.as_of) < oldest:
            add("stale", "api_models", m, f"price as of {m.as_of} ({_age(on, m.as_of)} days)", m.as_of, "price")
    for h in cat.entries("hardware"):
        listed = h.prices or ((_OnePrice(h.price_usd_per_hour, h.price_provider, h.price_as_of),)
                              if h.price_usd_per_hour and h.price_as_of else ())
        for p in listed:
            if p.usd_per_gpu_hour and as_date(p.as_of) < oldest:
                seller = f" from {p.provider}" if p.provider else ""
                tier = "" if p.tier == "on-demand" else f" ({p.tier})"
                add("stale", "hardware", h, f"price {p.usd_per_gpu_hour:g} USD per GPU-hour{seller}{tier} as of "
                    f"{p.as_of} ({_age(on, p.as_of)} days)", p.as_of, "price")
    order = {k: i for i, k in enumerate(KINDS)}
    return sorted(found, key=lambda f: (order[f.kind], f.catalog, f.id))


@dataclass(frozen=True)
class _OnePrice:
    """A device's one price without a source (a local machine's 0 kept in the one-price fields)."""

    usd_per_gpu_hour: float | None
    provider: str
    as_of: str
    tier: str = "on-demand"


def ids_of_rows(cat: Catalog, rows: Iterable[dict[str, Any]]) -> set[str]:
    """The catalog ids of the models and hardware that scenario rows name (names as typed; a name the
    catalog does not know is left out)."""
    ids = set()
    for row in rows:
        for key, group in (("model", "models"), ("hardware", "hardware")):
            name = row.get(key)
            if isinstance(name, str) and name.strip():
                try:
                    ids.add(cat.resolve_id(group, name))
                except KeyError:
                    pass
    return ids
