"""What each save format writes: v1.6 state dicts with plain numbers, or v1.5's whole objects and numpy."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from harness.core.state import SavedCheckpoint
from harness.plugins.fixes.checkpoint import load_checkpoint, plain_metrics
from harness.testing import run_tiny


def saved(tmp_path: Path, fmt: str, **train: Any) -> tuple[Any, dict[str, Any]]:
    state, status, trace = run_tiny({"checkpoint": {"format": fmt}, "linear_warmup": {}}, run_dir=tmp_path, **train)
    assert status == "ok"
    assert trace["save_checkpoint"] == {"checkpoint": state.epoch}
    assert state.last_checkpoint is not None
    return state, state.last_checkpoint


def test_state_dict_checkpoint_holds_only_weights_only_types(tmp_path: Path) -> None:
    state, written = saved(tmp_path, "state_dict", epochs=2)
    assert written == SavedCheckpoint(path=tmp_path / "checkpoint.pt", epoch=2, format="state_dict")
    ckpt = load_checkpoint(written.path, weights_only=True)  # every version, no allow-list
    assert (ckpt["epoch"], ckpt["step"]) == (2, state.step)
    for name, tensor in state.model.state_dict().items():
        assert torch.equal(ckpt["model_state_dict"][name], tensor)
    assert ckpt["scheduler_state_dict"]["last_epoch"] == state.step
    assert ckpt["optimizer_state_dict"]["param_groups"][0]["lr"] == state.current_lr()
    # metrics: plain Python numbers, no distribution dict
    assert "prediction_distribution" not in ckpt["metrics"]
    assert {type(v) for v in ckpt["metrics"].values()} <= {int, float}
    assert ckpt["metrics"]["f1"] == state.history[-1]["f1"]
    assert ckpt["history"] == state.history and ckpt["lr_per_step"] == state.lr_per_step
    # the random streams a resume needs
    assert torch.equal(ckpt["rng"]["train_loader"], state.train_loader.generator.get_state())
    assert torch.equal(ckpt["rng"]["torch"], torch.get_rng_state())
    assert len(ckpt["rng"]["numpy"]["keys"]) == 624


def test_v15_checkpoint_replays_whole_objects_and_numpy_metrics(tmp_path: Path) -> None:
    state, written = saved(tmp_path, "v15_objects", epochs=1)
    assert written.format == "v15_objects"
    ckpt = load_checkpoint(written.path, weights_only=False)
    assert type(ckpt["model"]) is type(state.model)
    assert isinstance(ckpt["optimizer"], torch.optim.AdamW)
    assert type(ckpt["scheduler"]) is type(state.scheduler)
    metrics = ckpt["metrics"]
    assert type(metrics["f1"]) is np.float64
    assert type(metrics["pred_positive"]) is np.int64
    assert isinstance(metrics["pred_counts"], np.ndarray)
    assert metrics["pred_counts"].tolist() == [metrics["n"] - metrics["pred_positive"], metrics["pred_positive"]]
    assert metrics["prediction_distribution"]["predicted_vulnerable"] == state.history[-1]["pred_positive"]
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        load_checkpoint(written.path, weights_only=True)


def test_every_n_epochs_and_no_temp_files_left(tmp_path: Path) -> None:
    state, _, trace = run_tiny({"checkpoint": {"every": 2, "filename": "ck.pt"}}, run_dir=tmp_path, epochs=3)
    assert state.last_checkpoint.epoch == 2  # written after epoch 2 only, not 3
    assert trace["save_checkpoint"] == {"checkpoint": 1}  # answered (a file written) once
    assert load_checkpoint(tmp_path / "ck.pt", weights_only=True)["epoch"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]


def test_plain_metrics_converts_scalars_and_drops_containers() -> None:
    metrics = {
        "f1": np.float64(0.5),
        "n": np.int64(7),
        "loss": torch.tensor(0.25),
        "pred_counts": np.array([3, 4]),
        "prediction_distribution": {"predicted_safe": 3},
        "name": "x",
        "auc": None,
    }
    out = plain_metrics(metrics)
    assert out == {"f1": 0.5, "n": 7, "loss": 0.25, "name": "x", "auc": None}
    assert type(out["f1"]) is float and type(out["n"]) is int
