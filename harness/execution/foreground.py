"""Run a program as the one a terminal (or whoever signals ``harness watch``) deals with.

The program runs in a process group of its own, so a signal sent to ``harness watch``'s group
(``kill -TERM -PGID``, a CI runner ending a job) is not delivered to it a second time next to
the copy harness forwards: every signal of :data:`FORWARDED` that reaches harness is sent on to
the program, once. When stdin is a terminal whose foreground group is harness's, the program's
group is handed the foreground before its first line (Ctrl-C, Ctrl-\\ and reads from the
terminal go straight to it, as without harness) and harness takes it back after. A program
stopped from the terminal (Ctrl-Z) stops harness too, so the shell gets its prompt back; ``fg``
resumes both. Torch-free; POSIX (elsewhere the program simply runs as a child).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any

#: signals harness passes on to the program (each reaches it exactly once)
FORWARDED = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
    if hasattr(signal, name)
)
POSIX = os.name == "posix"


def controlling_terminal() -> int | None:
    """stdin's descriptor when it is a terminal whose foreground group is this process's, else None."""
    if not POSIX:
        return None
    try:
        fd = sys.stdin.fileno()
        return fd if os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp() else None
    except (OSError, ValueError, AttributeError):  # no stdin, a closed or replaced one
        return None


def hand_terminal(fd: int, group: int) -> None:
    """Make ``group`` the terminal's foreground (SIGTTOU ignored meanwhile: a background caller may)."""
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(fd, group)
    except OSError:
        pass  # the terminal went away, or the group ended already
    finally:
        signal.signal(signal.SIGTTOU, previous)


def _own_group(fd: int | None) -> Callable[[], None]:
    """The child's ``preexec_fn`` (``process_group=`` needs Python 3.11): a group of its own, which
    takes the terminal before the program's first line, so no read of it comes first and is
    stopped by SIGTTIN."""

    def start() -> None:
        os.setpgid(0, 0)
        if fd is not None:
            hand_terminal(fd, os.getpgrp())

    return start


def run_in_own_group(argv: list[str], env: Mapping[str, str], **popen: Any) -> int:
    """Run ``argv`` (see the module docstring) and return its exit code (-N: killed by signal N).
    :raises OSError: it could not be started."""
    fd = controlling_terminal()
    started: list[Any] = []  # the program, once started; before that, the signals to forward to it
    previous = {sig: signal.signal(sig, lambda s, f: _forward(started, s)) for sig in FORWARDED}
    try:
        start = _own_group(fd) if POSIX else None
        child = subprocess.Popen(argv, env=dict(env), preexec_fn=start, **popen)  # noqa: PLW1509 - no threads
        early, started[:] = list(started), [child]  # signals that came while it was being started
        for sig in early:
            _forward(started, int(sig))
        return _wait(child, fd)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if fd is not None:
            hand_terminal(fd, os.getpgrp())


def _forward(started: list[Any], sig: int) -> None:
    if not started or not isinstance(started[0], subprocess.Popen):
        started.append(sig)  # it is being started: sent once it is
        return
    with contextlib.suppress(OSError):  # it ended meanwhile
        started[0].send_signal(sig)


def _wait(child: subprocess.Popen[Any], fd: int | None) -> int:
    """The program's exit code; at a terminal, a program stopped (Ctrl-Z) stops harness too and
    both go on when harness is continued (``fg``)."""
    if fd is None:
        return child.wait()
    while True:
        _, status = os.waitpid(child.pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            child.returncode = os.waitstatus_to_exitcode(status)
            return child.returncode
        hand_terminal(fd, os.getpgrp())
        os.kill(os.getpid(), signal.SIGSTOP)  # the shell sees the job stopped; resumed here by fg
        hand_terminal(fd, child.pid)
        with contextlib.suppress(OSError):  # the group ended meanwhile
            os.killpg(child.pid, signal.SIGCONT)
