"""Property test: mutated shipped scenarios never get past validation with a traceback.

Hypothesis takes the shipped ``scenarios/*.yaml`` and breaks them the ways a user's
half-written file is broken: keys deleted, values of the wrong type, unknown keys,
numbers made negative, zero, huge or non-finite, plugins / parameters / variants
renamed, expectation lines mangled (or turned into Python), duplicate keys, YAML tags
that would run code (``!!python/object/apply:os.system``), truncated text, stray
characters, invalid UTF-8. Every variant goes through :func:`harness.scenario.load_scenario`
(validation only, nothing trains):

- nothing but :class:`ScenarioError` escapes;
- every rejection lists each problem on one line (``ScenarioError.errors``, at most
  ``MAX_ERRORS`` lines then "... and N more") that starts with the file's path and names a
  field (``ScenarioError.field``), or says "invalid YAML" with a line number, or says the
  document must be a mapping of ``name``, ``workload`` and ``variants``;
- a ``!!python/...`` tag never runs: the marker file it would create never appears;
- a sample of the rejections through ``harness run`` exits 2 with that one line.

The run is derandomized (the same examples every time). It prints how many mutated
scenarios ran and how many distinct error messages it saw (``pytest -s``), and writes
the same numbers to ``HARNESS_FUZZ_SUMMARY`` when that variable names a file.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.scenario import MAX_ERRORS, ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {path.name: path.read_text(encoding="utf-8") for path in sorted((ROOT / "scenarios").glob("*.yaml"))}
PARSED = {name: yaml.safe_load(text) for name, text in SHIPPED.items()}
MIN_EXAMPLES = 500

ODD_VALUES: list[Any] = [None, True, False, "", "text", 0, 1, -1, 3.5, -2.5, [], {}, [1, 2], {"a": 1}, "0x1F", "1e3"]
ODD_NUMBERS: list[Any] = [0, -1, -0.0, -1e-9, 10**30, 1e308, float("inf"), float("-inf"), float("nan"), 2**63]
HOSTILE_EXPECTATIONS = [
    "__import__('os').system('touch MARKER')",
    "final.f1 >= __import__('os').getpid()",
    "eval('1')",
    "final.f1 >== 0.5",
    "final.f1 between 0.9 and 0.1",
    "final. >= 1",
    "finding",
    "status == exploded",
    "status in [ok, sideways]",
    "epoch[x].f1 >= 0",
    "outcome. == x",
    "",
    "final.f1 >= 1e999",
]
TAGS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    '!!python/object/apply:builtins.exec [\'open("{marker}", "w")\']',
    "!!python/name:os.system",
    "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
    "!!python/module:os",
    "!!binary aGVsbG8=",
    "!!set {{a, b}}",
    "!!timestamp 2001-12-14",
    "!custom thing",
    "!!str",
    "!!int x",
]
STRAY = [
    ":",
    "-",
    "- ",
    "[",
    "]",
    "{",
    "}",
    "\t",
    "&a",
    "*a",
    "!",
    "%",
    "#",
    "'",
    '"',
    "|",
    ">",
    "? ",
    "\x00",
    "\x07",
    "\x85",
    "\ufeff",
    "\u2028",
    "é",
]


# ------------------------------------------------------------------ structural mutations


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a mapping value or list item, depth first."""
    out: list[tuple[Any, ...]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append(prefix + (key,))
            out.extend(_paths(value, prefix + (key,)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.append(prefix + (index,))
            out.extend(_paths(value, prefix + (index,)))
    return out


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


def _typo(data: st.DataObject, word: str) -> str:
    word = str(word)
    how = data.draw(st.sampled_from(["drop", "swap", "append", "double", "case", "other"]))
    if not word:
        return "x"
    i = data.draw(st.integers(0, len(word) - 1))
    if how == "drop" and len(word) > 1:
        return word[:i] + word[i + 1 :]
    if how == "swap" and len(word) > 1:
        j = min(i + 1, len(word) - 1)
        chars = list(word)
        chars[i], chars[j] = chars[j], chars[i]
        return "".join(chars) if "".join(chars) != word else word + "s"
    if how == "double":
        return word[: i + 1] + word[i:]
    if how == "case":
        return word.upper() if word != word.upper() else word.lower() + "_"
    if how == "other":
        return data.draw(st.from_regex(r"[a-z_]{1,12}", fullmatch=True))
    return word + "x"


def mutate_structure(data: st.DataObject, doc: Any) -> Any:
    """One structural change somewhere in the parsed scenario."""
    paths = _paths(doc)
    op = data.draw(
        st.sampled_from(["delete", "retype", "unknown_key", "number", "rename", "expectation", "empty", "variants"])
    )
    if op == "variants" and isinstance(doc, dict):
        choice = data.draw(st.sampled_from(["empty", "list", "none", "drop", "scalar"]))
        doc["variants"] = {"empty": {}, "list": ["broken", "fixed"], "none": None, "scalar": "fixed"}.get(choice)
        if choice == "drop":
            doc.pop("variants", None)
        return doc
    if op == "empty" and isinstance(doc, dict):
        key = data.draw(st.sampled_from(["seeds", "variants", "name", "workload", "train", "plugins"]))
        doc[key] = data.draw(st.sampled_from([[], {}, "", None]))
        return doc
    if op == "expectation":
        spots = [p for p in paths if "expect" in p and isinstance(_parent(doc, p)[p[-1]], str)]
        if spots:
            path = data.draw(st.sampled_from(spots))
            old = _parent(doc, path)[path[-1]]
            how = data.draw(st.sampled_from(["hostile", "typo", "cut"]))
            if how == "hostile":
                new = data.draw(st.sampled_from(HOSTILE_EXPECTATIONS))
            elif how == "typo":
                words = old.split()
                k = data.draw(st.integers(0, len(words) - 1)) if words else 0
                new = " ".join(words[:k] + [_typo(data, words[k] if words else "")] + words[k + 1 :])
            else:
                new = old[: data.draw(st.integers(0, len(old)))]
            _parent(doc, path)[path[-1]] = new
            return doc
        op = "retype"
    if not paths:
        return data.draw(st.sampled_from(ODD_VALUES))
    path = data.draw(st.sampled_from(paths))
    parent, last = _parent(doc, path), path[-1]
    if op == "delete":
        if isinstance(parent, dict):
            parent.pop(last, None)
        else:
            del parent[last]
    elif op == "retype":
        parent[last] = data.draw(st.sampled_from(ODD_VALUES))
    elif op == "number":
        numbers = [
            p
            for p in paths
            if isinstance(_parent(doc, p)[p[-1]], (int, float)) and not isinstance(_parent(doc, p)[p[-1]], bool)
        ]
        target = data.draw(st.sampled_from(numbers)) if numbers else path
        _parent(doc, target)[target[-1]] = data.draw(st.sampled_from(ODD_NUMBERS))
    elif op == "unknown_key":
        dicts = [()] + [p for p in paths if isinstance(_parent(doc, p)[p[-1]], dict)]
        where = data.draw(st.sampled_from(dicts))
        target = doc
        for part in where:
            target = target[part]
        existing = list(target) or ["field"]
        key = _typo(data, data.draw(st.sampled_from(existing)))
        target[key] = data.draw(st.sampled_from(ODD_VALUES))
    elif op == "rename" and isinstance(parent, dict):
        new_key = _typo(data, last)
        parent[new_key] = parent.pop(last)
    else:
        parent[last] = data.draw(st.sampled_from(ODD_VALUES))
    return doc


# ------------------------------------------------------------------ textual mutations


def mutate_text(data: st.DataObject, text: str, marker: Path) -> str | bytes:
    """One change to the YAML text itself (or its bytes)."""
    lines = text.splitlines(keepends=True) or ["\n"]
    op = data.draw(
        st.sampled_from(["truncate", "duplicate_line", "delete_line", "tag", "stray", "indent", "bytes", "documents"])
    )
    i = data.draw(st.integers(0, len(lines) - 1))
    if op == "truncate":
        return text[: data.draw(st.integers(0, len(text)))]
    if op == "duplicate_line":
        return "".join(lines[: i + 1] + [lines[i]] + lines[i + 1 :])
    if op == "delete_line":
        return "".join(lines[:i] + lines[i + 1 :])
    if op == "tag":
        tag = data.draw(st.sampled_from(TAGS)).format(marker=marker)
        candidates = [
            k for k, line in enumerate(lines) if re.search(r":\s+\S", line) and not line.lstrip().startswith("#")
        ]
        k = data.draw(st.sampled_from(candidates)) if candidates else i
        key, sep, _ = lines[k].partition(": ")
        lines[k] = f"{key}: {tag}\n" if sep else f"{lines[k].rstrip()} {tag}\n"
        return "".join(lines)
    if op == "stray":
        pos = data.draw(st.integers(0, len(text)))
        return text[:pos] + data.draw(st.sampled_from(STRAY)) + text[pos:]
    if op == "indent":
        lines[i] = data.draw(st.sampled_from([" ", "   ", "\t", ""])) + lines[i].lstrip(" ")
        return "".join(lines)
    if op == "documents":
        return text + "\n---\nname: second\n"
    raw = text.encode("utf-8")
    pos = data.draw(st.integers(0, len(raw)))
    how = data.draw(st.sampled_from(["cut", "garbage", "utf16"]))
    if how == "cut":
        return raw[:pos]
    if how == "garbage":
        return raw[:pos] + data.draw(st.sampled_from([b"\xff\xfe", b"\xc3", b"\x80\x80", b"\xed\xa0\x80"])) + raw[pos:]
    return text.encode("utf-16")


# ------------------------------------------------------------------ the property


def names_a_field(exc: ScenarioError) -> bool:
    message = str(exc)
    if exc.field:
        return True
    if "invalid YAML" in message and exc.line is not None:
        return True
    return "a scenario must be a mapping with name, workload and variants" in message


def test_mutated_scenarios_fail_cleanly(tmp_path_factory: Any, capsys: Any) -> None:
    work = tmp_path_factory.mktemp("fuzz")
    marker = work / "MARKER-code-ran"
    stats: Counter[str] = Counter()
    messages: Counter[str] = Counter()
    fields: Counter[str] = Counter()
    cli_checked: list[str] = []

    @settings(
        max_examples=MIN_EXAMPLES + 100,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(SHIPPED)), label="scenario")
        structural = data.draw(st.integers(0, 3), label="structural mutations")
        textual = data.draw(st.integers(0, 2), label="textual mutations")
        if structural == textual == 0:
            textual = 1
        if structural:
            doc = copy.deepcopy(PARSED[name])
            for _ in range(structural):
                doc = mutate_structure(data, doc)
            content: str | bytes = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
        else:
            content = SHIPPED[name]
        for _ in range(textual):
            if isinstance(content, bytes):
                break
            content = mutate_text(data, content, marker)
        path = work / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")

        stats["ran"] += 1
        try:
            load_scenario(path)
        except ScenarioError as exc:
            message = str(exc)
            stats["rejected"] += 1
            assert message.startswith(str(path)), message
            assert "Traceback" not in message, message
            assert len(message.splitlines()) == min(len(exc.errors), MAX_ERRORS) + (len(exc.errors) > MAX_ERRORS), (
                message
            )
            for error in exc.errors:  # each problem: one line, naming the file and a field
                assert "\n" not in str(error) and str(error).startswith(str(path)), str(error)
                assert names_a_field(error), f"rejection names no field: {error}"
                assert str(error) in message or len(exc.errors) > MAX_ERRORS, (str(error), message)
            stats["problems"] += len(exc.errors)
            stats["several problems"] += len(exc.errors) > 1
            normalized = message[len(str(path)) :]
            messages[normalized] += 1
            fields[
                exc.field.split(".")[0].split("[")[0] or ("<yaml>" if "invalid YAML" in message else "<document>")
            ] += 1
            if stats["rejected"] % 25 == 1:  # a sample through the command line: exit 2, that one line
                result = CliRunner().invoke(main, ["run", str(path)])
                assert result.exit_code == 2, (message, result.output, result.exception)
                assert "Traceback" not in result.output
                for line in str(exc).splitlines():  # each problem on its own line, led by "Error: "
                    assert f"Error: {line}" in result.output.splitlines(), (message, result.output)
                cli_checked.append(normalized)
        else:
            stats["accepted"] += 1
        assert not marker.exists(), "a YAML tag ran code"

    check()

    summary = {
        "mutated_scenarios_ran": stats["ran"],
        "rejected": stats["rejected"],
        "accepted": stats["accepted"],
        "problems_reported": stats["problems"],
        "rejections_with_several_problems": stats["several problems"],
        "distinct_error_messages": len(messages),
        "rejections_by_top_level_field": dict(fields.most_common()),
        "cli_checked": len(cli_checked),
    }
    with capsys.disabled():
        print(f"\nscenario fuzz: {json.dumps(summary)}")
    if os.environ.get("HARNESS_FUZZ_SUMMARY"):
        Path(os.environ["HARNESS_FUZZ_SUMMARY"]).write_text(
            json.dumps(summary | {"messages": dict(messages.most_common())}, indent=1), encoding="utf-8"
        )
    assert stats["ran"] >= MIN_EXAMPLES
    assert stats["rejected"] >= MIN_EXAMPLES // 2  # the mutations really break things
    assert len(messages) >= 50  # ... in many different ways
    assert cli_checked
