"""The click options the training commands share, each defined once with its help.

``harness run``, ``harness ablate`` and ``harness doctor`` take the same seeds, reports, run
execution and plugin options; :func:`run_options` declares them in their ``--help`` order and
hands the command two values instead of a dozen flags: ``execution`` (an :class:`Execution`)
and ``plugin_flags`` (a :class:`PluginFlags`). ``harness report`` takes only :func:`report_options`.
Nothing heavy is imported here: every command's ``--help`` loads this module.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import click

#: a click command's function: its parameters are the options the decorators add or pack
Command = Callable[..., Any]
Decorator = Callable[[Any], Any]

#: the short help texts of ``ablate`` and ``doctor``; ``run`` says more about its runs
JOBS_HELP = "Runs in parallel. Default: number of CPU cores."
TIMEOUT_HELP = "Per-run limit in seconds."
QUIET_HELP = "No progress bars; print only the tables."
ARM_SEEDS_HELP = "Run every arm with seeds 0..N-1."
ADDRESS_HELP = "With --executor ray: the Ray cluster (auto, HOST:6379, ray://HOST:10001). Default: $RAY_ADDRESS or a local Ray instance."


@dataclass(frozen=True)
class Execution:
    """Where and how a command's runs execute (``--device`` to ``--address``)."""

    device: str | None
    results_dir: Path | None
    jobs: int | None
    timeout: float | None
    resume: bool
    quiet: bool
    executor: str
    address: str | None

    def workers(self) -> int | None:
        """``--jobs``, else one per core; with Ray, no cap (Ray's scheduler decides)."""
        return self.jobs or (None if self.executor == "ray" else os.cpu_count() or 1)


@dataclass(frozen=True)
class PluginFlags:
    """``--with``, ``--without`` and ``--set`` as given, applied to every variant when the scenario loads."""

    with_: tuple[str, ...]
    without: tuple[str, ...]
    sets: tuple[str, ...]

    def given(self, seeds: tuple[int, ...] = (), n_seeds: int | None = None) -> str:
        """The run's overrides as typed (``--set train.lr=0.1 --seeds 3``), for the report's header."""
        flags = [*(f"--with {p}" for p in self.with_), *(f"--without {p}" for p in self.without)]
        flags += [f"--set {s}" for s in self.sets] + [f"--seed {s}" for s in seeds]
        return " ".join(flags + ([f"--seeds {n_seeds}"] if n_seeds else []))


def _packed(cls: type, name: str) -> Decorator:
    """Hand the command the keyword arguments named like ``cls``'s fields as one ``cls`` (``name``)."""
    keys = [f.name for f in fields(cls)]

    def decorate(func: Command) -> Command:
        @functools.wraps(func)
        def command(*args: Any, **kwargs: Any) -> Any:
            kwargs[name] = cls(**{key: kwargs.pop(key) for key in keys})
            return func(*args, **kwargs)

        return command

    return decorate


def report_options(func: Command) -> Command:
    """One option per report renderer (``harness.reports.FILE_REPORTS``): ``--NAME PATH``, ``DIR``
    or ``URI`` by its ``TARGET``, refused (exit 2) when a package it needs is missing. The
    command receives them together as ``report_targets``: ``{name: path, URI or None}``."""
    from harness.reports import FILE_REPORTS, TARGETS, missing_requirement, renderer, target_kind

    names = list(FILE_REPORTS)

    @functools.wraps(func)
    def command(*args: Any, **kwargs: Any) -> Any:
        kwargs["report_targets"] = {name: kwargs.pop(f"{name}_report") for name in names}
        return func(*args, **kwargs)

    def needs(module: Any) -> Callable[[click.Context, click.Parameter, Any], Any]:
        def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
            message = missing_requirement(module) if value is not None else None
            if message:
                raise click.BadParameter(message)
            return value

        return check

    kinds = {
        "file": click.Path(dir_okay=False, path_type=Path),
        "dir": click.Path(file_okay=False, path_type=Path),
        "uri": str,
    }
    for name in reversed(names):
        module = renderer(name)
        kind = target_kind(module)
        command = click.option(
            module.FLAG,
            f"{name}_report",
            type=kinds[kind],
            default=None,
            help=module.HELP,
            metavar=getattr(module, "METAVAR", TARGETS[kind]),
            callback=needs(module),
        )(command)
    return command


#: ``--set``, ``--with`` and ``--without`` as ``harness run``, ``ablate`` and ``doctor`` read them:
#: applied to every variant of the scenario, training fields included
SCENARIO_PLUGIN_HELP = {
    "set": (
        "PLUGIN.PARAM=VALUE|train.FIELD=VALUE",
        "Set a plugin parameter in every variant (repeatable; switches the plugin on), as "
        "`plugins: {PLUGIN: {PARAM: VALUE}}` would; `--set train.FIELD=VALUE` sets a training field "
        "(e.g. train.lr=1.0, train.epochs=3). VALUE is read as YAML (0.5, true, null, step).",
    ),
    "with": (
        "PLUGIN",
        "Switch this plugin on in every variant (repeatable), as `plugins: {PLUGIN: true}` would; "
        "a variant that already has it keeps its parameters.",
    ),
    "without": ("PLUGIN", "Switch this plugin off in every variant (repeatable), as `plugins: {PLUGIN: false}` would."),
}
#: the same options as ``harness watch`` reads them: the watched program's monitors only (a fix
#: or bug plugin is refused: watch only observes; ``train.*`` too: the program sets its own training)
WATCH_PLUGIN_HELP = {
    "set": (
        "MONITOR.PARAM=VALUE",
        "Set a parameter of a monitor watching the program (repeatable; switches the monitor on), "
        "e.g. loss_explosion.max_loss=100. VALUE is read as YAML (0.5, true, null). Only monitors: "
        "train.FIELD is refused (the program sets its own training).",
    ),
    "with": (
        "MONITOR",
        "Switch this monitor on for the program (repeatable), e.g. memory; a fix or bug plugin is "
        "refused: watch only observes.",
    ),
    "without": ("MONITOR", "Switch this monitor off for the program (repeatable), e.g. loss_plateau."),
}


def plugin_options(func: Command, helps: dict[str, tuple[str, str]] | None = None) -> Command:
    """``--with``, ``--without`` and ``--set``: derive any variant ad hoc, validated like the YAML.
    The command receives them as ``plugin_flags``, a :class:`PluginFlags`. ``helps``: each option's
    metavar and help (default :data:`SCENARIO_PLUGIN_HELP`; ``harness watch``: :data:`WATCH_PLUGIN_HELP`)."""
    texts = helps or SCENARIO_PLUGIN_HELP
    func = _packed(PluginFlags, "plugin_flags")(func)
    func = click.option("--set", "sets", multiple=True, metavar=texts["set"][0], help=texts["set"][1])(func)
    func = click.option("--with", "with_", multiple=True, metavar=texts["with"][0], help=texts["with"][1])(func)
    func = click.option("--without", "without", multiple=True, metavar=texts["without"][0], help=texts["without"][1])(
        func
    )
    return func


def watch_plugin_options(func: Command) -> Command:
    """:func:`plugin_options` with ``harness watch``'s help: what it applies to and what it refuses."""
    return plugin_options(func, WATCH_PLUGIN_HELP)


def _execution_options(results_help: str, jobs_help: str, timeout_help: str) -> list[Decorator]:
    """``--device`` to ``--resume``: where each run's result goes and how many run at once."""
    return [
        click.option(
            "--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Override the scenario's train.device."
        ),
        click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), help=results_help),
        click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help=jobs_help),
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help=timeout_help),
        click.option(
            "--resume",
            is_flag=True,
            help="Skip runs whose valid result for the same configuration is already in the results dir.",
        ),
    ]


def _executor_options(address_help: str) -> list[Decorator]:
    """``--executor`` and ``--address``: this machine's worker processes or a Ray cluster."""
    return [
        click.option(
            "--executor",
            type=click.Choice(["local", "ray"]),
            default="local",
            show_default=True,
            help="local: worker processes on this machine; ray: one Ray task per run (pip install 'training-harness[ray]').",
        ),
        click.option("--address", metavar="ADDR", help=address_help),
    ]


def run_options(
    *,
    results_help: str,
    seeds_help: str = ARM_SEEDS_HELP,
    before_reports: Sequence[Decorator] = (),
    jobs_help: str = JOBS_HELP,
    timeout_help: str = TIMEOUT_HELP,
    before_quiet: Sequence[Decorator] = (),
    quiet_help: str = QUIET_HELP,
    address_help: str = ADDRESS_HELP,
) -> Decorator:
    """The options of a command that trains, in ``--help`` order: ``--seed``/``--seeds``, the
    command's own ``before_reports``, the reports, ``--device`` to ``--resume``, its own
    ``before_quiet`` flags, ``--quiet``, ``--executor``/``--address``, then the plugin options.
    The command receives ``seeds``, ``n_seeds``, ``report_targets``, ``execution`` and ``plugin_flags``."""
    options = [
        click.option(
            "--seed",
            "seeds",
            type=int,
            multiple=True,
            metavar="S",
            help="Run with this seed (repeatable). Default: the scenario's seeds.",
        ),
        click.option("--seeds", "n_seeds", type=click.IntRange(min=1), metavar="N", help=seeds_help),
        *before_reports,
        report_options,
        *_execution_options(results_help, jobs_help, timeout_help),
        *before_quiet,
        click.option("--quiet", "-q", is_flag=True, help=quiet_help),
        *_executor_options(address_help),
        plugin_options,
    ]

    def decorate(func: Command) -> Command:
        func = _packed(Execution, "execution")(func)
        for option in reversed(options):
            func = option(func)
        return func

    return decorate
