"""The workload contract: what a user writes to replay *their* incident.

A workload owns what is problem-specific: the model and the data. For a
classification problem that is all a user must write::

    from harness import Workload
    from pydantic import BaseModel

    class MyWorkload(Workload):
        class Params(BaseModel):
            hidden: int = 32

        def build_model(self):
            return torch.nn.Sequential(torch.nn.Linear(13, self.params.hidden), ...)

        def datasets(self):
            return train_items, validation_items   # (inputs, label) tuples or dicts with "labels"

Everything else has a default: collate (torch's ``default_collate`` into a dict),
forward (``model(inputs)`` -> logits), loss (cross-entropy), the training labels (read
from the training set once) and evaluation (logits and labels from the validation set,
metrics by :func:`harness.core.metrics.classification_metrics`, so every classification
workload has the same metric names). A binary classifier may return one logit per sample
(the ``BCEWithLogitsLoss`` style): its default loss is then binary cross-entropy on the
logit and its metrics are the same binary ones. A regression workload says
``task = "regression"``: its outputs are predictions of float labels, its loss MSE and its
metrics ``mse``/``mae``/``r2`` (:func:`harness.core.metrics.regression_metrics`); the
monitors that need classes skip it. Override any method to change it; a workload that is
neither overrides :meth:`evaluate` and declares its ``metrics``.

The loop and the plugins talk to a workload only through these methods.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import torch


def cached_tensors(path: Path, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Load a workload's generated data from ``path``, or build it and write it atomically.

    Loaded with ``weights_only=True`` (a cache file is never trusted to run code); a
    corrupt entry is rebuilt.
    """
    import torch

    if path.exists():
        try:
            cached: dict[str, Any] = torch.load(path, weights_only=True)  # torch is not followed by mypy
            return cached
        except Exception:  # noqa: BLE001, S110 - a corrupt entry is rebuilt below
            pass
    data = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save(data, tmp)
    os.replace(tmp, path)
    return data


def cache_root(configured: str | None = None) -> Path:
    """Where workloads cache generated data: ``configured``, ``$HARNESS_CACHE`` or ``~/.cache/harness``."""
    root = configured or os.environ.get("HARNESS_CACHE") or Path.home() / ".cache" / "harness"
    return Path(root)


class WorkloadParams(BaseModel):
    """Base of a workload's parameters (unknown keys are errors); any pydantic model works."""

    model_config = ConfigDict(extra="forbid")


def _item_label(item: Any) -> Any:
    if isinstance(item, Mapping):
        return item["labels"] if "labels" in item else item["label"]
    return item[-1]


class Workload:
    """Base class of every workload (built-in or a user's); see the module docstring.

    Class attributes:

    - ``name``: shown in reports (default: the class name);
    - ``task``: ``"classification"`` (the default: integer labels, class logits) or
      ``"regression"`` (float labels, the model's outputs are the predictions);
    - ``Params``: a pydantic model of the parameters a scenario's ``workload.params`` may set;
    - ``metrics``: the validation metric names :meth:`evaluate` returns. ``None`` (the
      default) means the classification metrics of
      :data:`harness.core.metrics.CLASSIFICATION_METRICS`;
    - ``key_metrics``: the headline metrics, in order, that reports show as columns and
      charts (names from ``metrics`` or the loop's ``loss``). ``None`` (the default): for a
      classifier F1, the balance of its predictions (``max_pred_share``) and the training
      loss; for a workload with its own ``metrics``, its first two and the loss.
    """

    name: ClassVar[str] = ""
    task: ClassVar[str] = "classification"
    metrics: ClassVar[tuple[str, ...] | None] = None
    key_metrics: ClassVar[tuple[str, ...] | None] = None
    Params: ClassVar[type[BaseModel]] = WorkloadParams

    def __init__(self, params: BaseModel | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._train_labels: torch.Tensor | None = None

    # ------------------------------------------------------------ what a user writes

    def build_model(self) -> torch.nn.Module:
        """A fresh model. Called once per run, after seeding, so random init is repeatable."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_model()")

    def datasets(self) -> tuple[Any, Any]:
        """``(train, validation)``: map-style datasets (anything with ``__len__``/``__getitem__``).

        Items are ``(inputs, label)`` tuples or dicts with a ``labels`` (or ``label``) key.
        Called once per run; cache expensive data on ``self``.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement datasets()")

    # ------------------------------------------------------------ defaults

    @classmethod
    def declared_metrics(cls, params: BaseModel | None = None) -> tuple[str, ...]:
        """The metric names :meth:`evaluate` returns; a scenario's expectations may name them.

        Known before training, so a misspelt metric fails at validation. Names may end in
        ``_<k>`` for one metric per class (``pred_share_<k>`` matches ``pred_share_2``).
        """
        from harness.core.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS

        if cls.metrics is not None:
            return tuple(cls.metrics)
        return REGRESSION_METRICS if cls.task == "regression" else CLASSIFICATION_METRICS

    @classmethod
    def declared_key_metrics(cls, params: BaseModel | None = None) -> tuple[str, ...]:
        """The report columns: ``key_metrics``, or the default described in the class docstring."""
        if cls.key_metrics is not None:
            return tuple(cls.key_metrics)
        if cls.metrics is not None:
            return (*cls.metrics[:2], "loss")
        if cls.task == "regression":
            return ("r2", "mae", "loss")
        return ("f1", "max_pred_share", "loss")

    def prepare(self) -> None:
        """Load (or generate) the data and import heavy modules ahead of training.

        The executor calls it once in the parent process before forking workers, so each
        worker inherits the loaded data.
        """
        self.datasets()

    def collate(self, items: list[Any]) -> dict[str, torch.Tensor]:
        """A batch as a dict of tensors: ``{"inputs", "labels"}`` from tuples, the dict's keys from dicts."""
        from torch.utils.data import default_collate

        if isinstance(items[0], Mapping):
            batch = dict(default_collate(items))
            if "labels" not in batch and "label" in batch:
                batch["labels"] = batch.pop("label")
            return batch
        inputs, labels = default_collate(items)
        return {"inputs": inputs, "labels": labels}

    def forward(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> Any:
        """The model's outputs for a batch: ``model(inputs)``, or ``model(**features)`` for dict batches."""
        if "inputs" in batch:
            return model(batch["inputs"])
        return model(**{k: v for k, v in batch.items() if k != "labels"})

    def logits(self, outputs: Any) -> torch.Tensor:
        """The class logits in ``forward``'s outputs (a tensor, ``.logits``, or the first element)."""
        if hasattr(outputs, "logits"):
            return outputs.logits
        if isinstance(outputs, (tuple, list)):
            return outputs[0]
        return outputs

    def default_criterion(self) -> Callable[[Any, dict[str, torch.Tensor]], torch.Tensor]:
        """The plain loss, a callable ``(outputs, batch) -> scalar``: mean cross-entropy of class
        logits; binary cross-entropy of a single logit per sample; MSE for a regression."""
        import torch.nn.functional as F

        def cross_entropy(outputs: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            logits, labels = self.logits(outputs), batch["labels"]
            if logits.dim() == 1 or logits.shape[-1] == 1:  # one logit: P(class 1) = sigmoid(logit)
                return F.binary_cross_entropy_with_logits(logits.reshape(labels.shape), labels.to(logits.dtype))
            return F.cross_entropy(logits, labels)

        def mean_squared_error(outputs: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            predictions, targets = self.logits(outputs), batch["labels"]
            return F.mse_loss(predictions.reshape(targets.shape), targets.to(predictions.dtype))

        return mean_squared_error if self.task == "regression" else cross_entropy

    def train_labels(self) -> torch.Tensor:
        """Every training label as one tensor (class weights read it); read once, then cached."""
        import torch

        if self._train_labels is None:
            train, _ = self.datasets()
            tensors = getattr(train, "tensors", None)
            if tensors is not None:  # a TensorDataset: the last tensor holds the labels
                self._train_labels = tensors[-1]
            else:
                convert = float if self.task == "regression" else int
                self._train_labels = torch.as_tensor([convert(_item_label(train[i])) for i in range(len(train))])
        return self._train_labels

    def predict(self, model: torch.nn.Module, loader: Any, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, labels)`` of the whole validation loader, in ``eval()`` mode, without gradients."""
        import torch

        logits, labels = [], []
        was_training = model.training
        model.eval()
        with torch.no_grad():
            for batch in loader:
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
                logits.append(self.logits(self.forward(model, batch)).float())
                labels.append(batch["labels"])
        model.train(was_training)
        return torch.cat(logits), torch.cat(labels)

    def evaluate(self, model: torch.nn.Module, loader: Any, device: torch.device) -> dict[str, Any]:
        """Validation metrics: the core's classification (or, for a regression, regression)
        metrics of :meth:`predict`'s outputs."""
        from harness.core.metrics import classification_metrics, regression_metrics

        outputs, labels = self.predict(model, loader, device)
        if self.task == "regression":
            return regression_metrics(labels, outputs)
        return classification_metrics(labels, outputs)


class TensorDataWorkload(Workload):
    """A workload whose data is built once per instance (:meth:`_build_data`) as named tensors.

    For each name in ``item_tensors`` (one item's tensors, in order) the data holds
    ``train_<name>`` and ``val_<name>``; the labels are ``label_tensor``'s. It may hold more
    beside them (a vocabulary size, the classes, a tokenizer).
    """

    params: WorkloadParams  # the validated workload.params (narrower than the base class's BaseModel)

    item_tensors: ClassVar[tuple[str, ...]] = ()
    label_tensor: ClassVar[str] = "labels"

    def __init__(self, params: BaseModel | None = None) -> None:
        super().__init__(params)
        self._data: dict[str, Any] | None = None

    def _build_data(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement _build_data()")

    def _load_data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = self._build_data()
        return self._data

    def datasets(self) -> tuple[Any, Any]:
        from torch.utils.data import TensorDataset

        d = self._load_data()
        train, val = (
            TensorDataset(*(d[f"{split}_{name}"] for name in self.item_tensors)) for split in ("train", "val")
        )
        return train, val

    def train_labels(self) -> torch.Tensor:
        return self._load_data()[f"train_{self.label_tensor}"]


@runtime_checkable
class CachedDataParams(Protocol):
    """What a :class:`CachedTensorWorkload` needs in its Params: where to cache (None: :func:`cache_root`)."""

    cache_dir: str | None


class CachedTensorWorkload(TensorDataWorkload):
    """A :class:`TensorDataWorkload` whose data is generated from its parameters and cached on disk.

    One file per key (under ``cache_root(params.cache_dir) / name``): the parameters that shape
    the data (:meth:`data_fields`) and the source of the modules that generate it
    (:meth:`data_sources`), so that editing the generator invalidates the cache instead of
    silently reusing stale samples.
    """

    params: WorkloadParams  # the validated workload.params (narrower than the base class's BaseModel)

    def data_fields(self) -> dict[str, Any]:
        """The parameters the generated data depends on (JSON-serialisable)."""
        raise NotImplementedError(f"{type(self).__name__} must implement data_fields()")

    def data_sources(self) -> tuple[ModuleType, ...]:
        """The modules whose source generates the data."""
        return ()

    def _cache_key(self) -> str:
        sources = [Path(str(module.__file__)).read_bytes() for module in self.data_sources()]
        code = hashlib.sha256(b"".join(sources)).hexdigest()[:12]
        blob = json.dumps(self.data_fields() | {"format": 1, "code": code}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def _load_data(self) -> dict[str, Any]:
        if self._data is None:
            if not isinstance(self.params, CachedDataParams):
                raise TypeError(f"{type(self).__name__}.Params must have a cache_dir field (CachedDataParams)")
            path = cache_root(self.params.cache_dir) / self.name / f"{self._cache_key()}.pt"
            self._data = cached_tensors(path, self._build_data)
        return self._data
