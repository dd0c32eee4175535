"""Workload ``patch_distillation``: the student-distillation incident at CPU scale.

Synthetic single-channel images (smooth noise, about half with a small localized
anomaly, a Gaussian bump) are cut into a grid of patches. A *fixed* teacher (never
trained; a matched filter built deterministically from ``teacher_seed``) scores every
patch, and its scores are mapped onto the incident's teacher scale, about
[-1190, +8]. The student is a small conv net whose per-patch logits are bounded to
the incident's student scale, ``center + scale * tanh(raw)`` = [-2, +4] by default;
its image logit is pooled (max or mean) from its patch logits.

The workload's own criterion is the task loss only (BCE-with-logits of the image
logit against the image label); distillation is a plugin (``distillation``) reading
``outputs.patch_logits`` and ``outputs.teacher_logits``. Teacher logits are computed
once with the data and travel in the batch (``batch["teacher_logits"]``), so plugins
may transform them in ``on_batch``.

Two teacher shapes (``teacher``):

- ``affine``: matched-filter scores mapped affinely onto [``teacher_low``, ``teacher_high``]
  (the incident's [-1190, +8]). Most patches sit far below zero: the scale mismatch.
- ``heavy_tailed``: the same scores mapped onto the body [``body_low``, ``body_high``]
  ([-2, 8]), then the lowest ``outlier_share`` (0.2%) of patches stretched linearly down
  to ``teacher_low``: rare, huge outliers (the "loss 4 -> 500+" curve).

Data (images, labels, teacher logits) is generated from ``data_seed``/``teacher_seed``
and cached on disk like the ``devign`` workload.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PositiveInt, model_validator

from harness.workloads.base import Workload, WorkloadParams, cache_root, cached_tensors

if TYPE_CHECKING:  # torch is imported where it is used, so listing workloads stays light
    import torch


class Params(WorkloadParams):
    n_train: PositiveInt = Field(4000, description="training images")
    n_val: PositiveInt = Field(1000, description="validation images")
    image_size: PositiveInt = Field(32, ge=8, description="image side in pixels")
    patch_size: PositiveInt = Field(8, description="patch side in pixels (image_size must be a multiple)")
    anomaly_share: float = Field(0.5, gt=0, lt=1, description="share of images with an anomaly (label 1)")
    anomaly_amplitude: float = Field(0.8, gt=0, description="peak of the anomaly bump, in noise std units")
    anomaly_sigma: float = Field(1.2, gt=0, description="width of the anomaly bump in pixels")
    noise_smoothing: float = Field(2.0, ge=0, description="Gaussian blur sigma of the background noise")
    white_noise: float = Field(0.3, ge=0, description="std of white noise added to the smooth background")
    data_seed: int = Field(0, description="seed of the images (runs' seeds vary init and order only)")
    teacher: Literal["affine", "heavy_tailed"] = Field("affine", description="teacher logit distribution")
    teacher_seed: int = Field(0, description="seed of the fixed teacher's filter and noise")
    teacher_noise: float = Field(0.1, ge=0, description="std of the teacher's per-patch score noise")
    teacher_low: float = Field(-1190.0, description="lowest teacher logit (incident: -1190)")
    teacher_high: float = Field(8.0, description="highest teacher logit (incident: +8)")
    body_low: float = Field(-2.0, description="heavy_tailed: low end of the teacher's body")
    body_high: float = Field(8.0, description="heavy_tailed: high end of the teacher's body")
    outlier_share: float = Field(0.002, ge=0, lt=0.5, description="heavy_tailed: share of patches stretched to teacher_low")
    channels: PositiveInt = Field(16, ge=2, description="student conv width")
    student_center: float = Field(1.0, description="student patch logit = center + scale * tanh(raw)")
    student_scale: float = Field(3.0, gt=0, description="student patch logits span center +- scale ([-2, 4])")
    pooling: Literal["max", "mean"] = Field("max", description="image logit from patch logits")
    eval_batch_size: PositiveInt = 500
    cache_dir: str | None = Field(None, description="data cache (default $HARNESS_CACHE or ~/.cache/harness)")

    @model_validator(mode="after")
    def _grid(self) -> Params:
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")
        if self.teacher_low >= self.teacher_high:
            raise ValueError("teacher_low must be below teacher_high")
        return self


@dataclass
class PatchOutputs:
    """What ``forward`` returns: the student's patch and image logits and the teacher's patch logits.

    ``patch_logits`` and ``teacher_logits`` are ``(batch, patches)``; ``image_logit`` is ``(batch,)``.
    """

    patch_logits: torch.Tensor
    image_logit: torch.Tensor
    teacher_logits: torch.Tensor


# ------------------------------------------------------------------ workload


class PatchDistillationWorkload(Workload):
    name = "patch_distillation"
    metrics = (
        "auc",
        "val_loss",
        "output_std",
        "image_logit_std",
        "student_logit_min",
        "student_logit_max",
        "logit_absmax",
        "teacher_logit_min",
        "teacher_logit_max",
        "teacher_logit_absmax",
        "teacher_auc",
        "n",
    )
    key_metrics = ("auc", "output_std", "loss")
    Params = Params

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self._data: dict[str, torch.Tensor] | None = None

    # ------------------------------------------------------------ data

    def _cache_key(self) -> str:
        p = self.params
        skip = {"channels", "student_center", "student_scale", "pooling", "eval_batch_size", "cache_dir"}
        from harness.workloads import patch_images

        # the generator's source is part of the key: editing it invalidates cached data
        code = hashlib.sha256(Path(patch_images.__file__).read_bytes()).hexdigest()[:12]
        blob = json.dumps(
            {k: v for k, v in p.model_dump().items() if k not in skip} | {"format": 1, "code": code}, sort_keys=True
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def _load_data(self) -> dict[str, torch.Tensor]:
        if self._data is None:
            path = cache_root(self.params.cache_dir) / "patch_distillation" / f"{self._cache_key()}.pt"
            from harness.workloads.patch_images import build_data

            self._data = cached_tensors(path, lambda: build_data(self.params))
        return self._data

    def datasets(self) -> tuple[Any, Any]:
        from torch.utils.data import TensorDataset

        d = self._load_data()
        train = TensorDataset(d["train_images"], d["train_labels"], d["train_teacher"])
        val = TensorDataset(d["val_images"], d["val_labels"], d["val_teacher"])
        return train, val

    def collate(self, items: list[tuple[torch.Tensor, ...]]) -> dict[str, torch.Tensor]:
        import torch

        images, labels, teacher = (torch.stack(col) for col in zip(*items))
        return {"images": images, "labels": labels, "teacher_logits": teacher}

    def train_labels(self) -> torch.Tensor:
        return self._load_data()["train_labels"]

    # ------------------------------------------------------------ model

    def build_model(self) -> torch.nn.Module:
        from harness.workloads.patch_images import PatchStudent

        p = self.params
        return PatchStudent(p.channels, p.patch_size, p.student_center, p.student_scale)

    def pool(self, patch_logits: torch.Tensor) -> torch.Tensor:
        if self.params.pooling == "max":
            return patch_logits.amax(dim=1)
        return patch_logits.mean(dim=1)

    def forward(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> PatchOutputs:
        patch_logits = model(batch["images"])
        return PatchOutputs(patch_logits, self.pool(patch_logits), batch["teacher_logits"])

    def default_criterion(self) -> Any:
        import torch.nn.functional as F

        def task_bce(outputs: PatchOutputs, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            return F.binary_cross_entropy_with_logits(outputs.image_logit.float(), batch["labels"].float())

        return task_bce

    # ------------------------------------------------------------ metrics

    def evaluate(self, model: torch.nn.Module, loader: Any, device: torch.device) -> dict[str, Any]:
        """Not a classifier's metrics: AUC of the pooled image logit, and the logit scales of both models."""
        import torch

        with torch.no_grad():
            return self._evaluate(model, loader, device)

    def _evaluate(self, model: torch.nn.Module, loader: Any, device: torch.device) -> dict[str, Any]:
        import torch
        import torch.nn.functional as F
        from sklearn.metrics import roc_auc_score

        model.eval()
        patches, images, teachers, labels = [], [], [], []
        for batch in loader:
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            out = self.forward(model, batch)
            patches.append(out.patch_logits.float())
            images.append(out.image_logit.float())
            teachers.append(out.teacher_logits.float())
            labels.append(batch["labels"])
        model.train()
        patch = torch.cat(patches)
        image = torch.cat(images)
        teacher = torch.cat(teachers)
        y = torch.cat(labels)
        val_loss = F.binary_cross_entropy_with_logits(image, y.float())
        y_np = y.cpu().numpy()
        two_classes = len(set(y_np.tolist())) == 2
        finite = bool(torch.isfinite(image).all())
        auc = float(roc_auc_score(y_np, image.cpu().double().numpy())) if two_classes and finite else math.nan
        teacher_image = teacher.amax(dim=1)
        teacher_auc = float(roc_auc_score(y_np, teacher_image.cpu().double().numpy())) if two_classes else math.nan
        return {
            "auc": auc,
            "val_loss": float(val_loss),
            "output_std": float(patch.std()),
            "image_logit_std": float(image.std()),
            "student_logit_min": float(patch.min()),
            "student_logit_max": float(patch.max()),
            "logit_absmax": float(torch.cat([patch.flatten(), image]).abs().max()),
            "teacher_logit_min": float(teacher.min()),
            "teacher_logit_max": float(teacher.max()),
            "teacher_logit_absmax": float(teacher.abs().max()),
            "teacher_auc": teacher_auc,
            "n": int(y.numel()),
        }
