"""The base every harness plugin (built-in or third-party) derives from.

A plugin is a class: its name, what kind it is, a pydantic ``Params`` model (the
parameters a scenario may set, validated before training) and its hookimpls. One
instance is made per run, so plugin state never leaks between runs.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from harness.hookspecs import hookimpl

Kind = Literal["core", "fix", "monitor"]


class NoParams(BaseModel):
    """Parameters of a plugin that takes none."""

    model_config = ConfigDict(extra="forbid")


class Plugin:
    """Base class: subclasses set ``name``, ``kind``, ``Params`` and implement hooks.

    - ``kind = "fix"`` changes training and is off unless a variant enables it;
    - ``kind = "monitor"`` only observes (records findings) and is on by default;
    - ``kind = "core"`` supplies defaults and cannot be switched off.
    """

    name: ClassVar[str] = ""
    kind: ClassVar[Kind] = "fix"
    Params: ClassVar[type[BaseModel]] = NoParams
    finding_kinds: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: BaseModel | None = None) -> None:
        self.params = params if params is not None else self.Params()

    def unused_hooks(self) -> frozenset[str]:
        """Hooks this instance implements but, with its parameters, never acts in."""
        return frozenset()

    @classmethod
    def default_enabled(cls) -> bool:
        return cls.kind in ("core", "monitor")


__all__ = ["Plugin", "NoParams", "hookimpl"]
