"""Model introspection shared by the bug plugins and the detectors (not a plugin itself).

Works on any ``torch.nn.Module`` from its module tree only (no workload names): which
activation modules are rectifiers, which layers feed them, which module is the output layer.
"""

from __future__ import annotations

from typing import Any

#: activation classes whose unit dies (output 0 and gradient ~0) on a negative input, matched by
#: class name so transformers' ``GELUActivation``/``NewGELUActivation`` count without an import
RECTIFIER_PARTS = ("relu", "gelu", "silu", "mish", "swish")
NOT_RECTIFIERS = ("leakyrelu", "prelu", "rrelu")  # a negative slope: a unit never fully dies


def is_rectifier(module: Any) -> bool:
    """Whether ``module`` is a rectifier-like activation (ReLU, GELU, SiLU, ...; not LeakyReLU)."""
    name = type(module).__name__.lower()
    return name not in NOT_RECTIFIERS and any(part in name for part in RECTIFIER_PARTS)


def rectifiers(model: Any) -> list[tuple[str, Any]]:
    """``(name, module)`` of every rectifier activation module, in registration order."""
    return [(name, m) for name, m in model.named_modules() if name and is_rectifier(m)]


def layers_feeding_rectifiers(model: Any) -> list[tuple[str, Any]]:
    """The Linear/Conv layers (with a bias) whose output goes into a rectifier: the layer
    registered last before each rectifier module (``Linear, ReLU`` in a Sequential;
    ``intermediate.dense`` before ``intermediate_act_fn`` in a transformers encoder)."""
    import torch

    found: list[tuple[str, Any]] = []
    last: tuple[str, Any] | None = None
    for name, module in model.named_modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.modules.conv._ConvNd)) and module.bias is not None:
            last = (name, module)
        elif name and is_rectifier(module) and last is not None:
            if all(last[1] is not m for _, m in found):
                found.append(last)
            last = None
    return found


def output_layer(model: Any) -> tuple[str, Any]:
    """The module registered last among those holding parameters directly (the head)."""
    owners = [(name, m) for name, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))]
    if not owners:
        raise ValueError("the model has no parameters")
    return owners[-1]


def is_classifier(workload: Any) -> bool:
    """Whether a workload is a classifier: it reports the core's classification metrics (a
    workload with its own ``metrics``, a regression or a distillation student, is not)."""
    try:
        return "accuracy" in workload.declared_metrics(workload.params)
    except Exception:  # noqa: BLE001 - not a harness Workload
        return False


def class_logits(workload: Any, outputs: Any) -> Any:
    """The class-logit tensor of a classifier workload's outputs (``workload.logits``: a tensor,
    or ``.logits``); None for a workload that is not a classifier or outputs that are not a tensor."""
    import torch

    if not is_classifier(workload):
        return None
    logits = workload.logits(outputs)
    logits = getattr(logits, "logits", logits)
    return logits if isinstance(logits, torch.Tensor) and logits.is_floating_point() else None
