"""Data and student of the ``patch_distillation`` workload (imports torch; the workload imports it lazily).

Synthetic images with a localized anomaly, the fixed matched-filter teacher mapped
onto the incident's logit scale, and the bounded conv student. See
:mod:`harness.workloads.patch_distillation` for what each piece replays.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from harness.workloads.patch_params import Params


# ------------------------------------------------------------------ data generation


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """A normalized 2-D Gaussian kernel (odd side, about 3 sigma each way)."""
    radius = max(1, math.ceil(3 * sigma))
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
    radius = max(1, math.ceil(2 * sigma))
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


class PatchStudent(torch.nn.Module):  # type: ignore[misc]  # torch is not followed by mypy: Any
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
