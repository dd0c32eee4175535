"""A training script as a scenario's workload: its fields checked, each variant's program resolved.

``workload: {script: train.py, args: [...], env: {...}, metrics: {NAME: REGEX}, seeding: true}``
(or ``module: pkg.train`` for ``python -m``); a variant may change ``script``, ``args``
(replaced), ``extra_args`` (appended), ``env`` (added), ``patch`` (a unified diff), ``git`` (the
repository's tree at a commit, resolved here), its monitors and the fixes the watcher applies from outside (``acts_on_scripts``). Paths are relative to the scenario file and checked here, before any run starts:
a missing file is one error naming it. The program runs in
:mod:`harness.execution.script_run`; docs/replay-script.md documents the whole.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from harness.scenario.schema import ScenarioSpec, ScriptRun, Strict, VariantSpec

#: the name a script scenario's ``workload`` has in reports
SCRIPT_WORKLOAD = "script"
#: what the watcher's per-epoch records hold besides the core's ``loss``/``lr``/``steps``/``epoch``
WATCHED_METRICS = ("val_loss",)
#: variant fields that only a script workload has
VARIANT_FIELDS = ("script", "args", "extra_args", "env", "patch", "git")


class ScriptParams(Strict):
    """A script scenario's ``workload`` (paths resolved): its params and its metric names, as a
    workload class gives them (:meth:`declared_metrics`, :meth:`declared_key_metrics`)."""

    script: str | None = None
    module: str | None = None
    args: list[str] = []
    env: dict[str, str] = {}
    metrics: dict[str, str] = {}
    seeding: bool = True

    @classmethod
    def declared_metrics(cls, params: BaseModel | None = None) -> tuple[str, ...]:
        named = tuple(params.metrics) if isinstance(params, ScriptParams) else ()
        return (*named, *(m for m in WATCHED_METRICS if m not in named))

    @classmethod
    def declared_key_metrics(cls, params: BaseModel | None = None) -> tuple[str, ...]:
        named = tuple(params.metrics) if isinstance(params, ScriptParams) else ()
        return (*named[:2], *(m for m in ("val_loss", "loss") if m not in named[:2]))


def is_script(spec: ScenarioSpec) -> bool:
    return spec.workload.script is not None or spec.workload.module is not None


def check_script_workload(problems: Any, spec: ScenarioSpec, data: dict[str, Any]) -> ScriptParams | None:
    """The script workload's params, every problem reported (None: one of them failed)."""
    workload, errors = spec.workload, len(problems.errors)
    here = Path(problems.path).parent
    if workload.name is not None or workload.params:
        field = "name" if workload.name is not None else "params"
        problems.report(problems.fail(("workload", field), "a script workload has no name or params: give one of them"))
    if workload.script is not None and workload.module is not None:
        problems.report(problems.fail(("workload", "module"), "give script or module, not both"))
    script = _existing(problems, here, workload.script, ("workload", "script"))
    if "train" in data:
        problems.report(problems.fail(("train",), "a script sets its own training: change it through args or env"))
    for name, pattern in workload.metrics.items():
        _check_metric(problems, name, pattern)
    if len(problems.errors) > errors:
        return None
    return ScriptParams(
        script=script,
        module=workload.module,
        args=list(workload.args),
        env=dict(workload.env),
        metrics=dict(workload.metrics),
        seeding=workload.seeding,
    )


def _check_metric(problems: Any, name: str, pattern: str) -> None:
    loc = ("workload", "metrics", name)
    if not re.fullmatch(r"[A-Za-z_]\w*", name):
        problems.report(problems.fail(loc, f"a metric name is a word (letters, digits, _), not {name!r}"))
    try:
        groups = re.compile(pattern).groups
    except re.error as exc:
        problems.report(problems.fail(loc, f"not a regular expression: {exc}"))
        return
    if groups > 1:
        problems.report(problems.fail(loc, f"{pattern!r} has {groups} groups: give one, around the number"))


def _existing(problems: Any, here: Path, given: str | None, loc: tuple[Any, ...]) -> str | None:
    """``given`` (relative to the scenario's folder) as an absolute path, or reported when no such file."""
    if given is None:
        return None
    path = (here / given).resolve()
    if not path.is_file():
        problems.report(problems.fail(loc, f"no such file: {path}"))
        return None
    return str(path)


def script_run(
    problems: Any,
    params: ScriptParams,
    spec: ScenarioSpec,
    vname: str,
    vspec: VariantSpec,
    overrides: dict[str, Any],
    fixes: dict[str, dict[str, Any]] | None = None,
) -> ScriptRun | None:
    """The program variant ``vname`` runs (None: a problem, reported)."""
    errors = len(problems.errors)
    here = Path(problems.path).parent
    where = ("variants", vname)
    if vspec.train:
        problems.report(
            problems.fail((*where, "train"), "a script sets its own training: change it through args or env")
        )
    if vspec.git is not None and vspec.script is not None:  # a file of the tree at REF, not of the working tree
        script: str | None = str((here / vspec.script).resolve())
    else:
        script = _existing(problems, here, vspec.script, (*where, "script")) or params.script
    patch = _existing(problems, here, vspec.patch, (*where, "patch"))
    pinned = _git_pin(problems, here, script, vspec.git, (*where, "git")) if vspec.git is not None else None
    if vspec.script is not None and params.module is not None:
        problems.report(problems.fail((*where, "script"), "the workload runs a module: a variant cannot give a script"))
    if len(problems.errors) > errors:
        return None
    fixes = fixes or {}
    plugins = {n: v for n, v in _layered(_layered(spec.plugins, vspec.plugins), overrides).items() if n not in fixes}
    return ScriptRun(
        script=script,
        module=params.module,
        args=[*(params.args if vspec.args is None else vspec.args), *vspec.extra_args],
        env={**params.env, **vspec.env},
        cwd=str(Path(script).parent if script else here.resolve()),
        patch=patch,
        git=pinned[0] if pinned else None,
        repo=pinned[1] if pinned else None,
        metrics=dict(params.metrics),
        seeding=params.seeding,
        plugins=plugins,
        fixes=fixes,
    )


def _git_pin(problems: Any, here: Path, script: str | None, ref: str, loc: tuple[Any, ...]) -> tuple[str, str] | None:
    """``(commit, repository)`` of a variant's ``git: REF``: the repository that holds the script
    (a module: the scenario's folder), REF resolved, the script in its tree; else reported, None."""
    from harness.scenario.git_tree import GitError, has_path, repository, resolve

    folder = Path(script).parent if script is not None else here.resolve()
    try:
        root = repository(folder if folder.is_dir() else here)
        commit = resolve(root, ref)
    except GitError as exc:
        problems.report(problems.fail(loc, f"{ref}: {exc}"))
        return None
    if script is not None:
        inside = Path(script).resolve()
        if not inside.is_relative_to(root) or not has_path(root, commit, inside.relative_to(root)):
            problems.report(problems.fail(loc, f"{ref}: the tree of {commit[:12]} in {root} has no {inside}"))
            return None
    return commit, str(root)


def _layered(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Plugin settings ``top`` over ``base``: parameters of a plugin both give merge."""
    out = dict(base)
    for name, value in top.items():
        below = out.get(name)
        out[name] = {**below, **value} if isinstance(below, dict) and isinstance(value, dict) else value
    return out


def refuse_script_fields(problems: Any, vname: str, vspec: VariantSpec) -> None:
    """A variant of a workload class that gives a script's fields: each is an error naming it."""
    for name in VARIANT_FIELDS:
        if name in vspec.model_fields_set:
            problems.report(
                problems.fail(
                    ("variants", vname, name), f"{name!r} changes a script workload's run; this workload is a class"
                )
            )


def check_watch_plugins(problems: Any, available: dict[str, Any], spec: ScenarioSpec) -> None:
    """A script owns its training: its variants switch monitors, and the fixes the watcher can apply
    from outside (``acts_on_scripts``); any other fix or a bug is one error naming it."""
    layers = [(("plugins",), spec.plugins)] + [
        (("variants", v, "plugins"), s.plugins) for v, s in spec.variants.items()
    ]
    for where, settings in layers:
        for name, value in settings.items():
            info = available.get(name)
            if info is None or value is False or info.kind in ("monitor", "core") or info.cls.acts_on_scripts:
                continue
            can = ", ".join(sorted(n for n, i in available.items() if i.kind == "fix" and i.cls.acts_on_scripts))
            problems.report(
                problems.fail(
                    (*where, name),
                    f"plugin {name!r} is a {info.kind} the watcher cannot apply to a running script "
                    f"(fixes it can: {can}); change the program with args, env, script or patch",
                )
            )
