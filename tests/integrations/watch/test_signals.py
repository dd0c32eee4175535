"""Signals and `harness watch`: each signal reaches the program exactly once, and harness ends as the program did.

The program runs in a process group of its own (harness/execution/foreground.py): a signal sent to
harness's pid or to its whole group is forwarded once; at a terminal the program has the foreground,
so Ctrl-C reaches it directly (once) and harness takes the terminal back after.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and process groups")

#: a program that counts the signals named in argv (its handlers), says when it is ready, then reports
COUNTS = """\
import os, signal, sys, time
seen = []
for name in sys.argv[1:]:
    signal.signal(getattr(signal, name), lambda s, f: seen.append(signal.Signals(s).name))
print('ready', os.getpid(), flush=True)
deadline = time.time() + 20
while time.time() < deadline and not seen:
    time.sleep(0.02)
time.sleep(0.5)  # a second copy would have arrived by now
print('seen', ' '.join(seen), flush=True)
"""

#: a program that waits to be signalled and handles nothing
WAITS = "import os, time\nprint('ready', os.getpid(), flush=True)\ntime.sleep(20)\nprint('ran to the end')\n"


def _start(tmp_path: Path, source: str, *args: str) -> tuple[subprocess.Popen[str], int]:
    """``harness watch -- python prog.py ARGS`` in its own session; returns it and the program's pid."""
    (tmp_path / "prog.py").write_text(source)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    watch = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "watch", "--", "python", "prog.py", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert watch.stdout is not None
    line = watch.stdout.readline()
    assert line.startswith("ready"), line + watch.stderr.read() if watch.stderr else line
    return watch, int(line.split()[1])


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"])
@pytest.mark.parametrize("to", ["pid", "group"])
def test_a_signal_reaches_the_program_once(tmp_path: Path, name: str, to: str) -> None:
    watch, program = _start(tmp_path, COUNTS, name)
    assert os.getpgid(program) != os.getpgid(watch.pid)  # a group of its own
    sig = getattr(signal, name)
    os.kill(watch.pid, sig) if to == "pid" else os.killpg(watch.pid, sig)
    out, err = watch.communicate(timeout=60)
    assert out == f"seen {name}\n", err
    assert watch.returncode == 0, err


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM", "SIGUSR1"])
def test_harness_dies_as_the_program_did_and_leaves_nothing_running(tmp_path: Path, name: str) -> None:
    watch, program = _start(tmp_path, WAITS)
    sig = getattr(signal, name)
    os.kill(watch.pid, sig)
    out, err = watch.communicate(timeout=60)
    assert "ran to the end" not in out
    assert watch.returncode == -sig, err
    assert f"killed by signal {sig}" in err
    deadline = time.time() + 5
    while not _gone(program) and time.time() < deadline:
        time.sleep(0.05)
    assert _gone(program)


def test_at_a_terminal_the_program_has_the_foreground_and_ctrl_c_reaches_it_once(tmp_path: Path) -> None:
    import fcntl
    import termios

    master, slave = os.openpty()

    def controlling() -> None:  # runs after setsid: the pty becomes harness's terminal, harness its foreground
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    source = COUNTS.replace(
        "print('ready'", "print('foreground', os.tcgetpgrp(0) == os.getpgrp(), flush=True)\nprint('ready'"
    )
    (tmp_path / "prog.py").write_text(source)
    watch = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "watch", "--", "python", "prog.py", "SIGINT"],
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=controlling,  # noqa: PLW1509 - one ioctl
    )
    os.close(slave)
    try:
        assert watch.stdout is not None
        assert watch.stdout.readline() == "foreground True\n"
        assert watch.stdout.readline().startswith("ready")
        os.write(master, b"\x03")  # Ctrl-C: the terminal signals its foreground group
        out, err = watch.communicate(timeout=60)
    finally:
        os.close(master)
    assert out == "seen SIGINT\n", err
    assert watch.returncode == 0, err
