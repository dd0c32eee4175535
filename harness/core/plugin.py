"""The base every harness plugin (built-in or third-party) derives from.

A plugin is a class: its name, what kind it is, a pydantic ``Params`` model (the
parameters a scenario may set, validated before training) and its hookimpls. One
instance is made per run, so plugin state never leaks between runs.

Plugins that compete for one role declare it: every *firstresult* hook a plugin answers
is a *slot* (``make_criterion``, ``make_scheduler``, ...), ``slots`` names further
exclusive roles, and two enabled plugins sharing a slot are refused before training
(:func:`harness.core.pluginmanager.resolve_conflicts`) unless one lists the other in
``replaces``: then the replaced plugin is switched off wherever both are enabled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from harness.core.findings import FindingKind
from harness.core.hookspecs import hookimpl

if TYPE_CHECKING:
    from harness.core.diagnosis import Cause

Kind = Literal["core", "fix", "monitor", "bug"]

#: every plugin kind, in the order listings show them
KINDS: tuple[str, ...] = ("core", "fix", "monitor", "bug")


class NoParams(BaseModel):
    """Parameters of a plugin that takes none."""

    model_config = ConfigDict(extra="forbid")


class Plugin:
    """Base class: subclasses set ``name``, ``kind``, ``Params`` and implement hooks.

    - ``kind = "fix"`` changes training and is off unless a variant enables it;
    - ``kind = "monitor"`` only observes (records findings) and is on by default (one
      whose measurements differ between any two runs, ``memory``, overrides
      :meth:`default_enabled` and is on only where a scenario names it);
    - ``kind = "core"`` supplies defaults and cannot be switched off;
    - ``kind = "bug"`` *injects* a real training mistake (gradients never zeroed, softmax
      before the cross-entropy, ...) through its own mechanism, to measure the monitors
      against it (``benchmarks/detectors.py``) and to practise repairs (``harness doctor``);
      off unless a variant enables it, like a fix. ``shows_as`` names the finding kinds
      it is expected to produce.
    """

    name: ClassVar[str] = ""
    kind: ClassVar[Kind] = "fix"
    Params: ClassVar[type[BaseModel]] = NoParams
    #: a monitor: the finding kinds it emits, each declared once (:class:`FindingKind`: its
    #: meaning, causes, site, signals); ``finding_kinds`` and ``causes`` are derived from it
    kinds: ClassVar[tuple[FindingKind, ...]] = ()
    #: the names of ``kinds`` (a plugin may list plain names instead: each becomes a kind
    #: with no declared meaning, whose causes are taken from ``causes``)
    finding_kinds: ClassVar[tuple[str, ...]] = ()
    #: plugins this one supersedes: when both are enabled, those are switched off (e.g.
    #: ``class_weights`` replaces v1.5's ``sample_weighted_loss``: both build the criterion)
    replaces: ClassVar[tuple[str, ...]] = ()
    #: exclusive roles beyond the firstresult hooks it answers (e.g. ``"param_groups"``
    #: for plugins that set the optimizer's parameter groups in a ``make_optimizer`` wrapper)
    slots: ClassVar[tuple[str, ...]] = ()
    #: a fix: the finding kinds it may cure; ``harness doctor`` proposes it for a run with
    #: one of them (e.g. ``linear_warmup``: ``("collapse", "lr_zero", ...)``)
    addresses: ClassVar[tuple[str, ...]] = ()
    #: a fix: the parameter sets ``harness doctor`` tries, in order (``({},)``: its defaults)
    suggestions: ClassVar[tuple[dict[str, Any], ...]] = ({},)
    #: a bug: the finding kinds its mistake is expected to show as (the benchmark's
    #: "relevant" findings for it)
    shows_as: ClassVar[tuple[str, ...]] = ()
    #: a monitor: for each finding kind it emits, the likely causes (derived from ``kinds``)
    causes: ClassVar[Mapping[str, tuple[Cause, ...]]] = {}
    #: a monitor: parameters that differ when ``harness watch`` observes a user's script (e.g.
    #: an absolute loss threshold that a script's own loss scale makes meaningless)
    watch_params: ClassVar[Mapping[str, Any]] = {}
    #: a monitor: the signals it reads (:data:`harness.core.findings.Signal`); None: those its
    #: ``kinds`` declare
    needs: ClassVar[tuple[str, ...] | None] = None
    #: the run's hook relay, set on the instance when the run's manager registers it; a
    #: plugin that raises a hook of its own calls it (``distillation`` raises
    #: ``distill_inputs``). None outside a run (a plugin called directly in a test).
    hook: Any = None
    #: a fix the watcher can apply to a running script from outside (a script scenario's variant):
    #: it acts through the ``script_*`` methods below, which the watcher calls from the script's own
    #: torch calls (``harness/integrations/watch/interventions.py``); a fix without it on a script
    #: variant is refused when the scenario is loaded
    acts_on_scripts: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Derive ``finding_kinds`` and ``causes`` from ``kinds`` (or ``kinds`` from plain names)."""
        super().__init_subclass__(**kwargs)
        if "kinds" in cls.__dict__:
            cls.finding_kinds = tuple(k.name for k in cls.kinds)
            cls.causes = {k.name: k.causes for k in cls.kinds if k.causes}
        elif "finding_kinds" in cls.__dict__:
            causes = cls.__dict__.get("causes", {})
            cls.kinds = tuple(
                FindingKind(name, "", tuple(causes.get(name, ())), declared=False) for name in cls.finding_kinds
            )

    def __init__(self, params: BaseModel | None = None) -> None:
        self.params = params if params is not None else self.Params()

    def unused_hooks(self) -> frozenset[str]:
        """Hooks this instance implements but, with its parameters, never acts in."""
        return frozenset()

    @classmethod
    def default_enabled(cls) -> bool:
        return cls.kind in ("core", "monitor")

    # What a fix that ``acts_on_scripts`` does in a running script (each a no-op here); the
    # arguments are the script's own torch objects.
    def script_optimizer(self, optimizer: Any) -> None:
        """The script built ``optimizer`` (before it builds a scheduler over it)."""

    def script_before_step(self, optimizer: Any) -> None:
        """``optimizer.step()`` is about to run (after the monitors read the raw gradients)."""

    def script_after_step(self, optimizer: Any) -> None:
        """``optimizer.step()`` ran."""

    def script_before_backward(self) -> None:
        """A backward pass is about to run."""

    def script_scheduler(self, scheduler: Any) -> None:
        """The script built ``scheduler`` (its constructor's first step ran)."""

    def script_scheduler_step(self, scheduler: Any) -> bool:
        """The script calls ``scheduler.step()``: False skips that call."""
        return True

    def script_pass_end(self) -> None:
        """A pass over a DataLoader ended."""

    def script_loss(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """A training loss call (``torch.nn.functional.NAME``) is about to run: ``kwargs`` may be changed."""

    #: the site (:data:`harness.core.findings.Site`) of the line ``script_edit`` is said at: the
    #: optimizer's construction for an LR, its step for clipping; None: the cured finding's own line
    script_edit_site: ClassVar[str | None] = None

    def script_edit(self, lr: float | None = None) -> str:
        """The change to make in the script's own code that does what this fix did from outside, in
        words a person applies without harness, said at the line of the finding it cures
        (``harness doctor -- python train.py``); ``lr``: the script's LR when known."""
        return ""


__all__ = ["NoParams", "Plugin", "hookimpl"]


def shown_params(params: BaseModel) -> dict[str, Any]:
    """A plugin's parameters as reports show them: only those that apply to the options chosen.

    A ``Params`` model may define ``applicable(self) -> set[str]`` (the optimizer's shows no
    ``betas`` under SGD); without it every field is shown.
    """
    values = params.model_dump()
    applicable = getattr(params, "applicable", None)
    if applicable is None:
        return values
    keep = applicable()
    return {name: value for name, value in values.items() if name in keep}
