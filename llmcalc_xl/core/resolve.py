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


def _positions(cat: Catalog, group: str, value: Any, n: int, errs: RowErrors, what: str,
               blank: int | None = None) -> np.ndarray:
    """Row numbers into the group's table. Blank cells (and "auto") take ``blank``; with
    ``blank=None`` they are an error. Unknown names are errors (position -1)."""
    table = cat.table(group)
    column, single = text_column(value)
    if column is None:
        uniques, codes = [single], None
    else:
        codes, uniques = _factorize(column)
    upos = np.empty(len(uniques), dtype=np.int64)
    for i, u in enumerate(uniques):
        rows = True if codes is None else codes == i
        if _is_blank(u) or (blank is not None and isinstance(u, str) and u.strip().lower() == "auto"):
            upos[i] = -1 if blank is None else blank
            if blank is None:
                errs.add(rows, f"{what} is empty. Give a {what} id; `llmcalc-xl catalog {group}` lists them.",
                         UnknownIdError)
            continue
        upos[i] = table.position(u)
        if upos[i] < 0:
            errs.add(rows, _unknown(cat, group, what, u), UnknownIdError)
    if codes is None:
        return np.broadcast_to(upos[0], (n,))
    return upos[codes]


def _choices(name: str, value: Any, n: int, errs: RowErrors, choices: tuple[str, ...], fix: str = "") -> np.ndarray:
    """The word each row gives for a text option that takes one of ``choices``, matched as catalog
    names are (any case, without spaces, hyphens or underscores: "On demand" is on-demand); None
    where empty or "auto". Another word is the row's error: "pricing 'spot' must be on-demand or
    owned. <fix>."."""
    known = {normalize(c): c for c in choices}
    rule = ", ".join(choices[:-1]) + " or " + choices[-1] if len(choices) > 1 else choices[0]
    column, single = text_column(value)
    if column is None:
        uniques, codes = [single], None
    else:
        codes, uniques = _factorize(column)
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


def _factorize(column: np.ndarray) -> tuple[np.ndarray, list]:
    if len(column) > 2000:
        import pandas as pd  # only for big columns: a hash table beats sorting strings
        codes, uniques = pd.factorize(column, use_na_sentinel=False)
        return codes, list(uniques)
    index: dict[Any, int] = {}
    codes = np.empty(len(column), dtype=np.int64)
    for i, v in enumerate(column.tolist()):
        key = v if not (isinstance(v, float) and math.isnan(v)) else None
        codes[i] = index.setdefault(key, len(index))
    return codes, list(index)


def _unknown(cat: Catalog, group: str, what: str, value: Any) -> str:
    if not isinstance(value, str):
        return f"{what} must be an id (text), got {value!r}"
    return f"Unknown {what} '{value}'. {cat.suggest(group, value)}"


def _take(column: np.ndarray, pos: np.ndarray, missing: Any = math.nan) -> np.ndarray:
    """column[pos] with ``missing`` where pos < 0; cheap when pos is one broadcast value."""
    padded = np.append(column, np.asarray([missing], dtype=column.dtype))
    pos = np.where(pos < 0, len(column), pos) if (np.asarray(pos) < 0).any() else pos
    if pos.ndim == 1 and pos.strides == (0,):
        return np.broadcast_to(padded[pos[0]:pos[0] + 1], pos.shape)  # keeps the dtype (object stays object)
    return padded[pos]


def _is_blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _add_note(notes: np.ndarray, mask: np.ndarray, text: np.ndarray) -> np.ndarray:
    """Append ``text`` to the notes of the rows in ``mask`` (one line each)."""
    rows = np.flatnonzero(mask)
    if not len(rows):
        return notes
    notes = notes.copy()
    old, new = notes[rows], np.broadcast_to(text, mask.shape)[rows]
    empty = np.equal(old, NONE)
    notes[rows[empty]] = new[empty]
    if (~empty).any():
        notes[rows[~empty]] = old[~empty] + "\n" + new[~empty]
    return notes


class RowNotes:
    """Each row's notes: ``texts`` (one line per note, None for none) and ``kinds`` (bit i set:
    a note of kind ``NOTE_KINDS[i]``). Notes are added in ``NOTE_KINDS`` order, so a row's lines
    and its bits list the same notes in the same order (``notes_of`` pairs them)."""

    def __init__(self, n: int):
        self.texts = np.full(n, None, dtype=object)
        self.kinds = np.zeros(n, dtype=np.uint8)
        self._last = -1

    def add(self, kind: NoteKind, mask: np.ndarray, text: np.ndarray) -> None:
        """Note ``text`` (per row; None elsewhere) of ``kind`` on the rows in ``mask``."""
        bit = NOTE_KINDS.index(kind)
        if bit <= self._last:
            raise RuntimeError(f"note '{kind}' added after a later kind: add notes in NOTE_KINDS order")
        self._last = bit
        if mask.any():
            self.texts = _add_note(self.texts, mask, text)
            self.kinds = self.kinds | np.where(mask, np.uint8(note_bit(kind)), np.uint8(0))


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
    out = np.full(len(mask), None, dtype=object)
    a = np.broadcast_to(a, mask.shape)
    b = np.broadcast_to(b, mask.shape)
    for i in np.flatnonzero(mask)[:1000]:
        out[i] = template.format(a[i], b[i])
    rest = np.flatnonzero(mask)[1000:]
    if len(rest):  # a million bad rows: format the distinct pairs once
        pairs = {}
        for i in rest:
            key = (a[i], b[i])
            if key not in pairs:
                pairs[key] = template.format(*key)
            out[i] = pairs[key]
    return out


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
