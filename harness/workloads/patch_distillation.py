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

import math
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from harness.workloads.base import CachedTensorWorkload
from harness.workloads.patch_params import Params

if TYPE_CHECKING:  # torch is imported where it is used, so listing workloads stays light
    import torch


@dataclass
class PatchOutputs:
    """What ``forward`` returns: the student's patch and image logits and the teacher's patch logits.

    ``patch_logits`` and ``teacher_logits`` are ``(batch, patches)``; ``image_logit`` is ``(batch,)``.
    """

    patch_logits: torch.Tensor
    image_logit: torch.Tensor
    teacher_logits: torch.Tensor


# ------------------------------------------------------------------ workload


class PatchDistillationWorkload(CachedTensorWorkload):
    params: Params  # the validated workload.params (narrower than the base class's BaseModel)
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
    item_tensors = ("images", "labels", "teacher")

    # ------------------------------------------------------------ data

    #: parameters of the student and the evaluation: they do not change the data
    NOT_DATA = frozenset({"channels", "student_center", "student_scale", "pooling", "eval_batch_size", "cache_dir"})

    def data_fields(self) -> dict[str, Any]:
        return {k: v for k, v in self.params.model_dump().items() if k not in self.NOT_DATA}

    def data_sources(self) -> tuple[ModuleType, ...]:
        from harness.workloads import patch_images

        return (patch_images,)  # the generator's source

    def _build_data(self) -> dict[str, torch.Tensor]:
        from harness.workloads.patch_images import build_data

        return build_data(self.params)

    def collate(self, items: list[tuple[torch.Tensor, ...]]) -> dict[str, torch.Tensor]:
        import torch

        images, labels, teacher = (torch.stack(col) for col in zip(*items, strict=False))
        return {"images": images, "labels": labels, "teacher_logits": teacher}

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
