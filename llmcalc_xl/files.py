"""Files in and out.

Outputs are never half-written and never land on an input: :func:`replacing` writes a
temporary file beside the target, flushes it to disk and renames it over the target only when
complete, and :func:`check_distinct` refuses an output that is one of the inputs (or another
output), however it is spelled. Inputs are read only when they are regular files within a
budget: :func:`read_bounded` for text files, :func:`check_workbook` for workbooks, which refuses
zip bombs, XML entity tricks and sheets far larger than a quote before any parser sees them.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import InvalidValueError, LlmcalcError

#: What a workbook handed in may hold. A quote of 10,000 scenarios (the most `fill --workbook`
#: writes) has about 2.3 million cells in 560 MB of XML; the limits leave room above that.
MAX_PARTS = 2_000                   # zip entries
MAX_UNCOMPRESSED = 1024**3          # bytes, all parts together
MAX_RATIO = 100                     # uncompressed / compressed, the whole file and each part over 1 MiB
MAX_CELLS = 4_000_000               # cells in all sheets
MAX_SHEET_AREA = 4_000_000          # rows x columns a sheet spans (its used range and its declared dimension)
#: What a catalog file may hold: the shipped catalogs together are about 100 KB.
MAX_CATALOG_BYTES = 8 * 1024**2
MAX_TOML_DEPTH = 16                 # nesting of arrays and inline tables

_EXCEL_ROWS, _EXCEL_COLUMNS = 1_048_576, 16_384


# --- paths ----------------------------------------------------------------------------------------

def regular_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` when it is an existing regular file (symbolic links followed); otherwise one clear
    message. Folders, pipes, devices and sockets are refused: reading them would fail, hang or never end."""
    given = os.fspath(path)
    try:
        info = os.stat(given)
    except FileNotFoundError:
        raise InvalidValueError(f"{what} '{given}' does not exist. Check the path.") from None
    except (OSError, ValueError) as exc:
        raise InvalidValueError(f"{what} '{given}' cannot be read ({_reason(exc)}). Check the path.") from None
    if stat.S_ISDIR(info.st_mode):
        raise InvalidValueError(f"{what} '{given}' is a folder. Give the path of a file.")
    if not stat.S_ISREG(info.st_mode):
        raise InvalidValueError(f"{what} '{given}' is not a regular file (a pipe, device or socket). "
                                "Save its content as a file and give that path.")
    return Path(given)


def read_bounded(path: str | os.PathLike, what: str, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes. The file is opened without blocking
    and checked after opening, so a pipe swapped in after a check cannot hang the read."""
    regular_file(path, what)
    given = os.fspath(path)
    try:
        fd = os.open(given, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise InvalidValueError(f"{what} '{given}' cannot be read ({_reason(exc)}). Check the path.") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise InvalidValueError(f"{what} '{given}' is not a regular file. Give the path of a file.")
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise InvalidValueError(f"{what} '{given}' cannot be read ({_reason(exc)}).") from None
    if len(data) > limit:
        raise InvalidValueError(f"{what} '{given}' is larger than {limit:,} bytes, far more than it should hold. "
                                "Check that it is the right file.")
    return data


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file: through links (symbolic or hard), '..', case or spelling."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        pass
    try:
        return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))
    except (OSError, ValueError):
        return False


def check_distinct(outputs: Iterable[tuple[str, Any]], inputs: Iterable[tuple[str, Any]] = ()) -> None:
    """Refuse, before anything is written, an output that is an input or another output.

    Each item is (what it is, as the user named it; path). ``None`` paths are skipped.
    """
    outputs = [(label, p) for label, p in outputs if p not in (None, "")]
    inputs = [(label, p) for label, p in inputs if p not in (None, "")]
    for i, (label, out) in enumerate(outputs):
        for other_label, other in inputs + outputs[:i]:
            if same_file(out, other):
                if not label.startswith("--") and other_label.startswith("--") and (other_label, other) in outputs:
                    label, out, other_label, other = other_label, other, label, out  # name the option to change
                raise InvalidValueError(f"{label} '{os.fspath(out)}' is the same file as {other_label} "
                                        f"'{os.fspath(other)}': writing it would destroy it. Choose another "
                                        f"{label.split()[0] if label.startswith('--') else 'path'}.")


def lock_file(path: str | os.PathLike) -> Path:
    """The lock file Excel (and LibreOffice's ``.~lock.``) keeps beside a file it has open."""
    path = Path(path)
    return path.with_name("~$" + path.name)


def check_not_open(path: str | os.PathLike) -> None:
    """Refuse to replace a file that Excel or LibreOffice has open (its lock file is beside it)."""
    path = Path(path)
    if not path.name:
        return
    for lock, app in ((lock_file(path), "Excel"), (path.with_name(f".~lock.{path.name}#"), "LibreOffice")):
        if lock.exists():
            raise InvalidValueError(f"'{path.name}' is open in {app} (its lock file {lock.name} is beside it). "
                                    f"Close it in {app} and try again.")


def check_writable(out: str | os.PathLike, probe: bool = False) -> Path:
    """The path a write to ``out`` will replace (a symbolic link's target), once it is known that
    its folder exists, it is neither a folder nor a special file, and no spreadsheet has it open.
    ``probe``: also create and remove a file in the folder, to refuse a read-only folder or a
    full disk before any work is done."""
    given = os.fspath(out)
    if not given:
        raise InvalidValueError("The output path is empty. Give a file name, e.g. --out results.csv.")
    try:
        target = Path(os.path.realpath(given)) if os.path.islink(given) else Path(given)
        parent = target.parent if str(target.parent) else Path(".")
        if not parent.is_dir():
            raise InvalidValueError(f"Output folder '{parent}' does not exist. Create it or choose another --out.")
        if target.exists() and not target.is_file():
            kind = "a folder" if target.is_dir() else "not a regular file"
            raise InvalidValueError(f"Output '{given}' is {kind}. Give the path of a file to write.")
    except OSError as exc:
        raise InvalidValueError(f"Output '{given}' cannot be written ({_reason(exc)}). Choose another path.") from None
    check_not_open(target)
    if probe:
        try:
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-", suffix=".tmp")
            os.close(fd)
            os.unlink(tmp)
        except OSError as exc:
            raise _cannot_write(out, exc) from None
    return target


# --- writing ------------------------------------------------------------------------------------

@contextmanager
def replacing(out: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``out``; when the block ends without an error the file is
    flushed to disk and renamed over ``out`` (with ordinary file permissions). Otherwise it is
    removed and ``out`` is untouched. Every writer of the tool goes through here."""
    target = check_writable(out)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-", suffix=".tmp")
        os.close(fd)
    except OSError as exc:
        raise _cannot_write(out, exc) from None
    try:
        try:
            yield Path(tmp)
        except OSError as exc:
            if exc.errno in _DISK_ERRORS or exc.filename == tmp:
                raise _cannot_write(out, exc) from None
            raise
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; outputs are ordinary files
            _fsync_file(tmp)
            os.replace(tmp, target)
        except OSError as exc:
            raise _cannot_write(out, exc) from None
        _fsync_folder(target.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def backup_copy(src: str | os.PathLike, backup: str | os.PathLike) -> Path:
    """Copy ``src`` to ``backup`` atomically: an interrupted copy leaves the previous backup whole."""
    with replacing(backup) as tmp:
        shutil.copyfile(src, tmp)
        shutil.copystat(src, tmp)
    return Path(backup)


_DISK_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, getattr(errno, "EDQUOT", -1)}


def _cannot_write(out: Any, exc: OSError) -> InvalidValueError:
    return InvalidValueError(f"'{os.fspath(out)}' cannot be written ({_reason(exc)}). Choose another folder, or "
                             "free space or fix the folder's permissions.")


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _fsync_file(path: str) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable; not every system can open a folder (Windows), which is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- workbooks handed in ---------------------------------------------------------------------------

_CELL = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d{1,7})$")


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def check_workbook(path: str | os.PathLike, what: str = "Workbook") -> Path:
    """Refuse, before any parser reads it, a file that is not a workbook of sane size: not a regular
    file, not a zip, too many parts, too large or too compressed when expanded (zip bombs), XML
    with a DOCTYPE (entity expansion) or not well-formed, sheets spanning more cells than a quote."""
    path = regular_file(path, what)
    name = f"{what} '{os.fspath(path)}'"
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            _check_parts(name, infos, os.path.getsize(path))
            _check_xml(name, z, infos)
    except LlmcalcError:
        raise
    except zipfile.BadZipFile:
        raise InvalidValueError(f"{name} is not an .xlsx workbook. Give a workbook made by `llmcalc-xl build`.") \
            from None
    except (OSError, ValueError, EOFError, NotImplementedError, RuntimeError, zipfile.LargeZipFile) as exc:
        raise InvalidValueError(f"{name} is a damaged .xlsx file ({_reason(exc)}). Open it in Excel, save it "
                                "again and retry.") from None
    return path


def _check_parts(name: str, infos: list[zipfile.ZipInfo], size: int) -> None:
    total = sum(i.file_size for i in infos)
    refuse = " Refusing to open it; a quote workbook stays far below that."
    if len(infos) > MAX_PARTS:
        raise InvalidValueError(f"{name} has {len(infos):,} parts, more than {MAX_PARTS:,}.{refuse}")
    if total > MAX_UNCOMPRESSED:
        raise InvalidValueError(f"{name} expands to {total:,} bytes, more than {MAX_UNCOMPRESSED:,}.{refuse}")
    if total > MAX_RATIO * max(size, 1):
        raise InvalidValueError(f"{name} expands {total / max(size, 1):,.0f} times (to {total:,} bytes), more than "
                                f"{MAX_RATIO} times as a workbook's XML does.{refuse}")
    for i in infos:
        if i.file_size > 1024**2 and i.file_size > MAX_RATIO * max(i.compress_size, 1):
            raise InvalidValueError(f"{name} has a part ({i.filename}) that expands "
                                    f"{i.file_size / max(i.compress_size, 1):,.0f} times, more than {MAX_RATIO} "
                                    f"times as a workbook's XML does.{refuse}")
    names = {i.filename for i in infos}
    for needed in ("[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
        if needed not in names:
            raise InvalidValueError(f"{name} is not a complete .xlsx workbook: it has no part '{needed}'. Open it in "
                                    "Excel, save it again and retry.")


def _sheet_names(z: zipfile.ZipFile) -> dict[str, str]:
    """{part name: sheet name}, for messages; empty when the workbook does not say."""
    from lxml import etree

    try:
        rels = etree.fromstring(z.read("xl/_rels/workbook.xml.rels"), _safe_parser())
        targets = {r.get("Id"): r.get("Target", "") for r in rels}
        book = etree.fromstring(z.read("xl/workbook.xml"), _safe_parser())
        out = {}
        for sheet in book.iter("{*}sheet"):
            rid = next((v for k, v in sheet.attrib.items() if k.endswith("}id")), None)
            target = targets.get(rid, "")
            part = target.lstrip("/") if target.startswith("/") else "xl/" + target
            out[part] = sheet.get("name", part)
        return out
    except Exception:  # only for nicer messages; the parts are checked one by one below
        return {}


def _safe_parser():
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _check_xml(name: str, z: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    from lxml import etree

    sheets = _sheet_names(z)
    cells = 0
    for info in infos:
        if not info.filename.endswith((".xml", ".rels", ".vml")):
            continue
        is_sheet = info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")
        label = f"sheet '{sheets[info.filename]}'" if info.filename in sheets else f"part {info.filename}"
        try:
            with z.open(info) as fh:
                cells += _scan_part(name, label, fh, is_sheet)
        except etree.XMLSyntaxError as exc:
            raise InvalidValueError(f"{name} is damaged: its {label} is not well-formed XML ({str(exc)[:80]}). Open "
                                    "it in Excel, save it again and retry.") from None
        if cells > MAX_CELLS:
            raise InvalidValueError(f"{name} holds more than {MAX_CELLS:,} cells, far more than a quote workbook. "
                                    "Refusing to open it.")


def _scan_part(name: str, label: str, fh, is_sheet: bool) -> int:
    """Parse one XML part as a stream: no DOCTYPE, well-formed; for a sheet, count its cells and
    find how far they reach. Returns the number of cells."""
    from lxml import etree

    options = dict(events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False,
                   huge_tree=False, remove_comments=True, remove_pis=True)
    if is_sheet:  # only whole rows reach Python (cells are counted in C): fast on a 100 MB sheet
        options["tag"] = ("{*}worksheet", "{*}row", "{*}dimension")
    count = max_row = max_col = row = 0
    first = True
    parts = etree.iterparse(fh, **options)
    columns: dict[str, int] = {}    # column letters -> number, each worked out once
    for event, el in parts:
        if first:
            first = False
            _check_doctype(name, label, el)
            if not is_sheet:
                return 0  # the rest is openpyxl's to read
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "dimension" and event == "start":
            _check_dimension(name, label, el.get("ref", ""))
        if tag != "row" or event != "end":
            continue
        r = el.get("r")
        row = int(r) if r and r.isdigit() and len(r) < 9 else row + 1
        n = len(el)
        count += n
        col = n
        for cell in (el[0], el[-1]) if n else ():  # cells are in column order: the last reaches furthest
            ref = cell.get("r")
            if ref is None:
                continue
            letters = ref.rstrip("0123456789")
            c = columns.get(letters) or columns.setdefault(letters, _column_of(name, label, ref, letters))
            digits = ref[len(letters):]
            if not digits or len(digits) > 7:
                raise _not_a_cell(name, label, ref)
            col = max(col, c)
        if row > max_row or col > max_col:
            if row > _EXCEL_ROWS or col > _EXCEL_COLUMNS or row < 1:
                raise InvalidValueError(f"{name} is damaged: its {label} has a cell beyond the last row or "
                                        "column of a sheet. Open it in Excel, save it again and retry.")
            max_row, max_col = max(max_row, row), max(max_col, col)
            if max_row * max_col > MAX_SHEET_AREA:
                raise _too_far(name, label, f"has a cell at {_ref(col, row)}", max_row, max_col)
        el.clear()
        while el.getprevious() is not None:  # keep memory flat: drop the rows already counted
            del el.getparent()[0]
    if first and parts.root is not None:
        _check_doctype(name, label, parts.root)
    return count


def _check_doctype(name: str, label: str, el) -> None:
    if el.getroottree().docinfo.doctype:
        raise InvalidValueError(f"{name} has a document type declaration in its {label}, which no spreadsheet "
                                "writes (it can expand entities without bound). Refusing to open it.")


def _column_of(name: str, label: str, ref: str, letters: str) -> int:
    if not 1 <= len(letters) <= 3 or not letters.isalpha() or not letters.isascii():
        raise _not_a_cell(name, label, ref)
    return _column_number(letters)


def _not_a_cell(name: str, label: str, ref: str) -> InvalidValueError:
    return InvalidValueError(f"{name} is damaged: its {label} has a cell at '{ref[:20]}', which is not a cell "
                             "reference. Open it in Excel, save it again and retry.")


def _check_dimension(name: str, label: str, ref: str) -> None:
    last = ref.split(":")[-1]
    m = _CELL.match(last)
    if m:
        col, row = _column_number(m.group(1)), int(m.group(2))
        if row * col > MAX_SHEET_AREA:
            raise _too_far(name, label, f"spans {ref[:30]}", row, col)


def _ref(col: int, row: int) -> str:
    letters = ""
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return f"{letters}{row}"


def _too_far(name: str, label: str, what: str, rows: int, cols: int) -> InvalidValueError:
    return InvalidValueError(
        f"{name}: its {label} {what}, which makes {rows:,} rows x {cols:,} columns, more than a quote workbook "
        f"spans ({MAX_SHEET_AREA:,} cells a sheet). Delete the rows and columns beyond your data, save, and retry.")


def open_workbook(path: str | os.PathLike, what: str = "Workbook", *, checked: bool = False, **options: Any):
    """openpyxl's ``load_workbook`` on a file :func:`check_workbook` passed (``checked``: the caller
    has just checked it); whatever openpyxl cannot make sense of becomes one message instead of
    its exception."""
    import warnings

    from openpyxl import load_workbook

    path = Path(path) if checked else check_workbook(path, what)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about extensions it drops; refresh says so itself
            return load_workbook(path, **options)
    except LlmcalcError:
        raise
    except Exception as exc:  # a damaged workbook fails in openpyxl in many ways; they all mean the same to a user
        raise unreadable(path, what, exc) from exc


def unreadable(path: Any, what: str, exc: BaseException) -> InvalidValueError:
    """The message for a workbook openpyxl failed on."""
    detail = (str(exc).splitlines() or [""])[0][:80]
    return InvalidValueError(f"{what} '{os.fspath(path)}' cannot be read as an .xlsx workbook ({type(exc).__name__}"
                             f"{': ' + detail if detail else ''}). Open it in Excel, save it again and retry.")
