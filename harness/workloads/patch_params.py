"""The parameters of the ``patch_distillation`` workload (pydantic only: listing workloads stays light).

Shared by the workload (:mod:`harness.workloads.patch_distillation`) and its data generator
(:mod:`harness.workloads.patch_images`), which both read them; see the workload's docstring
for what each replays.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from harness.workloads.base import WorkloadParams


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
    outlier_share: float = Field(
        0.002, ge=0, lt=0.5, description="heavy_tailed: share of patches stretched to teacher_low"
    )
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
