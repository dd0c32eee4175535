"""A finding kind, declared once by the monitor that emits it, and the checks of every reference to one.

A :class:`FindingKind` says what a kind means (one line, shown in reports and the docs), its
likely causes (:class:`harness.core.diagnosis.Cause`, each with its cure as data), the *site*
whose line ``harness watch`` shows for it, whether an LR off by orders of magnitude shows as
it (the doctor then runs the LR range test), the signals its monitor needs, and the *roles*
the doctor's evidence tests give it. Every table that used to list kinds by hand (the LR-type
kinds, watch's site map and switch-off lists, the evidence tests' groups) is derived from
these declarations (:func:`kinds_with`, :func:`declared_kinds`).

Every name of a kind read from the user (a scenario's ``finding X``, ``--fail-on``,
``--ignore``, ``assert_clean(ignore=...)``) or from code (a cause's evidence test, a bug's
``shows_as``, a fix's ``addresses``) is checked against the installed monitors' kinds
(:func:`check_kinds`): a misspelt kind is an :class:`UnknownKindError` naming the closest one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from harness.core.diagnosis import Cause

#: the place in a user's script whose line explains a finding (``harness watch``'s ``where``)
Site = Literal[
    "optimizer",  # the optimizer's construction (its LR, the parameters it was given)
    "optimizer_step",  # the ``optimizer.step()`` call
    "scheduler_step",  # the ``scheduler.step()`` call (else the optimizer's construction)
    "probabilities",  # the module or call that turned the logits into probabilities
    "eval_call",  # the ``model.eval()`` call that left the model in eval mode
]
#: what a monitor reads to judge a kind; ``gradients``: the gradients before each optimizer step
#: (meaningless for a closure-driven optimizer such as LBFGS), ``loss_trend``: the training
#: loss's trend over steps (meaningless for adversarial training, whose losses fight)
Signal = Literal["loss", "loss_trend", "gradients", "parameters", "predictions", "validation", "lr", "data", "memory"]
#: how the doctor's evidence tests read a kind: ``overshoot`` is what a too-high LR does to the
#: loss itself, ``stall`` a mechanism other than the labels that stops learning,
#: ``broken_before_stepping`` a run broken before its first step (the LR cannot be the cause),
#: ``structural`` a fact seen in the code, data or model as it is (the model in eval() mode, a
#: softmax's output into the loss, data on another scale), not a symptom of how training went:
#: when it has one cause, that cause is the diagnosis (:func:`harness.core.diagnosis.most_likely`)
Role = Literal["overshoot", "stall", "broken_before_stepping", "structural"]
ROLES: tuple[str, ...] = ("overshoot", "stall", "broken_before_stepping", "structural")


@dataclass(frozen=True)
class FindingKind:
    """One finding kind, as the monitor that emits it declares it (once, as a module constant)."""

    name: str
    meaning: str
    causes: tuple[Cause, ...] = ()
    site: Site | None = None
    #: an LR off by orders of magnitude shows as this kind: the doctor runs the LR range test
    lr_type: bool = False
    signals: tuple[Signal, ...] = ()
    roles: frozenset[Role] = field(default_factory=frozenset)
    #: False for a kind a plugin only names (``finding_kinds = ("x",)``): several may name it
    declared: bool = True

    def __str__(self) -> str:
        return self.name


class UnknownKindError(ValueError):
    """A reference to a finding kind no installed monitor emits."""


def check_kinds(names: Iterable[str], known: Iterable[str], where: str) -> None:
    """Raise :class:`UnknownKindError` for the first of ``names`` that is not a ``known`` kind.

    :param where: what named it, for the message (``"--fail-on"``, ``"bug 'x' shows_as"``).
    """
    from harness.core.resolver import closest

    known = frozenset(known)
    for name in names:
        if name not in known:
            raise UnknownKindError(
                f"{where}: unknown finding kind {name!r}{closest(name, sorted(known))}; "
                f"known kinds: {', '.join(sorted(known))}"
            )


def declared_kinds(plugins: Mapping[str, Any]) -> dict[str, FindingKind]:
    """Every kind the ``plugins`` (name -> info with ``.cls``) emit, by name.

    :raises UnknownKindError: two different declarations of one name (a kind is declared once;
        a second emitter, such as a watch rule, reuses the monitor's object).
    """
    found: dict[str, FindingKind] = {}
    owner: dict[str, str] = {}
    for name, info in plugins.items():
        for kind in getattr(info.cls, "kinds", ()):
            if kind.name in found and found[kind.name] is not kind and kind.declared and found[kind.name].declared:
                raise UnknownKindError(
                    f"finding kind {kind.name!r} is declared twice: by {owner[kind.name]!r} and by {name!r} "
                    "(a second emitter reuses the first one's FindingKind)"
                )
            if kind.name not in found or (kind.declared and not found[kind.name].declared):
                found[kind.name], owner[kind.name] = kind, name
    return found


def plugins_needing(plugins: Mapping[str, Any], signal: str) -> tuple[str, ...]:
    """The ``plugins`` (name -> info with ``.cls``) whose kinds need ``signal``, in their order
    (``harness watch`` switches them off where a script's training cannot give it)."""
    return tuple(name for name, info in plugins.items() if signal in signals_of(info.cls))


def signals_of(cls: Any) -> tuple[str, ...]:
    """What plugin class ``cls`` reads: its ``needs``, else the signals of the kinds it emits."""
    needs = getattr(cls, "needs", None)
    if needs is not None:
        return tuple(needs)
    return tuple(dict.fromkeys(s for k in getattr(cls, "kinds", ()) for s in k.signals))


def structural_kinds(plugins: Mapping[str, Any]) -> frozenset[str]:
    """The kinds ``plugins`` declare ``structural``: facts seen in the code, data or model as they are."""
    return frozenset(name for name, kind in declared_kinds(plugins).items() if "structural" in kind.roles)


def site_of(kind: str, plugins: Mapping[str, Any]) -> str | None:
    """The site declared for ``kind`` by one of ``plugins``, or None."""
    declared = declared_kinds(plugins).get(kind)
    return declared.site if declared is not None else None
