"""A finding kind is declared once, by the monitor that emits it, and every reference to one resolves.

The sibling of test_architecture.py for the kinds: each kind is one :class:`FindingKind`
object owned by one monitor (a watch rule that emits it too reuses that object); every cause's
cure names a fix whose parameters validate; a fix addresses exactly the kinds whose causes
name it; every kind an evidence test, a bug, a fix or the doctor names is an installed one;
and the tables that used to be kept by hand are derived from the declarations.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.findings import ROLES, UnknownKindError, check_kinds, declared_kinds, plugins_needing
from harness.core.pluginmanager import PluginInfo, installed_kinds, kinds_with
from harness.integrations.watch.config import available_plugins, resolve_watch_plugins, watched_kinds
from harness.scenario.arms import catalogue

ROOT = Path(__file__).resolve().parents[1]
SITES = {"optimizer", "optimizer_step", "scheduler_step", "probabilities", "eval_call"}
SIGNALS = {"loss", "loss_trend", "gradients", "parameters", "predictions", "validation", "lr", "data", "memory"}


def test_every_kind_is_declared_once_with_a_meaning_by_a_monitor() -> None:
    available = available_plugins()  # the catalogue and watch's rules
    kinds = declared_kinds(available)
    owners: dict[str, list[str]] = {}
    for name, info in available.items():
        for kind in info.cls.kinds:
            assert kind is kinds[kind.name], f"{name} declares its own {kind.name!r}: reuse the monitor's object"
            owners.setdefault(kind.name, []).append(name)
    for name, kind in kinds.items():
        assert kind.declared and kind.meaning, f"{name}: a built-in kind says what it means"
        assert kind.site is None or kind.site in SITES, (name, kind.site)
        assert set(kind.signals) <= SIGNALS and set(kind.roles) <= set(ROLES), name
        assert any(available[o].source == "builtin" for o in owners[name]), f"{name} is owned by a monitor"


def test_a_second_declaration_of_a_kind_is_refused_naming_both_plugins() -> None:
    from harness.core.findings import FindingKind
    from harness.core.plugin import Plugin

    class First(Plugin):
        name, kind, kinds = "first", "monitor", (FindingKind("twice", "one meaning"),)

    class Second(Plugin):
        name, kind, kinds = "second", "monitor", (FindingKind("twice", "another meaning"),)

    with pytest.raises(UnknownKindError, match="'twice' is declared twice: by 'first' and by 'second'"):
        declared_kinds({c.name: PluginInfo(c.name, c, "test") for c in (First, Second)})


def test_finding_kinds_and_causes_are_derived_from_the_declaration() -> None:
    info = catalogue()["prediction_distribution"]
    assert info.cls.finding_kinds == ("collapse", "near_collapse")
    assert info.cls.causes["collapse"] == info.cls.kinds[0].causes


def test_every_cure_names_a_fix_whose_parameters_validate() -> None:
    available = catalogue()
    for kind in declared_kinds(available).values():
        for cause in kind.causes:
            for cure in cause.fixes:
                assert cure.plugin in available and available[cure.plugin].kind == "fix", (kind.name, cure)
                available[cure.plugin].cls.Params.model_validate(dict(cure.params))  # raises when invalid


def test_a_fix_addresses_exactly_the_kinds_whose_causes_name_it() -> None:
    available = catalogue()
    named = {(k.name, f.plugin) for k in declared_kinds(available).values() for c in k.causes for f in c.fixes}
    addressed = {(k, n) for n, info in available.items() if info.kind == "fix" for k in info.cls.addresses}
    assert sorted(named - addressed) == [], "a cause names a fix whose addresses lack the kind"
    assert sorted(addressed - named) == [], "a fix addresses a kind no cause names it for"


def _kind_literals(path: Path, calls: set[str]) -> set[str]:
    """String constants passed to ``calls`` (and tuples of them) anywhere in ``path``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in calls:
            for arg in node.args:
                for leaf in ast.walk(arg):
                    if isinstance(leaf, ast.Constant) and isinstance(leaf.value, str):
                        found.add(leaf.value)
    return found


def test_every_kind_an_evidence_test_reads_is_installed() -> None:
    known = set(installed_kinds())
    for kind in installed_kinds().values():
        for cause in kind.causes:
            check_kinds(getattr(cause.evidence, "kinds", ()), known, f"cause {cause.name!r}")
    shared = ROOT / "plugins" / "_shared"
    literals = _kind_literals(shared / "evidence.py", {"findings", "seen", "lr_at_first"})
    literals |= _kind_literals(shared / "causes.py", {"seen", "lr_at_first"})
    assert literals, "the scan finds the evidence tests' kinds"
    check_kinds(sorted(literals), known, "plugins/_shared evidence")
    for monitor in (ROOT / "plugins" / "monitors").glob("*.py"):
        check_kinds(sorted(_kind_literals(monitor, {"seen", "lr_at_first"})), known, monitor.name)


def test_check_kinds_names_the_closest_real_kind() -> None:
    with pytest.raises(
        UnknownKindError, match=r"--fail-on: unknown finding kind 'colapse' \(did you mean 'collapse'\?\)"
    ):
        check_kinds(["colapse"], installed_kinds(), "--fail-on")


def test_the_tables_once_kept_by_hand_are_derived() -> None:
    assert set(kinds_with(lr_type=True)) == {
        "loss_explosion",
        "loss_oscillation",
        "grad_explosion",
        "nan",
        "dead_units",
        "grad_vanishing",
        "no_convergence",
        "bad_initial_loss",
    }
    assert set(kinds_with("overshoot")) == {"loss_explosion", "loss_oscillation", "grad_explosion", "nan"}
    assert set(kinds_with("broken_before_stepping")) == {"stale_gradients", "data_non_finite", "data_feature_scale"}
    available = available_plugins()
    assert plugins_needing(available, "gradients")[:3] == ("grad_health", "weight_updates", "lr_schedule")
    assert plugins_needing(available, "loss_trend") == ("convergence", "loss_oscillation")
    enabled = resolve_watch_plugins(available, {})
    assert "stale_gradients" not in enabled and "watch_zero_grad" in enabled  # the rule replaces the monitor
    assert enabled["loss_explosion"].max_loss is None and enabled["grad_health"].max_norm is None  # watch_params


def test_assert_clean_refuses_a_misspelt_kind() -> None:
    import harness

    with harness.watch() as w:
        pass
    with pytest.raises(UnknownKindError, match="did you mean 'collapse'"):
        w.assert_clean(ignore=("colapse",))
    w.assert_clean(ignore=("collapse", "error"))
    assert "error" in watched_kinds()


def test_watch_fail_on_a_misspelt_kind_exits_2_before_running_the_script(tmp_path: Path) -> None:
    script = tmp_path / "x.py"
    script.write_text("open('ran', 'w').write('yes')\n")
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "watch", "--fail-on", "colapse", "--", sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "did you mean 'collapse'" in done.stderr
    assert not (tmp_path / "ran").exists()
