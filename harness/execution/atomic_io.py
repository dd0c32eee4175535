"""Atomic file writes: a reader finds the previous file or the new one, never half of one.

Every result file, report and plot goes through :func:`write_atomic`, so an interrupted or
failing write (a full disk, Ctrl-C) never leaves a truncated file behind.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from harness.core.run_record import json_default

__all__ = ["json_default", "os_error_text", "write_atomic", "write_json_atomic"]


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file next to it and a rename, so a reader
    finds the previous file or the new one, never half of one. When the write fails (a full
    disk, no permission, a file where a directory should be) the ``OSError`` propagates, the
    previous file is untouched and the temporary file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, payload: Any) -> None:
    """``payload`` as indented JSON (numpy/torch scalars and arrays as numbers and lists)."""
    write_atomic(path, json.dumps(payload, indent=1, default=json_default))


def os_error_text(exc: OSError) -> str:
    """The OS error without the file name (``[Errno 28] No space left on device``): the messages
    that use it name the path themselves, as the final path rather than a temporary file."""
    if exc.errno is not None and exc.strerror:
        return f"[Errno {exc.errno}] {exc.strerror}"
    return f"{type(exc).__name__}: {exc}"
