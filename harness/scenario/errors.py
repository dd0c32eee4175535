"""The one error a scenario that cannot run raises: file, line:column, field; every problem at once."""

from __future__ import annotations

from pathlib import Path

MAX_ERRORS = 10  # a file with more problems lists this many, then how many more


class ScenarioError(Exception):
    """A scenario that cannot run; the message names file, line:column and field.

    :func:`load_scenario` reports every problem it finds at once: ``errors`` holds one
    ScenarioError per problem (in the order of the file's lines), and the message is their
    lines joined, at most :data:`MAX_ERRORS` of them then ``... and N more``. ``path``,
    ``field``, ``line``, ``col`` and ``message`` are the first error's, so code written for
    one error keeps working; a single error's ``errors`` is ``[itself]``.
    """

    def __init__(
        self, path: Path | str, field_path: str, message: str, line: int | None = None, col: int | None = None
    ):
        self.path, self.field, self.line, self.col, self.message = str(path), field_path, line, col, message
        where = self.path + (f":{line}" if line else "") + (f":{col}" if line and col else "")
        self.text = f"{where}: {field_path + ': ' if field_path else ''}{message}"
        self.errors: list[ScenarioError] = [self]
        super().__init__(self.text)

    @classmethod
    def of(cls, errors: list[ScenarioError], limit: int = MAX_ERRORS) -> ScenarioError:
        """One error standing for ``errors`` (each possibly a collection itself), sorted by line."""
        flat: list[ScenarioError] = []
        for error in errors:
            for one in error.errors:
                if all(one.text != seen.text for seen in flat):
                    flat.append(one)
        flat.sort(key=lambda e: (e.line is not None, e.line or 0, e.col or 0))
        if len(flat) == 1:
            return flat[0]
        first = flat[0]
        combined = cls(first.path, first.field, first.message, first.line, first.col)
        combined.errors = flat
        lines = [e.text for e in flat[:limit]]
        if len(flat) > limit:
            lines.append(f"{first.path}: ... and {len(flat) - limit} more error(s)")
        combined.args = ("\n".join(lines),)
        return combined

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.text
