"""One registry of finding kinds: what the monitors declare they emit. A plugin whose
``shows_as``/``addresses`` names another kind is refused when plugins are discovered, and a
built-in must declare the kind of the family folder it lives in."""

from __future__ import annotations

import pytest

from harness.core.plugin import Plugin
from harness.core.pluginmanager import (
    PluginInfo,
    PluginLoadError,
    builtin_plugins,
    check_finding_kinds,
    check_plugin_class,
    discover_plugins,
    finding_kinds,
)


def test_every_built_in_names_only_kinds_some_monitor_emits() -> None:
    available = discover_plugins()
    known = finding_kinds(available)
    assert {"collapse", "grad_explosion", "no_convergence", "eval_mode"} <= known
    for info in available.values():
        assert set(info.cls.shows_as) <= known, info.name
        assert set(info.cls.addresses) <= known, info.name
    bugs = [i for i in available.values() if i.kind == "bug"]
    assert len(bugs) == 12 and all(i.cls.shows_as for i in bugs)


def test_the_registry_is_the_union_of_the_monitors_declarations() -> None:
    available = discover_plugins()
    declared = {k for i in available.values() if i.kind == "monitor" for k in i.cls.finding_kinds}
    assert finding_kinds(available) == declared


class _Monitor(Plugin):
    name = "kinds_monitor"
    kind = "monitor"
    finding_kinds = ("kinds_seen",)


class _Bug(Plugin):
    name = "kinds_bug"
    kind = "bug"
    shows_as = ("kinds_seen", "no_learning")


class _Fix(Plugin):
    name = "kinds_fix"
    addresses = ("kinds_seen",)


def _available(*classes: type[Plugin]) -> dict[str, PluginInfo]:
    return {c.name: PluginInfo(c.name, c, "test") for c in classes}


def test_an_unknown_kind_is_refused_naming_the_plugin_the_field_and_the_kind() -> None:
    with pytest.raises(
        PluginLoadError, match=r"plugin 'kinds_bug' \(test\): shows_as: unknown finding kind 'no_learning'"
    ):
        check_finding_kinds(_available(_Monitor, _Bug))


def test_a_kind_a_third_party_monitor_declares_is_known() -> None:
    check_finding_kinds(_available(_Monitor, _Fix))  # no error
    with pytest.raises(PluginLoadError, match="addresses: unknown finding kind"):
        check_finding_kinds(_available(_Fix))  # without the monitor that emits it


def test_a_built_in_must_declare_its_familys_kind() -> None:
    assert all(
        ref.startswith(
            ("harness.core.", "harness.plugins.fixes.", "harness.plugins.monitors.", "harness.plugins.bugs.")
        )
        for ref in builtin_plugins()
    )
    check_plugin_class(_Monitor, "harness.plugins.monitors.kinds:_Monitor")
    with pytest.raises(PluginLoadError, match=r"declares kind 'monitor' but lives in plugins/fixes/"):
        check_plugin_class(_Monitor, "harness.plugins.fixes.kinds:_Monitor")
    check_plugin_class(_Monitor, "my_package.plugins:_Monitor")  # outside harness.plugins: no family
