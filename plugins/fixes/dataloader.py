"""DataLoader workers, pinning and start method (seed 003, issue 5: Windows infrastructure).

Pathology: ``DataLoader(num_workers=4, pin_memory=True)`` is fine on Linux and crashes or
exhausts memory on Windows. Linux starts workers with ``fork``: each inherits the training
process, dataset and collate function included, for free. Windows has only ``spawn``
(macOS defaults to it): each worker is a fresh interpreter that imports torch again and
receives the dataset and collate function *by pickling* them. Whatever cannot be pickled
(a lambda or a function defined inside another, an open file handle) kills the loader
before the first batch, and every worker costs a whole process's memory (the report's
"WinError 1455: the paging file is too small").
Signal: a run that ends with status ``error`` at its first batch, its error a pickling
``AttributeError`` (``PicklingError`` from Python 3.14) naming a local object; and a
process tree far bigger than the training process (the ``memory`` monitor's
``outcome.peak_rss_mb`` and ``outcome.peak_workers``).
Fix: the report's Windows-safe loaders, ``num_workers: 0`` and ``pin_memory: false``; or
``auto`` for both (:func:`auto_num_workers`, :func:`auto_pin_memory`): no workers where
the start method is not ``fork`` (Windows, macOS, ``spawn``/``forkserver`` asked for) and
a small number (:data:`AUTO_WORKERS`, at most one per spare core) elsewhere; pinning only
when training on CUDA. The clean shutdown the report adds (``try/finally``, loaders
deleted, CUDA cache emptied, peak stats reset) is the core's, after every run
(:func:`harness.execution.run_one.release_run`).

The plugin sets ``state.loader_options`` (:class:`harness.core.state.LoaderOptions`) in
``on_setup``; the loop then builds the training and validation loaders from it, with the
same seeded order, so a run with workers has the history of a run without. ``collate:
local_function`` replays training code that wraps the collate in a function defined next
to its DataLoader (``collate_fn=lambda items: ...``): harmless under ``fork``, unpicklable
under ``spawn``. The resolved settings are recorded as ``outcome.loader_workers``,
``outcome.loader_pin_memory`` and ``outcome.loader_start_method``. (Under the Hugging Face
Trainer adapter the Trainer builds its own loaders: set ``dataloader_num_workers`` and
``dataloader_pin_memory`` in its ``TrainingArguments`` instead.)
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, model_validator

from harness.core.plugin import Plugin, hookimpl
from harness.core.state import LoaderOptions, TrainState

StartMethod = Literal["fork", "spawn", "forkserver"]

#: workers ``num_workers: auto`` gives where workers start with ``fork`` (fewer on few cores)
AUTO_WORKERS = 2


def default_start_method(platform: str, python: tuple[int, int] | None = None) -> StartMethod:
    """The start method multiprocessing uses by default on ``platform`` (``sys.platform``).

    ``spawn`` on Windows (the only one it has) and macOS (its default since Python 3.8);
    ``fork`` on Linux and other POSIX systems, ``forkserver`` from Python 3.14.
    """
    if platform.startswith("win") or platform == "darwin":
        return "spawn"
    version = python if python is not None else sys.version_info[:2]
    return "forkserver" if version >= (3, 14) else "fork"


def auto_num_workers(start_method: str, cpu_count: int | None) -> int:
    """Workers for ``num_workers: auto``: 0 unless workers start with ``fork``, where each
    inherits the dataset instead of unpickling it and re-importing torch; else
    :data:`AUTO_WORKERS`, at most one per core beyond the training process's own."""
    if start_method != "fork":
        return 0
    return max(0, min(AUTO_WORKERS, (cpu_count or 1) - 1))


def auto_pin_memory(device_type: str) -> bool:
    """``pin_memory: auto``: page-locked batches only help copies to a CUDA device."""
    return device_type == "cuda"


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    num_workers: NonNegativeInt | Literal["auto"] = Field(
        "auto", description="worker processes per loader; auto: 0 where workers spawn (Windows, macOS), else up to 2"
    )
    pin_memory: bool | Literal["auto"] = Field(
        "auto", description="page-locked batches; auto: only when training on CUDA"
    )
    persistent_workers: bool = Field(False, description="keep the workers alive across epochs (needs workers)")
    prefetch_factor: PositiveInt | None = Field(None, description="batches each worker loads ahead (needs workers)")
    multiprocessing_context: StartMethod | None = Field(
        None, description="how workers start: fork | spawn (Windows' only one) | forkserver; default: the platform's"
    )
    collate: Literal["workload", "local_function"] = Field(
        "workload",
        description="local_function: the workload's collate wrapped in a function defined in the set-up code, "
        "as scripts write it (unpicklable under spawn)",
    )

    @model_validator(mode="after")
    def _worker_options_need_workers(self) -> Params:
        if self.num_workers == 0:
            given = [name for name in ("prefetch_factor", "multiprocessing_context") if getattr(self, name) is not None]
            given += ["persistent_workers"] if self.persistent_workers else []
            if given:
                raise ValueError(f"{', '.join(given)} only apply with num_workers > 0 (or auto)")
        return self


def resolve_options(
    params: Params, *, platform: str, start_method: str | None, device_type: str, cpu_count: int | None
) -> LoaderOptions:
    """The loader options ``params`` stand for on a machine: a pure function of the platform
    (``sys.platform``), the interpreter's start method (None: the platform's default), the
    training device's type and the core count, so the policy is testable for any platform.

    A worker-only option (``persistent_workers``, ``prefetch_factor``, the start method)
    is dropped when ``auto`` resolves to no workers.
    """
    method = params.multiprocessing_context or start_method or default_start_method(platform)
    workers = auto_num_workers(method, cpu_count) if params.num_workers == "auto" else params.num_workers
    pin = auto_pin_memory(device_type) if params.pin_memory == "auto" else params.pin_memory
    if workers == 0:
        return LoaderOptions(num_workers=0, pin_memory=pin)
    return LoaderOptions(
        num_workers=workers,
        pin_memory=pin,
        persistent_workers=params.persistent_workers,
        prefetch_factor=params.prefetch_factor,
        multiprocessing_context=params.multiprocessing_context,
    )


class DataLoaderSettings(Plugin):
    name = "dataloader"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params

    @hookimpl
    def on_setup(self, state: TrainState) -> None:
        options = resolve_options(
            self.params,
            platform=sys.platform,
            start_method=multiprocessing.get_start_method(),
            device_type=state.device.type,
            cpu_count=os.cpu_count(),
        )
        if self.params.collate == "local_function":
            workload_collate = state.workload.collate

            def collate(items: list[Any]) -> Any:  # as a script defines it next to its DataLoader
                return workload_collate(items)

            options.collate_fn = collate
        state.loader_options = options
        method = options.multiprocessing_context or multiprocessing.get_start_method()
        state.outcomes["loader_workers"] = options.num_workers
        state.outcomes["loader_pin_memory"] = options.pin_memory
        state.outcomes["loader_start_method"] = method if options.num_workers else "none"
