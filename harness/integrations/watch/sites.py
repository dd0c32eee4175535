"""Where in the user's code a call happened: the first stack frame outside torch, harness and
the installed packages, as ``FILE:LINE`` (the path as the user's code names it) plus its line.

Finding a site walks a few frames up from the caller (microseconds) and keeps only the
file name and line number; the source line is read (``linecache``) once, when a finding
is reported, never per step.
"""

from __future__ import annotations

import linecache
import os
import sys
import sysconfig
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any

_HERE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # .../harness
_LIBRARY_DIRS = tuple(
    {
        os.path.abspath(p)
        for key in ("purelib", "platlib", "stdlib", "platstdlib")
        if (p := sysconfig.get_paths().get(key))
    }
)
#: the program's working directory when the watcher loaded (its first ``import torch``)
STARTED_IN = os.getcwd()
_TORCH_MARK = os.sep + "torch" + os.sep
#: code object -> whether its file is the user's (cached: each code object is judged once)
_USER_CODE: dict[CodeType, bool] = {}


def _is_user_file(filename: str) -> bool:
    if filename.startswith("<") and not filename.startswith("<ipython"):
        return False  # <frozen runpy>, <string> from torch internals
    path = os.path.abspath(filename)
    if path.startswith(_HERE + os.sep) or _TORCH_MARK in path:
        return False
    if "site-packages" in path or "dist-packages" in path:
        return False
    return not any(path.startswith(d + os.sep) for d in _LIBRARY_DIRS)


def is_user_code(code: CodeType) -> bool:
    known = _USER_CODE.get(code)
    if known is None:
        known = _USER_CODE[code] = _is_user_file(code.co_filename)
    return known


@dataclass(frozen=True)
class Site:
    """A place in the user's code: file as the code names it, line number."""

    file: str
    line: int

    def where(self) -> str:
        """``FILE:LINE``, the file relative to the directory the program started in when it lies under it."""
        path = self.file
        if os.path.isabs(path):
            try:
                rel = os.path.relpath(path, STARTED_IN)  # not where a chdir() of the program left it
            except ValueError:  # another drive (Windows)
                rel = path
            path = rel if not rel.startswith("..") else path
        return f"{path}:{self.line}"

    def source(self) -> str:
        return linecache.getline(self.file, self.line).strip()

    def as_dict(self) -> dict[str, Any]:
        return {"where": self.where(), "source": self.source()}


def call_site(skip: int = 1) -> Site | None:
    """The first frame of the user's code above the caller, or None (a call from a library only)."""
    frame: FrameType | None = sys._getframe(skip)
    while frame is not None:
        if is_user_code(frame.f_code):
            return Site(frame.f_code.co_filename, frame.f_lineno)
        frame = frame.f_back
    return None
