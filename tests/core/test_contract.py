"""The workload contract checked before training: one line naming the workload, the method and the fix.

Each mistake is written the way a user writes it (numpy arrays, dict items keyed
``target``, float64 features, labels 1..K, a BatchNorm model whose last batch holds one
item); the check must say so before the first optimizer step, and change nothing a clean
run does.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn
from torch.utils.data import TensorDataset

from harness import Workload
from harness.core.contract import ContractError, check_contract
from harness.core.loop import build_state
from harness.testing import tiny_train_config

X = torch.randn(40, 5, generator=torch.Generator().manual_seed(0))
Y = (X[:, 0] > 0).long()


class Clean(Workload):
    def build_model(self) -> nn.Module:
        return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))

    def datasets(self):
        return TensorDataset(X[:30], Y[:30]), TensorDataset(X[30:], Y[30:])


class NumpyArrays(Clean):
    def datasets(self):
        return X[:30].numpy(), Y[:30].numpy()


class TargetKey(Clean):
    def datasets(self):
        items = [{"x": X[i], "target": int(Y[i])} for i in range(40)]
        return items[:30], items[30:]


class Float64(Clean):
    def datasets(self):
        return TensorDataset(X[:30].double(), Y[:30]), TensorDataset(X[30:].double(), Y[30:])


class OneBased(Clean):
    def datasets(self):
        return TensorDataset(X[:30], Y[:30] + 1), TensorDataset(X[30:], Y[30:] + 1)


class NotLogits(Clean):
    def build_model(self) -> nn.Module:
        class Scores(nn.Module):
            def forward(self, x):
                return {"scores": x}

        return Scores()


class LastBatchOfOne(Clean):
    def build_model(self) -> nn.Module:
        return nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))

    def datasets(self):
        return TensorDataset(X[:33], Y[:33]), TensorDataset(X[33:], Y[33:])


def contract_error(workload: Workload, batch_size: int = 8) -> str:
    with pytest.raises(ContractError) as info:
        build_state(workload, tiny_train_config(batch_size=batch_size), 0, torch.device("cpu"), None)
    return str(info.value)


@pytest.mark.parametrize(
    ("workload", "words"),
    [
        (NumpyArrays(), ["workload NumpyArrays: datasets() returned a numpy array", "TensorDataset("]),
        (TargetKey(), ["datasets(): items are dicts with keys ['target', 'x'] but no 'labels' key"]),
        (Float64(), ["float64 'inputs'", "float32", "dtype=torch.float32"]),
        (OneBased(), ["label values 2 are outside 0..1", "y - 1"]),
        (NotLogits(), ["forward() returned dict, not logits"]),
    ],
    ids=["numpy", "dict-without-labels", "float64", "labels-1..K", "not-logits"],
)
def test_each_contract_mistake_is_named_before_training(workload: Workload, words: list[str]) -> None:
    message = contract_error(workload)
    assert message.startswith(f"workload {type(workload).__name__}: ")
    for word in words:
        assert word in message


def test_batchnorm_with_a_last_batch_of_one_says_which_batch_size_works() -> None:
    message = contract_error(LastBatchOfOne(), batch_size=8)  # 33 = 4 x 8 + 1
    assert "last training batch holds 1 item (33 items, batch_size 8)" in message
    assert "BatchNorm layer '1'" in message and "(e.g. 9)" in message  # 33 % 9 = 6
    state = build_state(LastBatchOfOne(), tiny_train_config(batch_size=9), 0, torch.device("cpu"), None)
    assert state.hparams.batches_per_epoch == 4


def test_the_check_changes_no_random_stream_and_no_weight() -> None:
    model = Clean().build_model()
    before = [p.detach().clone() for p in model.parameters()]
    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    expected = (torch.rand(1), np.random.rand(), random.random())
    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    train, val = Clean().datasets()
    check_contract(Clean(), train, val, model, 8, torch.device("cpu"))
    assert (torch.rand(1), np.random.rand(), random.random()) == expected
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert model.training


def test_one_logit_labels_must_be_0_or_1_and_regression_skips_class_checks() -> None:
    class OneLogit(OneBased):
        def build_model(self) -> nn.Module:
            return nn.Linear(5, 1)

    assert "label values 2 are outside 0..1" in contract_error(OneLogit())

    class Regression(OneBased):
        task = "regression"

        def build_model(self) -> nn.Module:
            return nn.Linear(5, 1)

        def datasets(self):
            return TensorDataset(X[:30], X[:30, 0]), TensorDataset(X[30:], X[30:, 0])

    build_state(Regression(), tiny_train_config(batch_size=8), 0, torch.device("cpu"), None)


def test_the_cli_refuses_a_broken_contract_with_exit_2_and_no_traceback(tmp_path: Path, monkeypatch) -> None:
    from harness.cli.main import main

    (tmp_path / "user_contract.py").write_text(
        "import torch\nfrom torch import nn\nfrom harness import Workload\n"
        "class Arrays(Workload):\n"
        "    def build_model(self):\n        return nn.Linear(3, 2)\n"
        "    def datasets(self):\n        import numpy as np\n        return np.zeros((8, 3)), np.zeros(8)\n"
    )
    (tmp_path / "s.yaml").write_text(
        "name: arrays\nworkload: {name: 'user_contract:Arrays'}\ntrain: {epochs: 1, batch_size: 4}\nvariants: {v: {}}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "s.yaml"])
    assert result.exit_code == 2
    assert "Error: s.yaml: workload Arrays: datasets() returned a numpy array as the train set" in result.output
    assert "Traceback" not in result.output


def test_labels_out_of_range_are_found_beyond_the_first_items_of_a_users_dataset() -> None:
    class Rows(torch.utils.data.Dataset):
        def __init__(self, labels: torch.Tensor) -> None:
            self.labels = labels

        def __len__(self) -> int:
            return len(self.labels)

        def __getitem__(self, i: int):
            return X[i % 40], int(self.labels[i])

    class Digits(Clean):
        def build_model(self) -> nn.Module:
            return nn.Linear(5, 3)

        def datasets(self):
            labels = torch.arange(300) % 4  # class 3 for 3 logits, first at index 3
            return Rows(labels), Rows(labels[:40])

    assert "label values 3 are outside 0..2" in contract_error(Digits())
