"""The documentation site (mkdocs.yml, docs/) keeps up with the code.

The plugin reference is generated from the plugins' declarations by
tools/plugin_reference.py (a MkDocs hook): every installed plugin must get its section.
Every page under docs/ is in the nav, no tracked file points into the development tree
(its shared folder, one level above a clone), and the mkdocs.yml hook is the module tested here. ``mkdocs build
--strict`` itself (broken links, missing API references) runs in the README's test
command and ``.ci/run``.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path
from types import ModuleType

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def reference_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("plugin_reference", ROOT / "tools" / "plugin_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mkdocs_config() -> dict:
    # mkdocs.yml may use !!python tags in general; this one is plain YAML
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))


def nav_pages(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [page for item in node for page in nav_pages(item)]
    if isinstance(node, dict):
        return [page for value in node.values() for page in nav_pages(value)]
    return []


def test_every_plugin_is_in_the_generated_reference() -> None:
    from harness.core.pluginmanager import discover_plugins

    module = reference_module()
    text = module.reference()
    missing = [name for name in discover_plugins() if f"### `{name}`" not in text]
    assert missing == [], f"plugins missing from the generated reference: {missing}"
    assert module.MARKER in (DOCS / "plugins.md").read_text(encoding="utf-8")
    assert "tools/plugin_reference.py" in mkdocs_config()["hooks"]


def test_every_finding_kind_is_in_the_generated_table_with_its_meaning() -> None:
    from harness.core.pluginmanager import installed_kinds

    module = reference_module()
    table = module.kinds_reference()
    for name, kind in installed_kinds().items():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{name}` |"))
        assert kind.meaning in row
    assert "`collapse`" in table and "`class_weights`" in table  # a cause's fix plugin
    assert module.KINDS_MARKER in (DOCS / "detectors.md").read_text(encoding="utf-8")


def test_a_plugin_section_shows_its_declarations() -> None:
    text = reference_module().reference()
    section = text[text.index("### `linear_warmup`") :].split("\n### ", 1)[0]
    assert "**kind**: fix" in section and "`interval`" in section and "`step`" in section
    assert "**addresses**:" in section and "`collapse`" in section
    assert "make_scheduler" in section
    bug = text[text.index("### `bug_no_zero_grad`") :].split("\n### ", 1)[0]
    assert "**shows as**:" in bug


def test_every_docs_page_is_in_the_nav() -> None:
    listed = set(nav_pages(mkdocs_config()["nav"]))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages - listed == set(), f"add these pages to mkdocs.yml's nav: {sorted(pages - listed)}"
    assert listed - pages == set(), f"the nav names pages that do not exist: {sorted(listed - pages)}"


def test_no_tracked_file_points_into_the_development_tree() -> None:
    path = "../" + "shared"  # spelled apart, so that this file does not name it
    found = subprocess.run(["git", "grep", "-l", "-F", path, "--", "."], cwd=ROOT, capture_output=True, text=True)
    if found.returncode not in (0, 1):  # not a git checkout (an sdist): nothing to check
        return
    offenders = found.stdout.split()
    assert offenders == [], f"these files name {path}, which a clone does not have: {offenders}"


def test_the_readme_is_short_and_its_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.sub(r"<!--.*?-->\n", "", readme, flags=re.S)  # the excerpt markers (tools/excerpts.py) are not read
    assert len(shown.splitlines()) <= 250, "the README is read in minutes: move reference material into docs/"
    command = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert f"```bash\n{command}\n```" in readme, "the README's test command must be exactly what .ci/run runs"
    assert "mkdocs build --strict" in command
    assert "install torch==2.13.0 -e . &&" in readme  # the first command: the core install, no extras


def test_getting_started_gives_the_readmes_two_commands() -> None:
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    guide = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    first, test = re.findall(r"```bash\n(.*?)\n```", readme, re.S)[:2]
    assert "-e . && .venv/bin/harness run" in first and "bash .ci/wheel-check.sh" in test
    assert re.findall(r"```bash\n(.*?)\n```", guide, re.S)[:2] == [first, test]


def test_the_readme_links_into_the_docs_resolve() -> None:
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = {t.split("#")[0] for t in re.findall(r"\]\(([^)#][^)]*)\)", readme) if not t.startswith("http")}
    assert any(t.startswith("docs/") for t in targets)
    assert [t for t in sorted(targets) if not (ROOT / t).exists()] == []
