"""``harness example``: copy the shipped scenarios out of the installed package.

The scenarios the docs run (``scenarios/issue11.yaml``, ``scenarios/zoo/``, ...) ship inside
the package as data (``harness/scenarios/`` in the wheel, ``scenarios/`` in a checkout), so a
user who installed from an index gets them with ``harness example --to DIR``: they land in
``DIR/scenarios/`` and every command of the docs then runs from ``DIR`` as written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from harness.cli.driver import BadInput


def shipped_scenarios() -> Path:
    """The folder of the shipped scenarios: in the installed package, else in the checkout."""
    package = Path(__file__).resolve().parents[1]  # harness/ (cli/ is one of its folders)
    for candidate in (package / "scenarios", package.parent / "scenarios"):
        if (candidate / "issue11.yaml").is_file():
            return candidate
    raise BadInput(f"no shipped scenarios next to {package}: reinstall the package")


def _selected(root: Path, names: tuple[str, ...]) -> list[Path]:
    every = sorted(p.relative_to(root) for p in root.rglob("*.yaml"))
    if not names:
        return every
    chosen: list[Path] = []
    for name in names:
        stem = name.removeprefix("scenarios/").removesuffix(".yaml")
        found = [p for p in every if p.with_suffix("").as_posix() == stem or p.parts[0] == stem]
        if not found:
            known = sorted(
                {p.with_suffix("").as_posix() for p in every} | {p.parts[0] for p in every if len(p.parts) > 1}
            )
            raise BadInput(f"no shipped scenario {name!r}; shipped: {', '.join(known)}")
        chosen += [p for p in found if p not in chosen]
    return chosen


@click.command("example")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option(
    "--to",
    "target",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Copy into DIR/scenarios/, so that `harness run scenarios/NAME.yaml` runs from DIR.",
)
def example(names: tuple[str, ...], target: Path) -> None:
    """Copy the scenarios shipped with harness (NAME: `issue11`, `zoo`, `zoo/farm_mse_broadcast`;
    none: all of them) into DIR/scenarios/. A file that exists there is left as it is.

    \b
    harness example issue11 --to demo && cd demo && harness run scenarios/issue11.yaml
    """
    root = shipped_scenarios()
    for relative in _selected(root, names):
        destination = target / "scenarios" / relative
        if destination.exists():
            click.echo(f"kept {destination} (exists)")
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / relative, destination)
        click.echo(f"wrote {destination}")
