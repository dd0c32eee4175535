"""The checkpoint round-trip outcome for every save format x load call, on the running PyTorch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from packaging.version import Version
from pydantic import ValidationError

from harness.core.hookspecs import hookimpl
from harness.plugins.fixes.checkpoint import atomic_torch_save
from harness.plugins.fixes.checkpoint_load import CheckpointLoad, Params, error_summary
from harness.testing import run_tiny

TORCH = Version(torch.__version__.split("+")[0])
DEFAULT_IS_WEIGHTS_ONLY = Version("2.6") <= TORCH


def roundtrip(tmp_path: Path, fmt: str, load: dict[str, Any], **train: Any) -> tuple[Any, dict[str, Any]]:
    plugins = {"checkpoint": {"format": fmt}, "checkpoint_load": load, "linear_warmup": {}}
    state, status, trace = run_tiny(plugins, run_dir=tmp_path, epochs=2, **train)
    assert status == "ok"  # a failing round-trip is an outcome, never a crashed run
    assert trace["save_checkpoint"] == {"checkpoint": 2}
    assert trace["on_checkpoint"] == {"checkpoint_load": 2}
    return state, state.outcomes


@pytest.mark.parametrize("weights_only", [None, True, False])
def test_state_dict_checkpoint_round_trips_with_any_load_call(tmp_path: Path, weights_only: bool | None) -> None:
    _, outcomes = roundtrip(tmp_path, "state_dict", {"weights_only": weights_only})
    assert outcomes["checkpoint_roundtrip"] == "ok"
    assert "checkpoint_error" not in outcomes


def test_v15_checkpoint_with_default_load_depends_on_the_torch_version(tmp_path: Path) -> None:
    _, outcomes = roundtrip(tmp_path, "v15_objects", {})
    if DEFAULT_IS_WEIGHTS_ONLY:  # 2.6+: torch.load(path) means weights_only=True
        assert outcomes["checkpoint_roundtrip"] == "fails"
        assert outcomes["checkpoint_error"] == "UnpicklingError"
        assert outcomes["checkpoint_error_message"].startswith("unsupported global ")
    else:  # up to 2.5 it unpickles anything, warning about the coming change (2.4+)
        assert outcomes["checkpoint_roundtrip"] == "ok"
        if Version("2.4") <= TORCH:
            assert outcomes["checkpoint_load_warning"] == "FutureWarning"


def test_v15_checkpoint_fails_weights_only_and_loads_unsafely_on_every_version(tmp_path: Path) -> None:
    _, safe = roundtrip(tmp_path / "safe", "v15_objects", {"weights_only": True})
    assert (safe["checkpoint_roundtrip"], safe["checkpoint_error"]) == ("fails", "UnpicklingError")
    _, unsafe = roundtrip(tmp_path / "unsafe", "v15_objects", {"weights_only": False})
    assert unsafe["checkpoint_roundtrip"] == "ok"
    assert "checkpoint_load_warning" not in unsafe  # an explicit weights_only never warns


def test_round_trip_leaves_training_bit_identical(tmp_path: Path) -> None:
    from harness.testing import tiny_workload

    workload = tiny_workload(hidden_dropout=0.1)  # dropout draws from the global RNG
    plain, _, _ = run_tiny({"linear_warmup": {}}, workload=workload, epochs=2)
    checked, _ = roundtrip(tmp_path, "state_dict", {"weights_only": True}, workload=workload)
    assert checked.outcomes["checkpoint_roundtrip"] == "ok"
    for (name, a), b in zip(plain.model.state_dict().items(), checked.model.state_dict().values(), strict=False):
        assert torch.equal(a, b), name
    assert plain.lr_per_step == checked.lr_per_step


def test_restored_state_that_differs_from_the_live_one_is_a_mismatch(tmp_path: Path) -> None:
    class ChangeWeightsAfterSave:  # between the save (save_checkpoint) and the check (on_checkpoint)
        @hookimpl(tryfirst=True)  # a test double: before checkpoint_load in the same hook
        def on_checkpoint(self, state: Any) -> None:
            with torch.no_grad():
                state.model.classifier.out_proj.bias.add_(1.0)

    plugins = {"checkpoint": {}, "checkpoint_load": {"weights_only": True}}
    state, _, _ = run_tiny(plugins, observers=(ChangeWeightsAfterSave(),), run_dir=tmp_path, epochs=1)
    assert state.outcomes["checkpoint_roundtrip"] == "mismatch"


def _numpy_metrics_checkpoint(path: Path) -> None:
    model = torch.nn.Linear(2, 1)
    atomic_torch_save({"model_state_dict": model.state_dict(), "metrics": {"f1": np.float64(0.5)}}, path)


def test_minimal_allow_list_loads_numpy_metrics_weights_only(tmp_path: Path) -> None:
    path = tmp_path / "numpy.pt"
    _numpy_metrics_checkpoint(path)
    scalar = np.float64(0).__reduce__()[0]
    allow = [f"{scalar.__module__}.{scalar.__name__}", "numpy.dtype"]
    dtype_class = type(np.dtype(np.float64))
    if dtype_class is not np.dtype:  # NumPy >= 1.25 pickles the dtype's own class too
        allow.append(f"{dtype_class.__module__}.{dtype_class.__name__}")
    with pytest.raises(Exception, match="Unsupported global"):
        CheckpointLoad(Params(weights_only=True)).load(path)
    checkpoint, warnings = CheckpointLoad(Params(weights_only=True, allow=allow)).load(path)
    assert checkpoint["metrics"]["f1"] == 0.5 and warnings == []


def test_allow_list_without_weights_only_is_refused() -> None:
    with pytest.raises(ValidationError, match="allow only applies to weights-only"):
        Params(weights_only=False, allow=["numpy.dtype"])
    assert Params(allow=["numpy.dtype"]).weights_only is None  # the default call is weights-only from 2.6


def test_no_checkpoint_written_no_outcome(tmp_path: Path) -> None:
    state, _, trace = run_tiny({"checkpoint_load": {"weights_only": True}}, run_dir=tmp_path, epochs=1)
    assert "checkpoint_roundtrip" not in state.outcomes
    assert trace["on_checkpoint"] == {"checkpoint_load": 1}


def test_error_summary_names_the_refused_global() -> None:
    exc = RuntimeError(
        "Weights only load failed. \x1b[1mx\x1b[0m\n\tWeightsUnpickler error: Unsupported global: GLOBAL a.b.C was not"
    )
    assert error_summary(exc) == "unsupported global a.b.C"
    assert error_summary(ValueError("first line\nsecond")) == "first line"


def test_shipped_scenario_holds_on_this_torch_version(tmp_path: Path) -> None:
    from harness.execution.runner import plan_runs, run_suite
    from harness.judging.verdicts import run_ok
    from harness.scenario import load_scenario

    scenario = load_scenario(Path(__file__).parents[3] / "scenarios" / "checkpoint_compat.yaml")
    records = {r["variant"]: r for r in run_suite(scenario, plan_runs(scenario), results_dir=tmp_path)}
    assert all(run_ok(r) for r in records.values()), [r["expectations"] for r in records.values()]
    expected = "fails" if DEFAULT_IS_WEIGHTS_ONLY else "ok"
    assert records["broken"]["outcomes"]["checkpoint_roundtrip"] == expected
    assert records["fixed"]["outcomes"]["checkpoint_roundtrip"] == "ok"
    applicable = {e["name"] for e in records["broken"]["expectations"] if e["passed"] is not None}
    assert ("outcome.checkpoint_roundtrip == fails" in applicable) == DEFAULT_IS_WEIGHTS_ONLY


def test_it_checks_whatever_plugin_saved_the_checkpoint(tmp_path: Path) -> None:
    """The channel is state.last_checkpoint (what save_checkpoint returned), not the checkpoint
    plugin: a third-party writer's file is read back the same way."""
    from harness.core.plugin import Plugin
    from harness.core.state import SavedCheckpoint
    from harness.plugins.fixes.checkpoint import state_dict_checkpoint
    from harness.testing import train_tiny

    class OwnWriter(Plugin):
        """Test double. Pathology: none. Signal: none. Fix: writes its own checkpoint file."""

        name = "own_writer"

        @hookimpl
        def save_checkpoint(self, state: Any, directory: Path) -> SavedCheckpoint:
            path = Path(directory) / f"own-{state.epoch}.pt"
            atomic_torch_save(state_dict_checkpoint(state, state.history[-1]), path)
            return SavedCheckpoint(path=path, epoch=state.epoch, format="own")

    run = train_tiny(
        {"own_writer": True, "checkpoint_load": {"weights_only": True}, "linear_warmup": {}},
        extra=(OwnWriter,),
        run_dir=tmp_path,
        epochs=2,
    )
    assert run.state.last_checkpoint == SavedCheckpoint(tmp_path / "own-2.pt", 2, "own")
    assert run.state.outcomes["checkpoint_roundtrip"] == "ok"
    assert run.trace["save_checkpoint"] == {"own_writer": 2} and run.trace["on_checkpoint"] == {"checkpoint_load": 2}


def test_two_checkpoint_writers_are_a_conflict(tmp_path: Path) -> None:
    from harness.core.plugin import Plugin
    from harness.core.pluginmanager import PluginConflictError
    from harness.testing import train_tiny

    class OtherWriter(Plugin):
        """Test double. Pathology: none. Signal: none. Fix: none."""

        name = "other_writer"

        @hookimpl
        def save_checkpoint(self) -> None:
            return None

    with pytest.raises(
        PluginConflictError, match="'checkpoint' and 'other_writer' both answer the firstresult hook 'save_checkpoint'"
    ):
        train_tiny({"checkpoint": True, "other_writer": True}, extra=(OtherWriter,), run_dir=tmp_path, epochs=1)
