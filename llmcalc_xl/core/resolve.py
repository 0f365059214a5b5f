"""Turning names into catalog positions, and checking which combinations can run.

Everything works on integer row numbers into the catalog tables: a million cells of
"H100" are resolved once, not a million times.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..catalogs.loader import Catalog, normalize
from ..errors import UnknownIdError
from ..notes import NOTE_KINDS, NoteKind, note_bit
from .inputs import NONE, RowErrors, text_column

AUTO = -2  # position placeholder for a blank or "auto" cell that a rule fills in later


class Coded:
    """A text column as codes into its distinct values (``uniques``): each distinct name is
    resolved once for all the blocks of rows cut from it."""

    ndim = 1

    def __init__(self, codes: np.ndarray, uniques: list):
        self.codes, self.uniques = codes, uniques
        self.shape = codes.shape
        self.resolved: dict[tuple, Any] = {}

    def __len__(self) -> int:
        return len(self.codes)

    def rows(self, rows: slice) -> "Coded":
        part = Coded(self.codes[rows], self.uniques)
        part.resolved = self.resolved  # the same distinct names
        return part


def _positions(cat: Catalog, group: str, value: Any, n: int, errs: RowErrors, what: str,
               blank: int | None = None) -> np.ndarray:
    """Row numbers into the group's table. Blank cells (and "auto") take ``blank``; with
    ``blank=None`` they are an error. Unknown names are errors (position -1)."""
    if isinstance(value, Coded):
        codes, uniques, resolved = value.codes, value.uniques, value.resolved
    else:
        column, single = text_column(value)
        if column is None:
            uniques, codes = [single], None
        else:
            codes, uniques = factorize(column)
        resolved = {}
    key = (group, what, blank)
    if key not in resolved:
        resolved[key] = _resolve(cat, group, uniques, what, blank)
    upos, messages = resolved[key]
    if codes is None:
        if messages[0] is not None:
            errs.add(True, messages[0], UnknownIdError)
        return np.broadcast_to(upos[0], (n,))
    if len(messages) > 1 or messages[0] is not None:  # some names do not resolve
        bad = np.take(np.not_equal(messages, NONE), codes)
        if bad.any():
            errs.add(bad, np.take(messages, codes), UnknownIdError)
    return np.take(upos, codes)


def _resolve(cat: Catalog, group: str, uniques: list, what: str, blank: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The position of each distinct name, and its message (None where it resolves)."""
    table = cat.table(group)
    upos = np.empty(len(uniques), dtype=np.int64)
    messages = np.full(len(uniques), None, dtype=object)
    for i, u in enumerate(uniques):
        if _is_blank(u) or (blank is not None and isinstance(u, str) and u.strip().lower() == "auto"):
            upos[i] = -1 if blank is None else blank
            if blank is None:
                messages[i] = f"{what} is empty. Give a {what} id; `llmcalc-xl catalog {group}` lists them."
            continue
        upos[i] = table.position(u)
        if upos[i] < 0:
            messages[i] = _unknown(cat, group, what, u)
    if len(uniques) > 1 and not np.not_equal(messages, NONE).any():
        messages = messages[:1]  # every name resolves
    return upos, messages


def _choices(name: str, value: Any, n: int, errs: RowErrors, choices: tuple[str, ...], fix: str = "") -> np.ndarray:
    """The word each row gives for a text option that takes one of ``choices``, matched as catalog
    names are (any case, without spaces, hyphens or underscores: "On demand" is on-demand); None
    where empty or "auto". Another word is the row's error: "pricing 'spot' must be on-demand or
    owned. <fix>."."""
    known = {normalize(c): c for c in choices}
    rule = ", ".join(choices[:-1]) + " or " + choices[-1] if len(choices) > 1 else choices[0]
    if isinstance(value, Coded):  # a text column coded once for all blocks
        codes, uniques = value.codes, list(value.uniques)
    else:
        column, single = text_column(value)
        if column is None:
            uniques, codes = [single], None
        else:
            codes, uniques = factorize(column)
    words = np.full(len(uniques), None, dtype=object)
    for i, u in enumerate(uniques):
        if _is_blank(u) or (isinstance(u, str) and normalize(u) == "auto"):
            continue
        if isinstance(u, str) and normalize(u) in known:
            words[i] = known[normalize(u)]
            continue
        shown = f"'{u.strip()[:40]}'" if isinstance(u, str) else repr(u)
        errs.add(True if codes is None else codes == i,
                 f"{name} {shown} must be {rule}." + (f" {fix}." if fix else ""))
    if codes is None:
        return np.broadcast_to(words[:1], (n,))
    return words[codes]


def _ids(table, pos: np.ndarray) -> np.ndarray:
    """The ids at ``pos`` (None where -1)."""
    return _take(np.asarray(table.ids, dtype=object), pos, missing=None)


def factorize(column: np.ndarray) -> tuple[np.ndarray, list]:
    """(codes, distinct values) of a column; None and NaN are one value (None), and values of
    other types stay apart (True is not 1)."""
    if len(column) > 2000:
        import pandas as pd  # only for big columns: a hash table beats sorting strings

        codes, uniques = pd.factorize(column)  # missing values (None, NaN) get -1: the last, None
        if all(isinstance(u, str) for u in uniques):
            return np.where(codes < 0, len(uniques), codes), list(uniques) + [None]
    index: dict[Any, int] = {}
    uniques = []
    codes = np.empty(len(column), dtype=np.int64)
    for i, v in enumerate(column.tolist()):
        key: Any
        if isinstance(v, str) or v is None:
            key = v
        elif isinstance(v, float) and math.isnan(v):
            key = None
        else:
            key = (type(v), v)
        code = index.get(key)
        if code is None:
            code = index[key] = len(uniques)
            uniques.append(None if key is None else v)
        codes[i] = code
    return codes, uniques


def _unknown(cat: Catalog, group: str, what: str, value: Any) -> str:
    if not isinstance(value, str):
        return f"{what} must be an id (text), got {value!r}"
    return f"Unknown {what} '{value}'. {cat.suggest(group, value)}"


def _take(column: np.ndarray, pos: np.ndarray, missing: Any = math.nan) -> np.ndarray:
    """column[pos] with ``missing`` where pos is -1 (the positions -2 of "auto" are resolved
    before anything is taken); cheap when pos is one broadcast value."""
    padded = np.append(column, np.asarray([missing], dtype=column.dtype))
    if pos.ndim == 1 and pos.strides == (0,):
        i = int(pos[0]) if pos[0] >= 0 else len(column)
        return np.broadcast_to(padded[i:i + 1], pos.shape)  # keeps the dtype (object stays object)
    return np.take(padded, pos)  # -1 takes the last: missing


def _is_blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


class RowNotes:
    """Each row's notes: ``texts`` (one line per note, None for none) and ``kinds`` (bit i set:
    a note of kind ``NOTE_KINDS[i]``). Notes are added in ``NOTE_KINDS`` order, so a row's lines
    and its bits list the same notes in the same order (``notes_of`` pairs them).

    A kind is kept as codes into its few texts, and each distinct set of notes is joined once
    (a million rows have a few hundred)."""

    def __init__(self, n: int):
        self.n = n
        self._kinds: list[tuple[NoteKind, np.ndarray, list]] = []
        self._last = -1

    def add(self, kind: NoteKind, mask: np.ndarray, template: str, names: np.ndarray, codes: np.ndarray) -> None:
        """Note ``template`` filled with ``names[code]`` (code -1: the last name) on the masked rows."""
        rows = np.flatnonzero(np.broadcast_to(mask, (self.n,)))
        row_codes = np.take(np.broadcast_to(codes, (self.n,)), rows)
        row_codes = np.where(row_codes < 0, len(names) - 1, row_codes)
        texts: list[str | None] = [None] * len(names)
        for code in np.unique(row_codes).tolist():
            texts[code] = template.format(names[code])
        self.add_codes(kind, rows, row_codes, texts)

    def add_codes(self, kind: NoteKind, rows: np.ndarray, row_codes: np.ndarray, texts: list) -> None:
        """Note ``texts[code]`` of ``kind`` on each of ``rows``."""
        bit = NOTE_KINDS.index(kind)
        if bit <= self._last:
            raise RuntimeError(f"note '{kind}' added after a later kind: add notes in NOTE_KINDS order")
        self._last = bit
        if len(rows):
            codes = np.full(self.n, -1, dtype=np.int64)
            codes[rows] = row_codes
            self._kinds.append((kind, codes, texts))

    @property
    def kinds(self) -> np.ndarray:
        out = np.zeros(self.n, dtype=np.uint8)
        for kind, codes, _ in self._kinds:
            out |= np.where(codes >= 0, np.uint8(note_bit(kind)), np.uint8(0))
        return out

    @property
    def texts(self) -> np.ndarray:
        which, joined = self.coded()
        return np.take(np.asarray(joined + [None], dtype=object), which)

    def coded(self) -> tuple[np.ndarray, list]:
        """``texts`` as (codes, the distinct texts): a row with no note has the code of None."""
        if not self._kinds:
            return np.zeros(self.n, dtype=np.int64), [None]
        which, size = np.zeros(self.n, dtype=np.int64), 1
        for _, codes, texts in self._kinds:  # a number for each set of notes, then a code
            if size * (len(texts) + 1) >= 2**62:
                which = _codes(which)
                size = int(which.max()) + 1
            which, size = which * (len(texts) + 1) + (codes + 1), size * (len(texts) + 1)
        which = _codes(which)
        first = np.flatnonzero(np.diff(np.maximum.accumulate(which), prepend=-1))  # codes count up from 0
        joined: list[str | None] = []
        for row in first.tolist():
            parts = [texts[codes[row]] for _, codes, texts in self._kinds if codes[row] >= 0]
            joined.append("\n".join(parts) if parts else None)
        return which, joined


def _per_value(template: str, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``template`` filled with each masked row's id (None elsewhere); each id formatted once."""
    out = np.full(len(mask), None, dtype=object)
    rows = np.flatnonzero(mask)
    if len(rows):
        texts: dict[Any, str] = {}
        ids = np.broadcast_to(np.asarray(ids, dtype=object), mask.shape)
        out[rows] = [texts[v] if v in texts else texts.setdefault(v, template.format(v))
                     for v in ids[rows].tolist()]
    return out


def _per_pair(template: str, a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``template`` filled with each masked row's pair of values (None elsewhere); each distinct
    pair (numbers told apart to the bit) formatted once."""
    out = np.full(len(mask), None, dtype=object)
    rows = np.flatnonzero(mask)
    if len(rows):
        a = np.take(np.broadcast_to(a, mask.shape), rows)
        b = np.take(np.broadcast_to(b, mask.shape), rows)
        if a.dtype == np.float64 and b.dtype == np.float64:  # numbers: the pairs of bits sorted in C
            _, first, which = np.unique(np.stack([a.view(np.int64), b.view(np.int64)], axis=1), axis=0,
                                        return_index=True, return_inverse=True)
            which = which.reshape(-1)
        else:
            a_codes, b_codes = _codes(a), _codes(b)
            which = _codes(a_codes * (int(b_codes.max()) + 1) + b_codes)
            _, first = np.unique(which, return_index=True)  # a row of each distinct pair
        texts = np.empty(len(first), dtype=object)
        texts[:] = [template.format(x, y) for x, y in zip(np.take(a, first).tolist(), np.take(b, first).tolist())]
        out[rows] = np.take(texts, which)
    return out


def _codes(values: np.ndarray) -> np.ndarray:
    """Codes of a column's distinct values (numbers told apart to the bit, objects by equality),
    counting up from 0 in the order they first appear."""
    if values.dtype == np.float64:
        values = values.view(np.int64)
    if values.dtype != object and len(values) > 2000:
        import pandas as pd
        return pd.factorize(values)[0]
    index: dict[Any, int] = {}
    return np.fromiter((index.setdefault(v, len(index)) for v in values.tolist()), dtype=np.intp, count=len(values))


def _check_engine(cat: Catalog, e_pos, hw_pos, p_pos, is_api, errs) -> None:
    """Engines run on some hardware kinds, vendors and precisions: check each (engine, x) pair once."""
    et, ht, pt = cat.table("engines"), cat.table("hardware"), cat.table("precisions")
    rows = ~is_api & (e_pos >= 0)
    if not rows.any():
        return
    hw_ok = np.ones((len(et.rows), len(ht.rows) + 1), dtype=bool)  # last column: custom/no device
    for i, eng in enumerate(et.rows):
        for j, hw in enumerate(ht.rows):
            hw_ok[i, j] = hw.kind in eng.hardware_kinds and (
                not eng.vendors or hw.kind != "gpu" or hw.vendor in eng.vendors)
    p_ok = np.asarray([[not eng.precisions or p.id in eng.precisions for p in pt.rows] + [True]
                       for eng in et.rows])
    e = np.where(rows, e_pos, 0)
    bad_hw = rows & ~hw_ok[e, np.where(hw_pos >= 0, hw_pos, len(ht.rows))]
    for i, j in _pairs(e, hw_pos, bad_hw):
        eng, hw = et.rows[i], ht.rows[j]
        if hw.kind not in eng.hardware_kinds:
            msg = f"engine '{eng.id}' does not run on {hw.kind} hardware ('{hw.id}'). Use engine llama.cpp"
        else:
            msg = (f"engine '{eng.id}' does not run on '{hw.id}' (it needs {'/'.join(eng.vendors)} GPUs). "
                   "Use engine vllm or llama.cpp")
        errs.add(bad_hw & (e == i) & (hw_pos == j), msg)
    bad_p = rows & ~p_ok[e, np.where(p_pos >= 0, p_pos, len(pt.rows))]
    for i, j in _pairs(e, p_pos, bad_p):
        eng = et.rows[i]
        errs.add(bad_p & (e == i) & (p_pos == j), f"engine '{eng.id}' does not run precision "
                 f"'{pt.rows[j].id}'. Use one of: {', '.join(eng.precisions[:8])}")


def _pairs(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> list[tuple[int, int]]:
    """The distinct (a, b) pairs where mask is set."""
    if not mask.any():
        return []
    a, b = np.broadcast_to(a, mask.shape)[mask], np.broadcast_to(b, mask.shape)[mask]
    return sorted(set(zip(a.tolist(), b.tolist())))


#: The rental tiers, in the order of ``TIERS``; "owned" and an empty pricing take on-demand prices.
RENTAL_TIERS = ("on-demand", "reserved-1y", "reserved-3y", "spot")


def _offer_positions(cat: Catalog, value: Any, hw_pos: np.ndarray, pricing: np.ndarray, n: int,
                     errs: RowErrors) -> tuple[np.ndarray, np.ndarray]:
    """(rows into ``cat.offers()``, whether a provider is named) for each scenario: the published price
    of the named provider for the row's hardware and tier (on-demand where pricing is empty). A name the
    device's prices do not know, or a tier the provider does not publish, is the row's error; pricing
    "owned" takes no rental price, so the provider is not checked there."""
    codes: np.ndarray | None
    if isinstance(value, Coded):
        codes, uniques = value.codes, list(value.uniques)
    else:
        column, single = text_column(value)
        codes, uniques = (None, [single]) if column is None else factorize(column)
    named = [isinstance(u, str) and not _is_blank(u) and normalize(u) != "auto" for u in uniques]
    for i, u in enumerate(uniques):
        if not named[i] and not _is_blank(u) and not isinstance(u, str):
            errs.add(True if codes is None else codes == i, f"provider must be text (a provider's name), got {u!r}")
    if not any(named):
        return np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=bool)
    given = np.broadcast_to(np.asarray(named)[0] if codes is None else np.take(np.asarray(named), codes), (n,))
    code = np.zeros(n, dtype=np.int64) if codes is None else np.asarray(codes)
    tier = np.zeros(n, dtype=np.int64)
    for t, word in enumerate(RENTAL_TIERS[1:], start=1):
        tier = np.where(np.equal(pricing, word), t, tier)
    offers, hardware = cat.offers(), cat.entries("hardware")
    table = np.full((len(uniques), len(hardware) + 1, len(RENTAL_TIERS)), -1, dtype=np.int64)
    for i, u in enumerate(uniques):
        if named[i]:
            for j, h in enumerate(hardware):
                for t, word in enumerate(RENTAL_TIERS):
                    table[i, j, t] = offers.keys.get(f"o:{h.id}:{normalize(u)}:{word}", -1)
    hw = np.where(hw_pos >= 0, hw_pos, len(hardware))
    pos = np.where(given, table[code, hw, tier], -1)
    bad = given & (pos < 0) & ~np.equal(pricing, "owned")
    if bad.any():
        for i, j, t in sorted(set(zip(np.broadcast_to(code, (n,))[bad].tolist(), np.broadcast_to(hw, (n,))[bad].tolist(),
                                      np.broadcast_to(tier, (n,))[bad].tolist()))):
            errs.add(bad & (code == i) & (hw == j) & (tier == t), _provider_message(uniques[i], hardware, j,
                                                                                     RENTAL_TIERS[t]))
    return pos, given


def _provider_message(typed: str, hardware: list, j: int, tier: str) -> str:
    """Why a named provider has no price: no catalog device, a name the device's prices do not know, or a
    tier that provider does not publish for it."""
    shown = typed.strip()[:40]
    if j >= len(hardware):
        return (f"provider '{shown}' needs a hardware id from the catalog: only catalog devices have published "
                "prices. Give a hardware id, or leave provider empty")
    h = hardware[j]
    providers = h.providers()
    if not providers:
        return (f"Unknown provider '{shown}': '{h.id}' has no published prices in the catalog. Leave provider empty, "
                "or give price_per_hour")
    mine = [p for p in h.prices if normalize(p.provider) == normalize(shown)]
    if not mine:
        return f"Unknown provider '{shown}' for '{h.id}'. Its published prices are from: {', '.join(providers)}"
    tiers = [t for t in RENTAL_TIERS if any(p.tier == t for p in mine)]
    return (f"provider '{mine[0].provider}' publishes no {tier} price for '{h.id}' in the catalog; its tiers there: "
            f"{', '.join(tiers)}. Choose another pricing or provider")
