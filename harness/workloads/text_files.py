"""Reading a text-classification data set from local CSV/JSON/Parquet files: columns, texts, labels and classes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where it is used, so listing workloads stays light
    pass

# extension -> (datasets builder, its options)
FORMATS: dict[str, tuple[str, dict[str, Any]]] = {
    ".csv": ("csv", {}),
    ".tsv": ("csv", {"delimiter": "\t"}),
    ".json": ("json", {}),
    ".jsonl": ("json", {}),
    ".ndjson": ("json", {}),
    ".parquet": ("parquet", {}),
    ".pq": ("parquet", {}),
}


class DataFileError(ValueError):
    """A data file the workload cannot use: missing, unreadable, or without the named columns."""


def file_format(path: str) -> tuple[str, dict[str, Any]]:
    """The ``datasets`` builder and options of ``path``, from its extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"unknown extension {suffix or '(none)'!r} of {path!r}; use one of {', '.join(FORMATS)}")
    return FORMATS[suffix]


def _import_datasets() -> Any:
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # read before `datasets` is first imported
    try:
        import datasets
    except ImportError as exc:
        raise ImportError(
            "workload text_classification reads its files with the `datasets` library, which is not "
            "installed: pip install 'training-harness[data]'"
        ) from exc
    return datasets


def read_table(path: str, field: str, columns: dict[str, str], cache_dir: Path) -> dict[str, list[Any]]:
    """The named columns of a local data file, as lists; ``columns`` maps a param name to a column.

    Errors name the parameter (``field``, or the column's parameter) to fix.
    """
    builder, options = file_format(path)
    file = Path(path)
    if not file.is_file():
        where = "" if file.is_absolute() else f" (relative to {Path.cwd()})"
        raise DataFileError(f"{field}: no such file {path!r}{where}")
    if file.stat().st_size == 0:
        raise DataFileError(f"{field}: {path!r} has no rows")
    datasets = _import_datasets()
    quiet = getattr(datasets, "are_progress_bars_disabled", lambda: False)()
    datasets.disable_progress_bars()
    try:
        table = datasets.load_dataset(
            builder, data_files={"train": str(file.resolve())}, split="train", cache_dir=str(cache_dir), **options
        )
    except Exception as exc:
        if "corresponds to no data" in str(exc):  # a file with a header and nothing else
            raise DataFileError(f"{field}: {path!r} has no rows") from None
        cause = f" ({type(exc.__cause__).__name__}: {exc.__cause__})" if exc.__cause__ is not None else ""
        raise DataFileError(f"{field}: cannot read {path!r} as {builder}: {type(exc).__name__}: {exc}{cause}") from exc
    finally:
        if not quiet:
            datasets.enable_progress_bars()
    if table.num_rows == 0:
        raise DataFileError(f"{field}: {path!r} has no rows")
    found = list(table.column_names)
    for param, column in columns.items():
        if column not in found:
            raise DataFileError(
                f"{param}: {field} {path!r} has no column {column!r}; its columns: {', '.join(map(repr, found))}"
                f" (set {param} to one of them)"
            )
    return {column: list(table[column]) for column in columns.values()}


def texts_of(values: list[Any], field: str, column: str) -> list[str]:
    missing = [i for i, v in enumerate(values) if v is None]
    if missing:
        raise DataFileError(f"text_column: {field} has no {column!r} value in row {missing[0]} ({len(missing)} rows)")
    return [v if isinstance(v, str) else str(v) for v in values]


def labels_of(values: list[Any], field: str, column: str) -> list[Any]:
    missing = [i for i, v in enumerate(values) if v is None]
    if missing:
        raise DataFileError(f"label_column: {field} has no {column!r} value in row {missing[0]} ({len(missing)} rows)")
    return values


def class_values(labels: list[Any], column: str) -> list[Any]:
    """The distinct training labels in sorted order: class ``i`` is the ``i``-th."""
    try:
        classes = sorted(set(labels))
    except TypeError as exc:  # unhashable (lists) or incomparable (mixed types) labels
        raise DataFileError(
            f"label_column: the {column!r} values of train_file cannot be sorted into classes: {exc}"
        ) from None
    if len(classes) < 2:
        raise DataFileError(f"label_column: train_file has a single label {classes!r} in {column!r}; need at least 2")
    return classes
