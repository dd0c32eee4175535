"""Does the installed environment satisfy harness's own requirements? Checked once before training.

pip resolves harness's requirements when harness is installed, but a later command can
break them: ``pip install -U transformers`` brings a release whose PyTorch bound (it sits
only in transformers' ``[torch]`` extra) excludes the installed torch, and
``import transformers`` then merely logs "Disabling PyTorch" and fails on the first model
class, once per run. This check reads only installed metadata (no torch import, a few
milliseconds): every requirement of the installed ``training-harness`` distribution that applies
(markers evaluated, optional extras skipped), and the requirements of the extras it names
(``transformers[torch]`` -> transformers' own ``torch>=...``), against the installed
versions. A distribution that is not installed is left to its import error.

The first clash becomes one line naming both versions and the pip command that repairs the
environment while keeping the installed torch (:func:`check_environment`).
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

DISTRIBUTION = "training-harness"  # the distribution harness is installed as (pyproject.toml [project] name)
ANCHOR = "torch"  # the version a user chose deliberately: a fix keeps it


class EnvironmentClash(RuntimeError):
    """Installed versions that contradict harness's requirements (the message is one line)."""


@dataclass(frozen=True)
class Clash:
    needed_by: str  # "training-harness" or "transformers 5.24.0"
    requirement: str  # what was required, e.g. "torch>=2.6"
    name: str  # the distribution that does not satisfy it
    installed: str  # its installed version
    repair: str  # harness's requirement to ask pip for again, e.g. "transformers[torch]!=5.19.0,>=4.44"
    via: str = ""  # the extra that brought the requirement in, e.g. "torch"


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _requires(name: str) -> list[str]:
    try:
        return list(metadata.requires(name) or [])
    except metadata.PackageNotFoundError:
        return []


def find_clashes(
    distribution: str = DISTRIBUTION,
    *,
    installed: Callable[[str], str | None] = _installed,
    requires: Callable[[str], list[str]] = _requires,
) -> list[Clash]:
    """Every requirement of ``distribution`` (and of the extras it requests) that an installed
    version violates. ``installed``/``requires`` look a distribution up (tests pass fakes)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import InvalidVersion, Version

    def violates(req: Requirement, version: str) -> bool:
        try:
            return not req.specifier.contains(Version(version), prereleases=True)
        except InvalidVersion:
            return False

    clashes: list[Clash] = []
    for line in requires(distribution):
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # an optional extra of harness, or another platform's requirement
        version = installed(req.name)
        if version is None:
            continue
        if violates(req, version):
            clashes.append(Clash(distribution, str(req), req.name, version, str(req)))
            continue
        for extra in sorted(req.extras):
            for sub_line in requires(req.name):
                try:
                    sub = Requirement(sub_line)
                except InvalidRequirement:
                    continue
                if (
                    sub.marker is None
                    or not sub.marker.evaluate({"extra": extra})
                    or sub.marker.evaluate({"extra": ""})
                ):
                    continue  # only what this extra adds
                sub_version = installed(sub.name)
                if sub_version is not None and violates(sub, sub_version):
                    sub.marker = None
                    clashes.append(Clash(f"{req.name} {version}", str(sub), sub.name, sub_version, str(req), via=extra))
    return clashes


def _public(version: str) -> str:
    return version.split("+", 1)[0]  # 2.13.0+cpu -> 2.13.0: pip matches the local build with it


def fix_command(clash: Clash, installed: Callable[[str], str | None] = _installed) -> str:
    """The pip command that resolves ``clash``: harness's requirement asked again, with the
    installed torch pinned (unless torch itself is what must change)."""
    from packaging.requirements import Requirement

    args = [sys.executable, "-m", "pip", "install"]
    anchor = installed(ANCHOR)
    if anchor is not None and Requirement(clash.repair).name != ANCHOR:
        args.append(f"{ANCHOR}=={_public(anchor)}")
    args.append(clash.repair)
    return " ".join(shlex.quote(a) for a in args)


def describe(clash: Clash, installed: Callable[[str], str | None] = _installed) -> str:
    """One line: who needs what, what is installed, and the command that fixes it."""
    via = f" (its [{clash.via}] extra, which harness requires)" if clash.via else ""
    return (
        f"{clash.needed_by} requires {clash.requirement}{via}, but {clash.name} {clash.installed} is installed; "
        f"fix the environment with: {fix_command(clash, installed)}"
    )


_CHECKED = False


def check_environment(*, force: bool = False) -> None:
    """Raise :class:`EnvironmentClash` (one line: the first clash and its fix) when the installed
    versions contradict harness's requirements; checked once per process unless ``force``."""
    global _CHECKED
    if _CHECKED and not force:
        return
    clashes = find_clashes()
    if clashes:
        more = f" (and {len(clashes) - 1} more clash(es))" if len(clashes) > 1 else ""
        raise EnvironmentClash(describe(clashes[0]) + more)
    _CHECKED = True
