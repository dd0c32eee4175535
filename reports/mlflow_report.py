"""The MLflow report: one MLflow run per harness run, nested under one run per suite.

``--mlflow URI`` takes an MLflow tracking URI: a local store needs no server
(``sqlite:///PATH/mlflow.db``, ``file:///PATH/mlruns`` or a plain directory), a tracking
server is ``http(s)://HOST:PORT`` (``databricks`` works too). Per scenario of the payload:

* the experiment named after the scenario (created when missing; with a ``sqlite:`` store
  its artifacts go to ``mlartifacts/`` next to the database file, not to ``./mlruns``);
* a **suite run** ``<scenario> suite``: params ``scenario.path``, ``workload``,
  ``workload.<param>``, ``seeds``, ``harness_version``, ``torch_version``; tags
  ``harness.kind=suite``, ``harness.passed``; metrics ``<variant>/passed_runs``,
  ``<variant>/runs`` and ``<variant>/<metric>_mean`` of the variant's key metrics; the
  whole suite report as the artifact ``report.json``;
* one **nested run** per harness run, ``<variant>-seed<S>`` (tag ``mlflow.parentRunId``):
  params ``variant``, ``seed``, ``plugin.<name>`` (``on``) and ``plugin.<name>.<param>``
  for each active plugin, ``train.<field>`` for the train config; tags ``harness.status``,
  ``harness.passed``, ``harness.fingerprint``, ``harness.findings`` (the finding kinds) and
  ``harness.node`` (Ray runs); per-epoch metrics (every numeric ``history`` entry, step =
  epoch), ``step/lr`` per optimizer step; the run record as the artifact ``record.json``.
  Its MLflow status is FAILED when the run errored or timed out, else FINISHED.

Each write adds new MLflow runs (a re-render logs the suite again). Needs MLflow
(``pip install 'training-harness[mlflow]'``: ``mlflow-skinny`` with SQLAlchemy and Alembic for the
``sqlite:`` store; a full ``mlflow`` install works too). For a local store MLflow's
telemetry is switched off (``MLFLOW_DISABLE_TELEMETRY``, unless set already); MLflow 3 has
put the file store in maintenance mode and refuses it unless ``MLFLOW_ALLOW_FILE_STORE`` is
set, which harness sets (unless set already) when ``--mlflow`` names one: prefer ``sqlite:``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FLAG = "--mlflow"
HELP = (
    "Log to this MLflow tracking URI (sqlite:///FILE.db, file:///DIR, http://HOST:5000): a run per suite "
    "with a nested run per (variant, seed) (pip install 'training-harness[mlflow]')."
)
TARGET = "uri"
METAVAR = "URI"

#: MLflow statuses of harness run statuses that did not finish
FAILED = frozenset({"error", "timeout"})


class MlflowWriteError(OSError):
    """MLflow refused or could not store the report (message: MLflow's own)."""


def missing() -> str | None:
    if importlib.util.find_spec("mlflow") is None:
        return "needs MLflow: pip install 'training-harness[mlflow]'"
    return None


def is_local(uri: str) -> bool:
    """A store on this machine: ``sqlite:``, ``file:`` or a plain path."""
    scheme = uri.split(":", 1)[0].lower() if re.match(r"^[A-Za-z][\w+.-]*:", uri) else ""
    return scheme in ("", "sqlite", "file") or len(scheme) == 1  # a Windows drive letter


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///PATH`` URI (None for other stores, ``:memory:``)."""
    found = re.match(r"^sqlite:///([^?]+)", uri)  # sqlite:///relative.db, sqlite:////absolute.db
    if not found or found.group(1) == ":memory:":
        return None
    return Path(found.group(1))


def key(name: str) -> str:
    """``name`` as an MLflow param/metric/tag key (letters, digits, ``_ - . / : space``)."""
    return re.sub(r"[^\w./ :-]", "_", name)[:250]


def flat(prefix: str, value: Any) -> dict[str, str]:
    """``{prefix.sub: str(value)}`` for a nested dict (``train.lr``, ``plugin.grad_clip.max_norm``)."""
    if isinstance(value, dict) and value:
        out: dict[str, str] = {}
        for name, sub in value.items():
            out.update(flat(f"{prefix}.{name}", sub))
        return out
    if isinstance(value, dict):
        return {prefix: "on"}  # a plugin without parameters
    return {prefix: json.dumps(value) if isinstance(value, (list, tuple)) else str(value)}


def write(uri: str | Path, payload: dict[str, Any]) -> None:
    uri = str(uri)
    if is_local(uri):
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        if sqlite_path(uri) is None and not uri.startswith("sqlite:"):  # a file store, named on purpose
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from harness.reports import reports_of

    try:
        client = MlflowClient(tracking_uri=uri)
        for report in reports_of(payload):
            write_suite(client, uri, report)
    except MlflowException as exc:
        raise MlflowWriteError(f"MLflow ({uri}): {exc.message}") from exc


def experiment_id(client: Any, uri: str, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    database = sqlite_path(uri)
    location = (database.resolve().parent / "mlartifacts").as_uri() if database is not None else None
    return str(client.create_experiment(name, artifact_location=location))


def log(client: Any, run_id: str, metrics: Sequence[Any], params: dict[str, str]) -> None:
    """``log_batch`` in chunks within MLflow's limits (1000 metrics, 100 params a call)."""
    from mlflow.entities import Param
    from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

    params_list = [Param(key(k), v[:MAX_PARAM_VAL_LENGTH]) for k, v in params.items()]
    for i in range(0, len(params_list), 100):
        client.log_batch(run_id, params=params_list[i : i + 100])
    metrics = list(metrics)
    for i in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[i : i + 1000])


def write_suite(client: Any, uri: str, report: dict[str, Any]) -> str:
    """Log one suite report; returns the suite run's id."""
    from mlflow.entities import Metric

    from harness.judging.verdicts import run_ok

    scenario = report["scenario"]
    exp = experiment_id(client, uri, scenario["name"])
    now = int(time.time() * 1000)
    suite = client.create_run(
        exp,
        run_name=f"{scenario['name']} suite",
        tags={
            "harness.kind": "suite",
            "harness.passed": str(bool(report.get("passed"))),
            "mlflow.source.name": "harness",
        },
    )
    suite_id = suite.info.run_id
    params = {
        "scenario.path": str(scenario.get("path")),
        "workload": str(scenario.get("workload")),
        "seeds": json.dumps(report.get("seeds", [])),
        "harness_version": str(report.get("harness_version")),
        "torch_version": str(report.get("torch_version")),
    }
    if scenario.get("workload_params"):
        params.update(flat("workload", scenario["workload_params"]))
    metrics = []
    for variant, summary in (report.get("variants") or {}).items():
        metrics.append(Metric(key(f"{variant}/passed_runs"), float(summary.get("passed_runs", 0)), now, 0))
        metrics.append(Metric(key(f"{variant}/runs"), float(summary.get("runs", 0)), now, 0))
        for metric, stats in (summary.get("metrics") or {}).items():
            if isinstance(stats, dict) and isinstance(stats.get("mean"), (int, float)):
                metrics.append(Metric(key(f"{variant}/{metric}_mean"), float(stats["mean"]), now, 0))
    try:
        log(client, suite_id, metrics, params)
        client.log_text(suite_id, json.dumps(report, indent=1, default=str), "report.json")
        for record in report["runs"]:
            write_run(client, exp, suite_id, record, run_ok(record))
    except BaseException:  # a half-logged suite is not left RUNNING
        with contextlib.suppress(Exception):
            client.set_terminated(suite_id, "FAILED")
        raise
    client.set_terminated(suite_id, "FINISHED")
    return str(suite_id)


def write_run(client: Any, exp: str, parent_id: str, record: dict[str, Any], passed: bool) -> str:
    """Log one harness run as a run nested under ``parent_id``; returns its id."""
    from mlflow.entities import Metric

    from harness.reports import epoch_series, run_slug, step_series

    now = int(time.time() * 1000)
    tags = {
        "mlflow.parentRunId": parent_id,
        "mlflow.source.name": "harness",
        "harness.kind": "run",
        "harness.variant": str(record["variant"]),
        "harness.seed": str(record["seed"]),
        "harness.status": str(record.get("status")),
        "harness.passed": str(bool(passed)),
        "harness.fingerprint": str(record.get("fingerprint", "")),
        "harness.findings": ", ".join(sorted({str(f.get("kind")) for f in record.get("findings") or []})) or "none",
    }
    if record.get("node"):
        tags["harness.node"] = json.dumps(record["node"])
    if record.get("error"):
        tags["harness.error"] = str(record["error"].get("message", ""))[:5000]
    run = client.create_run(exp, run_name=run_slug(record), tags=tags)
    run_id = run.info.run_id
    params = {"variant": str(record["variant"]), "seed": str(record["seed"])}
    for name, plugin_params in (record.get("plugins") or {}).items():
        params.update(flat(f"plugin.{name}", plugin_params if isinstance(plugin_params, dict) else {}))
    params.update(flat("train", record.get("train") or {}))
    metrics = [
        Metric(key(name), value, now, epoch) for name, points in epoch_series(record).items() for epoch, value in points
    ]
    metrics += [
        Metric(key(f"step/{name}"), value, now, step)
        for name, points in step_series(record).items()
        for step, value in points
    ]
    log(client, run_id, metrics, params)
    client.log_text(run_id, json.dumps(record, indent=1, default=str), "record.json")
    client.set_terminated(run_id, "FAILED" if record.get("status") in FAILED else "FINISHED")
    return str(run_id)
