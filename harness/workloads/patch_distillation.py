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
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, PositiveInt, model_validator

from harness.workloads.base import Workload, WorkloadParams, cached_tensors
from harness.workloads.devign import cache_root


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


# ------------------------------------------------------------------ data generation


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """A normalized 2-D Gaussian kernel (odd side, about 3 sigma each way)."""
    radius = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-(x**2) / (2 * sigma**2))
    k = torch.outer(g, g)
    return (k / k.sum()).float()


def smooth_noise(n: int, size: int, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """``(n, 1, size, size)`` Gaussian noise blurred by ``sigma`` and rescaled to unit std per image."""
    noise = torch.randn(n, 1, size, size, generator=generator)
    if sigma > 0:
        k = gaussian_kernel(sigma)[None, None]
        noise = F.conv2d(F.pad(noise, [k.shape[-1] // 2] * 4, mode="reflect"), k)
    noise = noise - noise.mean(dim=(2, 3), keepdim=True)
    return noise / noise.std(dim=(2, 3), keepdim=True)


def anomaly_template(sigma: float) -> torch.Tensor:
    """The anomaly's shape: a checkerboard under a Gaussian envelope (peak 1).

    Smooth background noise has almost no energy at the checkerboard's frequency, so a
    matched filter (the teacher) and a small conv net (the student) can both find it.
    """
    radius = max(1, int(math.ceil(2 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    envelope = torch.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * sigma**2))
    checker = (-1.0) ** (x[:, None] + x[None, :])
    return (envelope * checker).float()


def make_images(p: Params, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and 0/1 labels; a label-1 image carries one anomaly at a random spot.

    Background: Gaussian-blurred noise (unit std per image) plus ``white_noise``.
    """
    g = torch.Generator().manual_seed(seed)
    images = smooth_noise(n, p.image_size, p.noise_smoothing, g)
    images = images + p.white_noise * torch.randn(images.shape, generator=g)
    labels = (torch.rand(n, generator=g) < p.anomaly_share).long()
    template = anomaly_template(p.anomaly_sigma)
    side = template.shape[-1]
    ys = torch.randint(0, p.image_size - side + 1, (n,), generator=g)
    xs = torch.randint(0, p.image_size - side + 1, (n,), generator=g)
    for i in labels.nonzero().flatten().tolist():
        y0, x0 = int(ys[i]), int(xs[i])
        images[i, 0, y0 : y0 + side, x0 : x0 + side] += p.anomaly_amplitude * template
    return images.float(), labels


def teacher_scores(p: Params, images: torch.Tensor, seed_offset: int) -> torch.Tensor:
    """The fixed teacher's raw per-patch scores: a matched filter's patch maximum plus noise.

    The filter is the anomaly template plus a small random perturbation from ``teacher_seed``;
    nothing is trained, so the teacher is a pure function of the images and its seed.
    """
    g = torch.Generator().manual_seed(p.teacher_seed)
    template = anomaly_template(p.anomaly_sigma)
    template = template / template.norm()
    weight = template + 0.05 * torch.randn(template.shape, generator=g) / template.numel() ** 0.5
    weight = weight - weight.mean()  # blind to the flat background level
    pad = weight.shape[-1] // 2
    response = F.conv2d(F.pad(images, [pad] * 4, mode="reflect"), weight[None, None]).abs()
    patch_max = F.max_pool2d(response, p.patch_size).flatten(1)  # (n, patches)
    noise_gen = torch.Generator().manual_seed(p.teacher_seed * 7919 + seed_offset)
    return patch_max + p.teacher_noise * torch.randn(patch_max.shape, generator=noise_gen)


def map_teacher(p: Params, scores: torch.Tensor, lo_ref: float, hi_ref: float, q_ref: float) -> torch.Tensor:
    """Map raw scores onto the teacher's logit scale using reference statistics of the training set."""
    unit = (scores - lo_ref) / (hi_ref - lo_ref)
    if p.teacher == "affine":
        return p.teacher_low + (p.teacher_high - p.teacher_low) * unit
    body = p.body_low + (p.body_high - p.body_low) * unit
    q_body = p.body_low + (p.body_high - p.body_low) * (q_ref - lo_ref) / (hi_ref - lo_ref)
    if p.outlier_share <= 0 or q_body <= p.body_low:
        return body
    # patches below the outlier quantile: [body_low, q_body] stretched onto [teacher_low, q_body]
    stretch = (q_body - p.teacher_low) / (q_body - p.body_low)
    return torch.where(body < q_body, q_body - (q_body - body) * stretch, body)


def build_data(p: Params) -> dict[str, torch.Tensor]:
    train_x, train_y = make_images(p, p.n_train, p.data_seed)
    val_x, val_y = make_images(p, p.n_val, p.data_seed + 1_000_003)
    train_s = teacher_scores(p, train_x, 0)
    val_s = teacher_scores(p, val_x, 1)
    lo, hi = float(train_s.min()), float(train_s.max())
    q = float(torch.quantile(train_s.flatten(), p.outlier_share)) if p.outlier_share > 0 else lo
    return {
        "train_images": train_x,
        "train_labels": train_y,
        "train_teacher": map_teacher(p, train_s, lo, hi, q).float(),
        "val_images": val_x,
        "val_labels": val_y,
        "val_teacher": map_teacher(p, val_s, lo, hi, q).float(),
    }


# ------------------------------------------------------------------ student


class PatchStudent(torch.nn.Module):
    """A small conv backbone, a per-patch max pool and a 1x1 head, bounded by ``center + scale * tanh``."""

    def __init__(self, channels: int, patch_size: int, center: float, scale: float) -> None:
        super().__init__()
        if patch_size % 2:
            raise ValueError("the student needs an even patch_size (its backbone halves the resolution)")
        c = channels
        self.backbone = torch.nn.Sequential(
            torch.nn.Conv2d(1, c // 2, 3, padding=1),  # full resolution: sees the checkerboard
            torch.nn.ReLU(),
            torch.nn.Conv2d(c // 2, c, 3, stride=2, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(c, c, 3, padding=1),
            torch.nn.ReLU(),
        )
        self.head = torch.nn.Conv2d(c, 1, 1)
        self.patch_size = patch_size // 2  # in backbone-output pixels
        self.center = center
        self.scale = scale

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(batch, patches)`` bounded patch logits."""
        features = F.max_pool2d(self.backbone(images), self.patch_size)
        raw = self.head(features).flatten(1)
        return self.center + self.scale * torch.tanh(raw)


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
    Params = Params

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self._data: dict[str, torch.Tensor] | None = None

    # ------------------------------------------------------------ data

    def _cache_key(self) -> str:
        p = self.params
        skip = {"channels", "student_center", "student_scale", "pooling", "eval_batch_size", "cache_dir"}
        code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]  # edits invalidate the cache
        blob = json.dumps(
            {k: v for k, v in p.model_dump().items() if k not in skip} | {"format": 1, "code": code}, sort_keys=True
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def _load_data(self) -> dict[str, torch.Tensor]:
        if self._data is None:
            path = cache_root(self.params.cache_dir) / "patch_distillation" / f"{self._cache_key()}.pt"
            self._data = cached_tensors(path, lambda: build_data(self.params))
        return self._data

    def datasets(self) -> tuple[Any, Any]:
        from torch.utils.data import TensorDataset

        d = self._load_data()
        train = TensorDataset(d["train_images"], d["train_labels"], d["train_teacher"])
        val = TensorDataset(d["val_images"], d["val_labels"], d["val_teacher"])
        return train, val

    def collate(self, items: list[tuple[torch.Tensor, ...]]) -> dict[str, torch.Tensor]:
        images, labels, teacher = (torch.stack(col) for col in zip(*items))
        return {"images": images, "labels": labels, "teacher_logits": teacher}

    def train_labels(self) -> torch.Tensor:
        return self._load_data()["train_labels"]

    # ------------------------------------------------------------ model

    def build_model(self) -> torch.nn.Module:
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
        def task_bce(outputs: PatchOutputs, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            return F.binary_cross_entropy_with_logits(outputs.image_logit.float(), batch["labels"].float())

        return task_bce

    # ------------------------------------------------------------ metrics

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, loader: Any, device: torch.device) -> dict[str, Any]:
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
