"""The docs show what the program prints: every output excerpt marked ``<!-- excerpt: CMD -->``
in README.md and docs/ matches a real run of CMD (tools/excerpts.py), and the README and
docs/getting-started.md give the same two set-up commands, the second the one `.ci/run` runs."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool() -> object:
    spec = importlib.util.spec_from_file_location("excerpts", ROOT / "tools" / "excerpts.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


excerpts = _tool()


def two_commands(page: str) -> list[str]:
    """The fenced bash commands under a page's "## Two commands" heading, in order."""
    text = (ROOT / page).read_text(encoding="utf-8")
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)][:2]


def test_readme_and_getting_started_give_the_same_two_commands() -> None:
    readme, guide = two_commands("README.md"), two_commands("docs/getting-started.md")
    assert len(readme) == 2, readme
    assert readme == guide
    setup, checks = readme
    assert setup.endswith("harness run scenarios/issue11.yaml")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert checks == ci, "the README's test command is no longer what .ci/run runs"
    assert "mkdocs build --strict" in checks


def test_every_excerpt_marker_names_a_command_and_known_options() -> None:
    found = [e for page in excerpts.pages() for e in excerpts.excerpts(page)]  # type: ignore[attr-defined]
    assert len(found) >= 10
    readme = {e.command for e in found if e.path.name == "README.md"}
    assert "harness doctor scenarios/tabular_multiclass.yaml --variant broken -j 2" in readme
    for excerpt in found:
        assert excerpt.command.split()[0] in {"harness", "pytest", "python"} or "=" in excerpt.command.split()[0]
        if excerpt.option("prompt") != "no":
            assert excerpt.body.startswith(f"{excerpt.indent}$ {excerpt.command}\n"), excerpt.where


def test_key_lines_ignore_seconds_but_not_numbers_of_a_seeded_run() -> None:
    key_lines = excerpts.key_lines  # type: ignore[attr-defined]
    assert key_lines("PASSED: 6 run(s), 41.2 s of training") == key_lines("PASSED: 6 run(s), 9.6 s of training")
    assert key_lines("===== 2 passed in 13.30s =====") == key_lines("=== 2 passed in 9.1s ====")
    assert key_lines("final.f1 >= 0.9436") != key_lines("final.f1 >= 0.9426")


@pytest.mark.slow
def test_every_excerpt_matches_a_real_run() -> None:
    """Runs every marked command once (about 3 minutes on 2 shared cores) and compares the key lines."""
    problems = excerpts.check()  # type: ignore[attr-defined]
    assert not problems, "regenerate with `python tools/excerpts.py`:\n" + "\n".join(problems)
