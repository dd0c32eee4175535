"""Save a checkpoint each epoch: the v1.6 state-dict format, or the v1.5 one it replaced (issue 11, Fix 4).

Pathology: v1.5 pickled whole objects (model, optimizer, scheduler) and metrics as numpy
scalars and arrays plus the ``prediction_distribution`` dict. PyTorch 2.6 flipped
``torch.load``'s default to ``weights_only=True``, whose unpickler refuses every global
that is not a tensor or a plain container, so those checkpoints stopped loading.
Signal: loading raises ``UnpicklingError: Weights only load failed`` (see the
``checkpoint_load`` plugin, which records the round-trip as an outcome).
Fix: ``format: state_dict`` (the default) saves only ``state_dict()``s, metrics as plain
Python numbers, no distribution dict, plus the RNG states a bit-identical resume needs;
every tensor and container in it loads with ``weights_only=True`` on 2.5 through 2.13.
``format: v15_objects`` replays the v1.5 save; ``format: numpy_rng`` the state-dict
checkpoint of a trainer that saved NumPy's RNG state as ``np.random.get_state()`` returns
it (an ndarray inside: refused by ``weights_only=True`` loads, transformers #34631). Files
are written atomically.

The save format and the load call are independent toggles: this plugin chooses what is
written, ``checkpoint_load`` how it is read back, ``resume`` restarts a run from it. It
writes in ``save_checkpoint`` and returns what it wrote (a ``SavedCheckpoint``: path,
epoch, format), which the core keeps as ``state.last_checkpoint``; readers run in
``on_checkpoint``, which always fires after the save.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from harness.core.plugin import Plugin, hookimpl
from harness.core.state import SavedCheckpoint, TrainState

FORMAT_VERSION = 1


def plain_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Metrics as Python numbers only (numpy/tensor scalars converted, containers dropped)."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, (dict, list, tuple)) or key == "prediction_distribution":
            continue
        if hasattr(value, "item"):  # numpy or tensor scalar; a larger array is dropped
            try:
                value = value.item()
            except (ValueError, RuntimeError):
                continue
        if isinstance(value, (bool, int, float, str)) or value is None:
            out[key] = value
    return out


def rng_states(state: TrainState) -> dict[str, Any]:
    """Every random stream training draws from, as tensors and plain containers.

    Global torch (dropout), CUDA (when training there), the train loader's own shuffle
    generator, Python's ``random`` and NumPy's global state (its key array as a list,
    so the checkpoint stays loadable with ``weights_only=True``).
    """
    import random

    import numpy as np
    import torch

    legacy = np.random.get_state()
    # the global RandomState is always MT19937, whose state get_state() gives as the legacy tuple
    # (a dict only for other bit generators)
    assert isinstance(legacy, tuple), "numpy's global RandomState is MT19937"
    name, keys, pos, has_gauss, cached = legacy
    out: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": {
            "name": str(name),
            "keys": keys.tolist(),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
    }
    generator = getattr(state.train_loader, "generator", None)
    if generator is not None:
        out["train_loader"] = generator.get_state()
    if state.device.type == "cuda":
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def restore_rng_states(state: TrainState, rng: dict[str, Any]) -> None:
    """Inverse of :func:`rng_states` (a stream missing from ``rng`` is left as it is)."""
    import random

    import numpy as np
    import torch

    if "torch" in rng:
        torch.set_rng_state(rng["torch"].cpu())
    if "python" in rng:
        random.setstate(_as_tuple(rng["python"]))
    if "numpy" in rng and isinstance(rng["numpy"], tuple):  # format numpy_rng: as get_state() returned it
        np.random.set_state(rng["numpy"])
    elif "numpy" in rng:
        np_state = rng["numpy"]
        keys = np.asarray(np_state["keys"], dtype=np.uint32)
        np.random.set_state(
            (np_state["name"], keys, np_state["pos"], np_state["has_gauss"], np_state["cached_gaussian"])
        )
    if "train_loader" in rng and getattr(state.train_loader, "generator", None) is not None:
        state.train_loader.generator.set_state(rng["train_loader"].cpu())
    if "cuda" in rng and state.device.type == "cuda":
        torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])


def _as_tuple(value: Any) -> Any:
    return tuple(_as_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value


def state_dict_checkpoint(state: TrainState, metrics: dict[str, Any]) -> dict[str, Any]:
    """The v1.6 checkpoint: state dicts, plain numbers, RNG states and the run so far."""
    optimizer = state.optimizer
    assert optimizer is not None, "make_optimizer runs before training, so before any checkpoint"
    return {
        "format": "state_dict",
        "format_version": FORMAT_VERSION,
        "epoch": int(state.epoch),
        "step": int(state.step),
        "model_state_dict": state.model.state_dict(),
        "optimizer_state_dict": optimizer.state_dict(),
        "scheduler_state_dict": state.scheduler.state_dict() if state.scheduler is not None else None,
        "metrics": plain_metrics(metrics),
        "rng": rng_states(state),
        "history": [plain_metrics(record) for record in state.history],
        "lr_per_step": [float(lr) for lr in state.lr_per_step],
        "findings": [plain_metrics(f.to_dict()) for f in state.findings],
    }


def v15_checkpoint(state: TrainState, metrics: dict[str, Any]) -> dict[str, Any]:
    """The v1.5 checkpoint: whole objects, numpy metric values, the distribution dict.

    The metric *types* are what v1.5's scikit-learn metrics produced: ``np.float64``
    scores, ``np.int64`` counts, an ndarray of predicted-class counts, and the
    ``prediction_distribution`` dict its ``evaluate()`` returned.
    """
    import numpy as np

    values: dict[str, Any] = {}
    for key, value in plain_metrics(metrics).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            values[key] = value
        else:
            values[key] = np.int64(value) if isinstance(value, int) else np.float64(value)
    if "pred_positive" in metrics and "n" in metrics:
        positive, n = int(metrics["pred_positive"]), int(metrics["n"])
        values["pred_counts"] = np.array([n - positive, positive], dtype=np.int64)
        values["prediction_distribution"] = {"predicted_vulnerable": positive, "predicted_safe": n - positive}
    return {
        "epoch": int(state.epoch),
        "model": state.model,
        "optimizer": state.optimizer,
        "scheduler": state.scheduler,
        "metrics": values,
    }


# resolved path -> sha256 of the bytes this process saved there (see load_checkpoint)
_WRITTEN_HERE: dict[str, str] = {}


class UntrustedCheckpointError(Exception):
    """A full (not weights-only) unpickling asked for a file this process did not write."""


def _sha256(data_or_path: bytes | Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    if isinstance(data_or_path, bytes):
        digest.update(data_or_path)
    else:
        with open(data_or_path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


class _WriteSink:
    """The file ``torch.save`` writes through. It keeps the ``OSError`` of a failed write,
    which ``torch.save`` itself turns into a ``RuntimeError`` that names neither the file nor
    the cause (``[enforce fail at inline_container.cc] unexpected pos``) on a full disk."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.error: OSError | None = None

    def write(self, data: Any) -> int:  # data: the buffer torch's writer hands over
        try:
            return self.fh.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self.fh.flush()


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file, then rename it over ``path``: a failed write (a full
    disk, no permission) leaves the previous checkpoint intact and raises ``OSError`` naming
    ``path`` and the OS error."""
    import contextlib

    import torch

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            sink = _WriteSink(fh)
            try:
                torch.save(obj, sink)
            except RuntimeError:
                if sink.error is None:
                    raise
                raise sink.error from None
        digest = _sha256(tmp)
        os.replace(tmp, path)
        _WRITTEN_HERE[str(path.resolve())] = digest
    except OSError as exc:
        if exc.errno is None:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from exc  # the checkpoint, not its temporary file
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _bytes_written_here(path: str | Path) -> bytes:
    """The file's bytes, if they are exactly what this process saved there; else refuse."""
    data = Path(path).read_bytes()
    if _WRITTEN_HERE.get(str(Path(path).resolve())) != _sha256(data):
        raise UntrustedCheckpointError(
            f"refusing to unpickle {str(path)!r} without weights_only=True: this process did not write it "
            "(or it changed since), and a full unpickling runs any code the file names; load it with weights_only=True"
        )
    return data


def load_checkpoint(
    path: str | Path, *, weights_only: bool | None = None, allow: tuple[str, ...] = (), map_location: Any = None
) -> dict[str, Any]:
    """``torch.load`` a checkpoint.

    :param weights_only: ``None`` calls ``torch.load(path)`` exactly as v1.5 did, so the
        running PyTorch's default decides (False up to 2.5 with a FutureWarning, True
        from 2.6); True or False is passed explicitly.
    :param allow: dotted names of extra globals the weights-only unpickler may accept
        (``torch.serialization.safe_globals``), e.g. ``numpy._core.multiarray.scalar``.
        Keep it minimal: allow-listing a model class re-opens arbitrary code execution.

    Safety: any load that is not ``weights_only=True`` (the v1.5 replay: ``None``, which
    unpickles anything up to PyTorch 2.5, or ``False``) reads only a file whose bytes this
    very process wrote with :func:`atomic_torch_save`, and unpickles those checked bytes
    from memory; anything else raises :class:`UntrustedCheckpointError` before a byte is
    unpickled. So the harness never fully unpickles a file it did not write itself.
    """
    import contextlib
    import io

    import torch

    kwargs: dict[str, Any] = {}
    if weights_only is not None:
        kwargs["weights_only"] = weights_only
    if map_location is not None:
        kwargs["map_location"] = map_location
    context = (
        torch.serialization.safe_globals([resolve_global(name) for name in allow])
        if allow
        else contextlib.nullcontext()
    )
    source: Any = path if weights_only is True else io.BytesIO(_bytes_written_here(path))
    with context:
        # torch is not followed by mypy (Any); every format harness saves is a dict
        checkpoint: dict[str, Any] = torch.load(source, **kwargs)
    return checkpoint


def resolve_global(dotted: str) -> Any:
    """The object named ``package.module.attr`` (longest importable module prefix)."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(f"cannot import {dotted!r}")


def restore_training_objects(checkpoint: dict[str, Any], model: Any, optimizer: Any, scheduler: Any) -> None:
    """Load a checkpoint (either format) into already-built model, optimizer and scheduler."""

    def as_state(key: str, legacy: str) -> Any:
        if key in checkpoint:
            return checkpoint[key]
        obj = checkpoint.get(legacy)
        return obj.state_dict() if obj is not None else None

    model.load_state_dict(as_state("model_state_dict", "model"))
    optimizer.load_state_dict(as_state("optimizer_state_dict", "optimizer"))
    scheduler_state = as_state("scheduler_state_dict", "scheduler")
    if scheduler is not None and scheduler_state is not None:
        scheduler.load_state_dict(scheduler_state)


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["state_dict", "v15_objects", "numpy_rng"] = Field(
        "state_dict",
        description="state_dict: the v1.6 fix; v15_objects: replay the v1.5 save; numpy_rng: state dicts "
        "with NumPy's RNG state pickled as np.random.get_state() returns it",
    )
    every: PositiveInt = Field(1, description="save every N epochs")
    filename: str = Field("checkpoint.pt", description="file name inside the run directory")


def numpy_rng_checkpoint(state: TrainState, metrics: dict[str, Any]) -> dict[str, Any]:
    """The state-dict checkpoint with NumPy's RNG state as ``np.random.get_state()`` returns it (a
    tuple holding an ndarray), as a trainer that saved its RNG states naively did: every tensor
    loads, but ``weights_only=True`` refuses the ndarray's pickling globals."""
    import numpy as np

    data = state_dict_checkpoint(state, metrics)
    data["format"] = "numpy_rng"
    data["rng"]["numpy"] = np.random.get_state()
    return data


class Checkpoint(Plugin):
    name = "checkpoint"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params

    @hookimpl
    def save_checkpoint(self, state: TrainState, directory: Path) -> SavedCheckpoint | None:
        if state.epoch % self.params.every:
            return None
        path = Path(directory) / self.params.filename
        build = {"state_dict": state_dict_checkpoint, "v15_objects": v15_checkpoint, "numpy_rng": numpy_rng_checkpoint}[
            self.params.format
        ]
        atomic_torch_save(build(state, state.history[-1]), path)
        return SavedCheckpoint(path=path, epoch=state.epoch, format=self.params.format)
