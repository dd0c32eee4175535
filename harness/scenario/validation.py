"""Schema validation of a parsed scenario: pydantic's errors turned into located, readable ones, all at once."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from harness.scenario.errors import ScenarioError
from harness.scenario.params import error_message
from harness.scenario.schema import ExpectationSpec, ScenarioSpec, TrainConfig, VariantSpec, WorkloadSpec
from harness.scenario.train_fields import train_error_message

_UNION_TAGS = {"str": ("str", "ExpectationSpec"), "pass_rate": ("str", "float")}


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """A pydantic error location without the union members it tried (``expect.0.ExpectationSpec.when``
    -> ``expect.0.when``; ``pass_rate.float`` -> ``pass_rate``)."""
    out: list[Any] = []
    for part in loc:
        previous = out[-1] if out else None
        if isinstance(previous, int) and len(out) >= 2 and out[-2] == "expect" and part in _UNION_TAGS["str"]:
            continue
        if previous == "pass_rate" and part in _UNION_TAGS["pass_rate"]:
            continue
        out.append(part)
    return tuple(out)


def _schema_errors(exc: ValidationError) -> list[tuple[tuple[Any, ...], ErrorDetails]]:
    """``(location, error)`` per problem: one per location, a union's "not a string" left out where
    the other member says more (an expectation mapping with an unknown key)."""
    chosen: dict[tuple[Any, ...], ErrorDetails] = {}
    for err in exc.errors():
        loc = _clean_loc(tuple(err["loc"]))
        if loc not in chosen or chosen[loc]["type"] == "string_type":
            chosen[loc] = err
    out = []
    for loc, err in chosen.items():
        more_specific = any(other != loc and other[: len(loc)] == loc for other in chosen)
        if err["type"] == "string_type" and more_specific:
            continue
        out.append((loc, err))
    return out


_PLACEHOLDER = "status == ok"  # stands in for an expectation the schema refused (skipped afterwards)


def _leave_out(data: Any, loc: tuple[Any, ...]) -> bool:
    """Remove the value at ``loc`` from ``data`` so that the rest validates (its default applies); an
    expectation becomes a placeholder (skipped later), any other list goes as a whole. False when
    the value is required (missing) or cannot be removed."""
    if not loc:
        return False
    *parents, last = loc
    node = data
    trail: list[tuple[Any, Any]] = []
    for part in parents:
        trail.append((node, part))
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    if isinstance(node, dict) and last in node:
        del node[last]
        return True
    if isinstance(node, list) and isinstance(last, int) and last < len(node):
        if parents and parents[-1] == "expect":
            node[last] = _PLACEHOLDER
            return True
        owner, key = trail[-1] if trail else (None, None)
        if isinstance(owner, dict) and key in owner:
            del owner[key]
            return True
    return False


def _validate_spec(
    fail: Any, data: dict[str, Any]
) -> tuple[ScenarioSpec | None, list[ScenarioError], set[tuple[Any, ...]]]:
    """The schema check: ``(spec, errors, skipped expectation locations)``. Every schema error is
    reported; when the refused values can be left out, the rest is validated again and its spec
    returned for the checks that follow (None when it cannot be)."""
    import copy

    try:
        return ScenarioSpec.model_validate(data), [], set()
    except ValidationError as exc:
        found = _schema_errors(exc)
    errors, skipped = [], set()
    repaired, repairable = copy.deepcopy(data), True
    for loc, err in found:
        in_train = tuple(loc[:-1]) == ("train",)
        errors.append(
            fail(loc, train_error_message(err) if in_train else error_message(err, _valid_keys_for(loc[:-1])))
        )
        if err["type"] == "missing" or not _leave_out(repaired, loc):
            repairable = False
        elif len(loc) >= 4 and loc[0] == "variants" and loc[2] == "expect" and isinstance(loc[3], int):
            skipped.add(loc[:4])
    if not repairable:
        return None, errors, skipped
    try:
        return ScenarioSpec.model_validate(repaired), errors, skipped
    except ValidationError:  # what is left depends on what was refused: the errors above say it
        return None, errors, skipped


def _valid_keys_for(loc: tuple[Any, ...]) -> list[str]:
    models: dict[tuple[str, ...], type[BaseModel]] = {
        (): ScenarioSpec,
        ("train",): TrainConfig,
        ("workload",): WorkloadSpec,
    }
    if len(loc) == 2 and loc[0] == "variants":
        return list(VariantSpec.model_fields)
    if len(loc) >= 4 and loc[0] == "variants" and loc[2] == "expect":
        return list(ExpectationSpec.model_fields)
    model = models.get(tuple(loc))
    return list(model.model_fields) if model else []


def _pydantic_errors(
    fail: Any, prefix: tuple[Any, ...], exc: ValidationError, model: type[BaseModel]
) -> list[ScenarioError]:
    """One ScenarioError per error of ``exc`` (``model`` validated at ``prefix``)."""
    return [fail(prefix + tuple(err["loc"]), error_message(err, model.model_fields)) for err in exc.errors()]


def _check_specifier(fail: Any, loc: tuple[Any, ...], text: str) -> None:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        raise fail(loc, f"invalid version specifier {text!r} (e.g. '>=2.6' or '<2.6')") from None
