"""Reading scenario YAML safely, with the position of every node, so each error names its line and column."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.scenario.errors import ScenarioError


class _UniqueKeyLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML has no type hints (no types-PyYAML here)
    """SafeLoader that refuses duplicate keys, and reports a bad scalar with its position.

    PyYAML's own constructors raise bare ``ValueError``s for tagged scalars they cannot
    read (``!!int x``, ``!!binary %%``) and a ``TypeError`` for a list used as a key;
    both become ``ConstructorError``s carrying the node's line and column.
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {node.tag.rsplit(':', 1)[-1]} value {node.value!r}: {exc}", node.start_mark
            ) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, f"a key must be a plain value, not {type(key).__name__}", key_node.start_mark
                ) from None
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {seen[key].line + 1})", key_node.start_mark
                )
            seen[key] = key_node.start_mark
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def locate(root: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[int | None, int | None]:
    """Line and column (1-based) of the deepest node on ``loc`` that exists."""
    node, mark = root, (root.start_mark if root is not None else None)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    node, mark = value_node, key_node.start_mark
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            mark = node.start_mark
        else:
            break
    return (mark.line + 1, mark.column + 1) if mark is not None else (None, None)


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_col(text: str | bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of a character (or byte) offset."""
    before = text[:offset]
    if isinstance(before, bytes):  # one character per byte: the same lines and columns
        before = before.decode("latin-1")
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    line: int | None  # of an error: 1-based, None where the parser gave no position
    col: int | None
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(path, "", f"cannot read file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_col(raw, exc.start)
        raise ScenarioError(
            path, "", f"invalid YAML: not UTF-8 text ({exc.reason} at byte {exc.start})", line, col
        ) from None
    try:
        node = yaml.compose(text, Loader=_UniqueKeyLoader)
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        if context and problem.startswith("but "):  # "expected a single document ..., but found another"
            problem = f"{context}, {problem}"
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        if isinstance(exc, yaml.reader.ReaderError):  # a control character: no mark, a position
            line, col = _line_col(text, exc.position)
            problem = (
                f"unacceptable character #x{exc.character:04x}: {exc.reason}"
                if isinstance(exc.character, int)
                else str(exc)
            )
        if problem.startswith("could not determine a constructor for the tag"):
            tag = str(getattr(exc, "problem", "")).split("'")[1] if "'" in problem else "?"
            tag = tag.replace("tag:yaml.org,2002:", "!!")
            problem = f"YAML tag {tag!r} is refused: a scenario is plain data" + (
                " (python tags would run code)" if "python/" in tag else ""
            )
        raise ScenarioError(path, "", f"invalid YAML: {problem}", line, col) from None
    except RecursionError:
        raise ScenarioError(path, "", "invalid YAML: nested too deeply") from None
    return data, node


@dataclass
class _Problems:
    """Every problem found in one file, each located by its YAML node; raised together at the end."""

    path: Path
    root: yaml.Node | None
    errors: list[ScenarioError] = field(default_factory=list)

    def fail(self, loc: tuple[Any, ...], message: str) -> ScenarioError:
        line, col = locate(self.root, loc)
        return ScenarioError(self.path, _dotted(loc), message, line, col)

    def report(self, error: ScenarioError) -> None:
        self.errors.extend(error.errors)

    def done(self) -> ScenarioError:
        return ScenarioError.of(self.errors)
