"""Writing files so that nothing is ever half-written: a temporary file beside the target,
renamed over it only when complete."""

from __future__ import annotations

import os
import tempfile
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
