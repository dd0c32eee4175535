"""The docs' output excerpts, produced by running the commands they show.

Every fenced block of README.md and docs/**/*.md that shows what a command prints is marked
with an HTML comment naming that command, on the line before the fence::

    <!-- excerpt: harness doctor scenarios/tabular_multiclass.yaml --variant broken -j 2
         cut: ^diagnosis .. ^LR range test
    -->
    ```
    $ harness doctor scenarios/tabular_multiclass.yaml --variant broken -j 2
    ...
    ```

``python tools/excerpts.py`` runs each command (at a fixed width, COLUMNS=80 unless the
marker says ``columns:``; the scenarios' fixed seeds make the numbers deterministic) and
writes its output into the block; ``python tools/excerpts.py --check`` runs them and exits 1
naming each file, line and command whose block differs from a real run's. Both compare only
the *key lines*: the output with run-dependent numbers (seconds, elapsed times, the torch
build) masked, so a regeneration that changes only timings leaves the page as it is.

Each command runs in a fresh temporary directory in which the checkout's top-level entries
(scenarios/, examples/, benchmarks/, ...) are symbolic links, so that results, checkpoints
and saved scenarios never land in the checkout; ``harness``, ``pytest`` and ``python`` are
this environment's; the command may start with ``NAME=VALUE`` settings (``PYTHONPATH=.``).
Lines the marker may add after the command, applied in this order:

- ``copy: walkthrough`` -- run among the files of docs/replay.md's walkthrough (its blocks
  marked ``<!-- walkthrough: NAME -->``); ``copy: DIR``: in a copy of DIR's files; ``copy: FILE as NAME``: in a directory
  holding only FILE, named NAME (``harness watch -- python train.py``)
- ``columns: N`` -- the terminal width (default 80)
- ``exit: N`` -- the exit code the command must end with (default 0)
- ``from: REGEX`` -- drop the lines before the first that matches (a header)
- ``keep: REGEX`` -- keep only the lines that match
- ``cut: A .. B`` -- replace the lines from the first matching A up to the first matching B
  after it (not included; no B: to the end) by one ``...`` line; repeatable
- ``head: N`` -- keep the first N lines, then ``...``
- ``prompt: no`` -- no ``$ COMMAND`` first line (a block that shows only the output)

Progress bars are always dropped (they are drawn for a terminal, not a page), and the
temporary directory's path (and the checkout's, where a symlinked one was resolved) reads
``/path``. tests/test_excerpts.py runs ``--check``.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the pages whose excerpts are generated
PAGES = ("README.md", "docs")
#: the marker comment (its command on the first line, options on the next ones) and the fenced block after it
BLOCK = re.compile(
    r"^(?P<indent>[ \t]*)<!-- excerpt: (?P<spec>.*?)-->\n(?P=indent)(?P<fence>```[\w-]*)\n(?P<body>.*?)^(?P=indent)```$",
    re.S | re.M,
)
#: what a run may print differently each time: masked before comparing
VOLATILE = [
    (re.compile(r"\b\d+(\.\d+)?\s?(s|ms)\b"), "<secs>"),  # 18.7 s of training, 13.30s
    (re.compile(r"\b\d+:\d\d:\d\d\b"), "<time>"),  # 0:00:07
    (re.compile(r"torch \d+\.\d+\.\d+\S*"), "torch <version>"),
    (re.compile(r"(/tmp|/var/folders)/[^\s/]+"), "<tmpdir>"),  # a run's own temporary directory
    (re.compile(r"={3,}"), "==="),  # pytest's summary line is centred: its padding follows the seconds
    (re.compile(r"[ \t]+"), " "),
]
TEMPNAME = re.compile(r"(/tmp/[\w.]*-)[a-z0-9_]{8}\b")  # /tmp/harness-script-46ot348i
PROGRESS = re.compile(r"━|-:--:--")  # a progress bar's line
TIMEOUT_S = 600


@dataclass
class Excerpt:
    """One marked block: where it is, the command and options of its marker, and its current text."""

    path: Path
    line: int  # of the marker, 1-based
    command: str
    options: list[tuple[str, str]] = field(default_factory=list)
    fence: str = "```"
    indent: str = ""
    body: str = ""

    def option(self, key: str, default: str | None = None) -> str | None:
        return next((v for k, v in self.options if k == key), default)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    def run_key(self) -> tuple[str, str | None, str | None]:
        return (self.command, self.option("copy"), self.option("columns"))


def pages() -> list[Path]:
    found: list[Path] = []
    for name in PAGES:
        path = ROOT / name
        found += sorted(path.rglob("*.md")) if path.is_dir() else [path]
    return found


def excerpts(path: Path) -> list[Excerpt]:
    """The marked blocks of one page."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in BLOCK.finditer(text):
        spec_lines = [line.strip() for line in match["spec"].strip().splitlines()]
        options = []
        for line in spec_lines[1:]:
            key, _, value = line.partition(":")
            if key.strip() not in {"copy", "columns", "exit", "from", "keep", "cut", "head", "prompt"}:
                raise SystemExit(f"{path.relative_to(ROOT)}: unknown excerpt option {line!r}")
            options.append((key.strip(), value.strip()))
        found.append(
            Excerpt(
                path=path,
                line=text.count("\n", 0, match.start()) + 1,
                command=spec_lines[0],
                options=options,
                fence=match["fence"],
                indent=match["indent"],
                body=match["body"],
            )
        )
    return found


def walkthrough_files() -> dict[str, str]:
    """The files of docs/replay.md's walkthrough: the blocks marked ``<!-- walkthrough: NAME -->``."""
    import textwrap

    marked = re.compile(r"<!-- walkthrough: (\S+) -->\n([ \t]*)```[\w-]*\n(.*?)\n\2```", re.S)
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").rglob("*.md")))
    return {name: textwrap.dedent(body) + "\n" for name, _indent, body in marked.findall(text)}


def _workdir(excerpt: Excerpt, tmp: Path) -> Path:
    copy = excerpt.option("copy")
    if copy == "walkthrough":
        for name, body in walkthrough_files().items():
            (tmp / name).write_text(body, encoding="utf-8")
        return tmp
    if copy:
        source, _, name = (part.strip() for part in copy.partition(" as "))
        if (ROOT / source).is_file():
            shutil.copyfile(ROOT / source, tmp / (name or Path(source).name))
        else:
            shutil.copytree(ROOT / source, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        return tmp
    for entry in ROOT.iterdir():
        if entry.name not in {".git", ".venv", ".harness", ".tox", "site", "build", "dist"}:
            (tmp / entry.name).symlink_to(entry)
    return tmp


def run(excerpt: Excerpt) -> tuple[int, str]:
    """Run the marker's command in a fresh directory: its exit code and its output (stdout and
    stderr interleaved as written), progress bars dropped, the directory's path as ``/path``."""
    env = dict(os.environ)
    env.update(
        COLUMNS=excerpt.option("columns", "80") or "80",
        LINES="50",
        NO_COLOR="1",
        TERM="dumb",
        PYTHONUNBUFFERED="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    env.pop("FORCE_COLOR", None)
    with tempfile.TemporaryDirectory(prefix="excerpt-") as name:
        tmp = Path(name)
        cwd = _workdir(excerpt, tmp)
        argv = shlex.split(excerpt.command)
        while argv and re.fullmatch(r"[A-Z_]+=\S*", argv[0]):  # PYTHONPATH=. harness run ...
            key, _, value = argv.pop(0).partition("=")
            env[key] = str(cwd / value) if value == "." else value
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=TIMEOUT_S,
        )
        output = done.stdout
        for spelling in {str(tmp), os.path.realpath(tmp), str(ROOT)}:  # symlinked paths resolve to ROOT
            output = output.replace(spelling, "/path")
    output = TEMPNAME.sub(r"\1XXXXXXXX", output)  # a temporary directory of the run's own (mkdtemp)
    lines = [line.rstrip() for line in output.splitlines() if not PROGRESS.search(line)]
    return done.returncode, "\n".join(lines)


def select(excerpt: Excerpt, output: str) -> list[str]:
    """The lines the page shows: the marker's from/keep/cut/head applied, in that order."""
    lines = output.splitlines()
    start = excerpt.option("from")
    if start:
        first = next((i for i, line in enumerate(lines) if re.search(start, line)), None)
        if first is None:
            raise ValueError(f"no line matches from: {start}")
        lines = lines[first:]
    keep = excerpt.option("keep")
    if keep:
        lines = [line for line in lines if re.search(keep, line)]
    for key, value in excerpt.options:
        if key != "cut":
            continue
        parts = re.split(r"\s+\.\.(?:\s+|$)", value, maxsplit=1)  # "A .. B", or "A .." (to the end)
        begin, end = parts[0].strip(), (parts[1].strip() if len(parts) > 1 else "")
        a = next((i for i, line in enumerate(lines) if re.search(begin, line)), None)
        if a is None:
            raise ValueError(f"no line matches cut: {begin}")
        b = next((i for i in range(a + 1, len(lines)) if end and re.search(end, lines[i])), len(lines))
        lines = [*lines[:a], "...", *lines[b:]]
    head = excerpt.option("head")
    if head and len(lines) > int(head):
        lines = [*lines[: int(head)], "..."]
    while lines and not lines[-1]:
        lines.pop()
    prompt = [] if excerpt.option("prompt") == "no" else [f"$ {excerpt.command}"]
    return prompt + lines


def key_lines(text: str) -> list[str]:
    """The lines compared: each with its run-dependent numbers masked, blank lines dropped."""
    out = []
    for line in text.splitlines():
        for pattern, mask in VOLATILE:
            line = pattern.sub(mask, line)
        if line.strip():
            out.append(line.strip())
    return out


def _differences(old: list[str], new: list[str]) -> str:
    import difflib

    diff = list(difflib.unified_diff(old, new, "page", "real run", n=1, lineterm=""))
    return "\n".join(f"    {line}" for line in diff[2:14]) + ("\n    ..." if len(diff) > 14 else "")


def process(paths: list[Path], write: bool, only: str | None = None, log: bool = True) -> list[str]:
    """Run every marked command (once per distinct command) and compare or rewrite its block.
    Returns one problem per block that differs from its run (or whose run failed)."""
    cache: dict[tuple[str, str | None, str | None], tuple[int, str, float]] = {}
    problems: list[str] = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        blocks = excerpts(path)
        new_text = text
        for excerpt in blocks:
            if only and only not in excerpt.command:
                continue
            key = excerpt.run_key()
            if key not in cache:
                started = time.monotonic()
                code, output = run(excerpt)
                cache[key] = (code, output, time.monotonic() - started)
                if log:
                    print(f"{excerpt.where}: {excerpt.command} ({cache[key][2]:.0f} s)", file=sys.stderr)
            code, output, _ = cache[key]
            expected = int(excerpt.option("exit", "0") or 0)
            if code != expected:
                tail = "\n".join(f"    {line}" for line in output.splitlines()[-15:])
                problems.append(f"{excerpt.where}: `{excerpt.command}` exited {code}, not {expected}:\n{tail}")
                continue
            try:
                lines = select(excerpt, output)
            except ValueError as exc:
                problems.append(f"{excerpt.where}: `{excerpt.command}`: {exc}")
                continue
            if key_lines(excerpt.body) == key_lines("\n".join(lines)):
                continue
            if write:
                body = "".join(f"{excerpt.indent}{line}".rstrip() + "\n" for line in lines)
                old = f"{excerpt.indent}{excerpt.fence}\n{excerpt.body}{excerpt.indent}```"
                new_text = new_text.replace(old, f"{excerpt.indent}{excerpt.fence}\n{body}{excerpt.indent}```", 1)
                problems.append(f"{excerpt.where}: rewritten from `{excerpt.command}`")
            else:
                diff = _differences(key_lines(excerpt.body), key_lines("\n".join(lines)))
                problems.append(f"{excerpt.where}: the excerpt of `{excerpt.command}` differs from a real run:\n{diff}")
        if write and new_text != text:
            path.write_text(new_text, encoding="utf-8")
    return problems


def check() -> list[str]:
    """Every excerpt's key lines against a real run: one message per block that differs."""
    return process(pages(), write=False, log=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when an excerpt differs")
    parser.add_argument("--only", metavar="TEXT", help="only the excerpts whose command contains TEXT")
    parser.add_argument("--list", action="store_true", help="list the marked blocks and exit")
    args = parser.parse_args(argv)
    if args.list:
        for path in pages():
            for excerpt in excerpts(path):
                print(f"{excerpt.where}: {excerpt.command}")
        return 0
    problems = process(pages(), write=not args.check, only=args.only)
    for problem in problems:
        print(problem)
    if args.check:
        return 1 if problems else 0
    failed = [p for p in problems if "rewritten from" not in p]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
