"""One (variant, seed) run of a script workload: the program in its own process, under the watcher.

Where :mod:`harness.execution.run_one` trains a ``Workload`` in this process, a script run
starts the variant's program (:class:`harness.scenario.schema.ScriptRun`) as ``harness watch``
does (:mod:`harness.execution.watch_launch`), in its own process group, with the run's seed
(:mod:`harness.integrations.watch.seeding`), and makes a run record of what it left:

- ``runs/<variant>-seed<S>/stdout.txt`` and ``stderr.txt``: the program's output, kept;
- the watcher's record (its first process's: rank 0) gives the history (per epoch ``loss``,
  ``val_loss``, ``lr``, ``steps``), the findings (each with ``where``, FILE:LINE) and the trace;
- each ``metrics:`` regex adds the numbers the program printed: one per epoch when it matched
  once per epoch, else its last match as the last epoch's (``final``);
- ``exit``: the exit code; not 0 makes the status ``error`` unless a line expects an exit code;
  a program that ended well but left no watcher record is an ``error`` too (nothing was watched).

A ``patch`` is applied to a temporary copy of the script's folder, which the program then runs
in; with ``git``, the repository's tree at that commit is exported into a temporary folder, the
patch applied on top, and the program runs in the script's folder of it. A run never raises; Ctrl-C ends the program's whole process group and goes on up. If this
process dies (an executor's ``--timeout`` kills it), the kernel ends the program too (Linux).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.execution.records import RunKey, RunRecord, base_record, judge
from harness.execution.watch_launch import collect_records, watch_env, write_sitecustomize

if TYPE_CHECKING:
    from harness.scenario import Scenario
    from harness.scenario.schema import ScriptRun

#: what a copy of the script's folder leaves out (results, caches, environments)
IGNORED = shutil.ignore_patterns(".harness", "__pycache__", ".git", ".venv", "*.pyc")
#: threads of a program whose environment sets none: one, so a run's numbers do not depend on ``-j``
#: (as :data:`harness.execution.executor.WORKER_THREADS` for a workload's runs)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


NOT_WATCHED = (
    "the program ended without a watcher record: it trained nothing the watcher saw (no torch "
    "optimizer step or backpropagated loss), or its Python could not import harness (see stderr.txt)"
)


class ProgramError(Exception):
    """The program could not be started (a patch that does not apply, an interpreter that is missing)."""


def execute_script_run(scenario: Scenario, key: RunKey, *, work_dir: Path) -> RunRecord:
    """Run the program of ``key``'s variant with ``key.seed`` and return its judged record."""
    variant = scenario.variants[key.variant]
    program = variant.script
    assert program is not None  # run_one dispatches only script variants here
    run_dir = (Path(work_dir) / "runs" / key.slug).resolve()  # absolute: the program runs elsewhere
    shutil.rmtree(run_dir / "watch", ignore_errors=True)  # of an earlier try
    (run_dir / "watch").mkdir(parents=True, exist_ok=True)
    record = base_record(scenario, key)
    started = time.perf_counter()
    command: dict[str, Any] = {}
    try:
        code: int | None = launch(program, key.seed, run_dir, started=command)
    except ProgramError as exc:
        code, record["error"] = None, {"message": str(exc), "type": "ProgramError"}
    if command:
        record["train"] = command
    record["seconds"] = round(time.perf_counter() - started, 3)
    if code is not None:
        expects_exit = any(e.kind == "run_value" and e.parts["name"] == "exit" for e in variant.expectations)
        fill_record(record, collect_records(run_dir / "watch"), code, program, run_dir, expects_exit=expects_exit)
    judge(scenario, key, record)
    return record


def launch(
    program: ScriptRun,
    seed: int,
    run_dir: Path,
    *,
    config: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    started: dict[str, Any] | None = None,
) -> int:
    """Run ``program`` once under the watcher, seeded with ``seed`` (unless it seeds itself), its
    output and the watcher's records (``watch/``) into ``run_dir`` (which exists); its exit code.

    ``config``: more of ``HARNESS_WATCH_CONFIG`` over the variant's ``plugins`` and ``fixes``
    (the LR range test's ``lr_sweep``); ``timeout``: seconds before the program is killed;
    ``started`` gets the ``command`` and ``cwd`` once they are known.
    :raises ProgramError: it could not be started, or it ran past ``timeout``."""
    with tempfile.TemporaryDirectory(prefix="harness-script-") as tmp:
        cwd, argv = prepare(program, Path(tmp))
        if started is not None:
            started.update(command=argv, cwd=str(cwd))
        write_sitecustomize(Path(tmp))
        env = watch_env(
            Path(tmp),
            run_dir / "watch",
            {"plugins": program.plugins, "fixes": program.fixes, **(config or {})},
            base=program_env(program.env),
            seed=seed if program.seeding else None,
        )
        return run_program(argv, env, cwd, run_dir, timeout=timeout)


def program_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment, one thread where it sets none (:data:`THREAD_VARIABLES`), then ``extra``."""
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env.setdefault(name, "1")
    return env | dict(extra)


def prepare(program: ScriptRun, tmp: Path) -> tuple[Path, list[str]]:
    """``(cwd, argv)``: where the program runs (its folder; with ``git``, that folder of the
    repository's tree at the commit, exported under ``tmp``; a patched copy when it has a
    ``patch``, applied on top of that tree) and its command, with this interpreter (the one
    harness is installed in).
    :raises ProgramError: the tree could not be exported, or the patch does not apply."""
    cwd = Path(program.cwd)
    if program.git is not None:
        from harness.scenario.git_tree import GitError, export

        assert program.repo is not None
        try:
            tree = export(Path(program.repo), program.git, tmp / "git")
        except GitError as exc:
            raise ProgramError(str(exc)) from None
        cwd = tree / cwd.relative_to(program.repo)
        if program.patch is not None:  # the exported tree is a copy already: patched in place
            cwd = patch_folder(cwd, Path(program.patch), f"{program.script or cwd.name} as of {program.git[:12]}")
    elif program.patch is not None:
        cwd = apply_patch(cwd, Path(program.patch), tmp / "src")
    if program.module is not None:
        return cwd, [sys.executable, "-m", program.module, *program.args]
    assert program.script is not None
    return cwd, [sys.executable, str(cwd / Path(program.script).name), *program.args]


def apply_patch(source: Path, patch: Path, target: Path) -> Path:
    """A copy of ``source`` at ``target`` with the unified diff ``patch`` applied (paths stripped of
    one leading folder, ``a/train.py``, as ``git diff`` writes them, else as given).
    :raises ProgramError: the diff does not apply."""
    shutil.copytree(source, target, ignore=IGNORED)
    return patch_folder(target, patch, source)


def patch_folder(target: Path, patch: Path, source: Path | str) -> Path:
    """``target`` with the unified diff ``patch`` applied in place (as :func:`apply_patch`; ``source``
    names what it was copied from in the error). :raises ProgramError: the diff does not apply."""
    tried = []
    for strip in ("-p1", "-p0"):
        command = ["patch", strip, "--batch", "--forward", "--silent", "-d", str(target), "-i", str(patch)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, check=False)
        except OSError as exc:
            raise ProgramError(f"cannot apply {patch}: the `patch` program: {exc.strerror or exc}") from None
        if done.returncode == 0:
            return target
        tried.append((done.stdout + done.stderr).strip().splitlines()[-1:] or [f"exit {done.returncode}"])
    raise ProgramError(f"{patch} does not apply to {source}: {tried[0][0]}")


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel kill the program when this process dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    return lambda: libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG


def run_program(argv: list[str], env: dict[str, str], cwd: Path, run_dir: Path, *, timeout: float | None = None) -> int:
    """Run ``argv`` in its own process group, its output into ``run_dir``; its exit code (-N: killed by
    signal N). However this ends (Ctrl-C included), nothing of the group is left running.
    :raises ProgramError: it could not be started, or it ran past ``timeout`` seconds (then killed)."""
    with open(run_dir / "stdout.txt", "wb") as out, open(run_dir / "stderr.txt", "wb") as err:
        try:
            child = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                preexec_fn=_die_with_parent(),  # noqa: PLW1509 - only prctl, async-signal-safe
            )
        except OSError as exc:
            raise ProgramError(f"cannot run {argv[0]!r}: {exc.strerror or exc}") from None
        try:
            return child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ProgramError(f"the program ran past {timeout:g} s and was killed") from None
        finally:
            _end_group(child)


def _end_group(child: subprocess.Popen[bytes]) -> None:
    """Kill what is left of the program's process group (its workers, or itself when interrupted)."""
    with contextlib.suppress(OSError):  # ProcessLookupError: the group has ended already
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def fill_record(
    record: RunRecord,
    watched: list[dict[str, Any]],
    code: int,
    program: ScriptRun,
    run_dir: Path,
    *,
    expects_exit: bool = False,
) -> None:
    """What the program left: the watcher's record of its first process, its printed metrics, its
    exit code (not 0: status ``error``, unless ``expects_exit``: a line judges the exit code)."""
    main = watched[0] if watched else None
    record["status"] = "ok"
    if main is not None:
        for field in ("history", "findings", "outcomes", "lr_per_step", "steps", "trace", "stop_reason"):
            if field in main:
                record[field] = main[field]  # the same record fields
        record["status"] = main["status"] if main["status"] in ("ok", "stopped") else "ok"
        record["train"] = {**record["train"], "torch": main["train"].get("torch")}
    output = (run_dir / "stdout.txt").read_text(encoding="utf-8", errors="replace")
    add_printed_metrics(record["history"], printed_metrics(output, program.metrics))
    record["exit"] = code
    if main is None and code == 0:  # else "no finding X" would hold of a program nobody watched
        record["status"] = "error"
        record["error"] = {"message": NOT_WATCHED, "type": "not_watched"}
    if code != 0:
        record["error"] = {"message": exit_message(code, run_dir), "type": "exit"}
        if not expects_exit:
            record["status"] = "error"


def exit_message(code: int, run_dir: Path, *, where: bool = True) -> str:
    """Why a program failed, in one line: its exit code (or signal) and its stderr's last line
    (``where``: and where its whole output is)."""
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    lines = (run_dir / "stderr.txt").read_text(encoding="utf-8", errors="replace").strip().splitlines()
    last = f": {lines[-1]}" if lines else ""
    return f"the program {how}{last}" + (f" (its output: {run_dir}/stderr.txt)" if where else "")


def printed_metrics(output: str, metrics: Mapping[str, str]) -> dict[str, list[float]]:
    """Each metric's values in the program's output, in order (a regex's group, else its match)."""
    found: dict[str, list[float]] = {}
    for name, pattern in metrics.items():
        values = []
        for match in re.finditer(pattern, output):
            try:
                values.append(float(match.group(1) if match.groups() else match.group(0)))
            except ValueError:
                continue
        found[name] = values
    return found


def add_printed_metrics(history: list[dict[str, Any]], found: Mapping[str, list[float]]) -> None:
    """Into the per-epoch ``history``: a metric found once per epoch (or in a program the watcher saw no
    epoch of), one value per epoch; any other number of matches, the last one as the last epoch's."""
    for name, values in found.items():
        if not values:
            continue
        if not history or len(values) == len(history):
            while len(history) < len(values):
                history.append({"epoch": len(history) + 1})
            for entry, value in zip(history, values, strict=False):
                entry[name] = value
        else:
            history[-1][name] = values[-1]
