"""Files in and out: outputs are never half-written (a temporary file beside the target,
renamed over it only when complete); workbooks a user hands in are checked before opening."""

from __future__ import annotations

import os
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import InvalidValueError


@contextmanager
def replacing(out: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``out``; when the block ends without an error it replaces
    ``out`` (with ordinary file permissions), otherwise it is removed and ``out`` is untouched."""
    out = Path(out)
    if not out.parent.exists():
        raise InvalidValueError(f"Output folder '{out.parent}' does not exist. Create it or choose another --out.")
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}-", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; outputs are ordinary files
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


#: Zip entries and sizes a quote workbook stays far below; a larger file is refused unread.
MAX_ENTRIES = 10_000
MAX_UNCOMPRESSED = 2 * 1024**3
MAX_RATIO = 200


def check_zip(path: Path) -> None:
    """Refuse files that are not workbooks, or that would expand far beyond their size (zip bombs)."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except FileNotFoundError:
        raise InvalidValueError(f"Workbook '{path}' does not exist. Check the path.") from None
    except zipfile.BadZipFile:
        raise InvalidValueError(f"'{path}' is not an .xlsx workbook. Give a workbook made by `llmcalc-xl build`.") \
            from None
    total = sum(i.file_size for i in infos)
    packed = max(sum(i.compress_size for i in infos), 1)
    if len(infos) > MAX_ENTRIES or total > MAX_UNCOMPRESSED or total / packed > MAX_RATIO:
        raise InvalidValueError(f"'{path}' expands to {total:,} bytes in {len(infos):,} parts, far more than a "
                                "quote workbook. Refusing to open it.")
