"""Does the doctor name the bug of a script, at its line, and prove the cure on the program itself?

Two corpora of bugged twins, each a copy of a clean script with one mistake marked `# BUG`:
`examples/scripts/` (written here, with the watcher's rules in mind) and
`benchmarks/watch_blind/` (written blind, from the watcher's one-paragraph promise only).

Per twin, in two steps:

- **diagnosis** (every twin): the program runs once under `harness watch --json` (its own
  seed, 0); the run is diagnosed as `harness doctor` diagnoses its runs (each finding kind's
  declared causes ranked by the evidence, :func:`harness.core.diagnosis.most_likely`), and the
  edit the doctor would hand back is placed as it places it
  (:func:`harness.experiments.doctor_edits.edits`). *Named*: the top cause is one of the causes
  the bug is (``CAUSES``); *at the line*: the edit's line is within 3 lines of a `# BUG` line.
- **cure** (`--cures`, the twins whose cure a fix acting on a running program can express:
  ``CURES``): `harness doctor --json -- python TWIN.py` on 3 seeds, with the script's printed
  metric as the main one. *Proven*: the doctor proved a cure; *right fix*: it is the expected
  one; *as good as clean*: its metric is at least the clean twin's (the corpus's recorded
  seed-0 value) minus the doctor's tolerance (5%).

    .venv/bin/python benchmarks/doctor_scripts.py                  # diagnosis, every twin (~6 min)
    .venv/bin/python benchmarks/doctor_scripts.py --cures          # + the doctor on CURES (~15 min)
    .venv/bin/python benchmarks/doctor_scripts.py --only lr_too_high --cures

It prints one row per twin and the totals, and writes the rows as JSON
(default ``.harness/benchmarks/doctor_scripts.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "scripts"
BLIND = ROOT / "benchmarks" / "watch_blind"
NEAR = 3
TOLERANCE = 0.05

LR_HIGH = ("learning rate too high",)
ZERO_GRAD = ("optimizer.zero_grad() never called",)
SOFTMAX = ("softmax (or sigmoid) before a loss that applies it",)
LABELS = ("labels that do not match the inputs", "training labels that do not match their inputs in one split")
FROZEN = ("layers frozen or detached by mistake", "weights the optimizer does not train")
FOREIGN = ("optimizer built over other parameters", "weights the optimizer does not train")
EVAL = ("the model left in eval() mode while training",)
PER_EPOCH = ("per-step scheduler stepped once per epoch",)
TOO_OFTEN = ("scheduler stepped more often than the optimizer", "learning rate (near) zero")
SCALE = ("inputs on the wrong scale",)

#: bug (the blind corpus's label, or an examples twin's file stem) -> the causes that name it
CAUSES: dict[str, tuple[str, ...]] = {
    "closure_missing_zero_grad": ZERO_GRAD,
    "missing_zero_grad": ZERO_GRAD,
    "detach_in_forward": FROZEN,
    "freeze_inverted": FROZEN,
    "dropout_too_high": (),  # no declared cause: counted as a miss
    "eval_mode_training": EVAL,
    "labels_misaligned": LABELS,
    "labels_shuffled": LABELS,
    "lr_too_high": LR_HIGH,
    "mse_broadcast": ("a regression loss broadcast (N, 1) against (N,)",),
    "onecycle_stepped_per_epoch": PER_EPOCH,
    "optimizer_over_other_module": FOREIGN,
    "padding_mask_inverted": (),
    "plateau_wrong_mode": ("learning rate (near) zero",),
    "rnn_batch_first_missing": (),
    "scheduler_per_batch": TOO_OFTEN,
    "sigmoid_before_bcewithlogits": SOFTMAX,
    "softmax_before_ce": SOFTMAX,
    "softmax_ce_for_multilabel": ("labels the outputs cannot represent",),
    "sum_reduction": ("loss summed instead of averaged",),
    "unnormalized_features": SCALE,
    "unnormalized_inputs": SCALE,
    "weight_decay_too_strong": ("weight decay far too strong",),
    "wrong_timestep": (),
    "classifier_warmup_per_epoch": PER_EPOCH,
    "classifier_no_zero_grad": ZERO_GRAD,
    "classifier_softmax_before_ce": SOFTMAX,
    "classifier_lr_too_high": LR_HIGH,
    "classifier_optimizer_misses_backbone": FOREIGN,
    "classifier_detach": FROZEN,
    "classifier_shuffled_labels": LABELS,
    "classifier_eval_mode": EVAL,
    "classifier_bn_eval_mode": EVAL,
    "classifier_accumulate_scheduler_per_microbatch": TOO_OFTEN,
    "hf_loop_warmup_per_epoch": PER_EPOCH,
    "label_smoothing_kl_probs": SOFTMAX + ("a loss on another scale than the outputs",),
}

#: bug -> the fix (acting on a running program) whose proof is expected
CURES: dict[str, str] = {
    "lr_too_high": "lr_scale",
    "classifier_lr_too_high": "lr_scale",
    "missing_zero_grad": "grad_reset",
    "closure_missing_zero_grad": "grad_reset",
    "classifier_no_zero_grad": "grad_reset",
    "scheduler_per_batch": "scheduler_cadence",
    "onecycle_stepped_per_epoch": "scheduler_cadence",
    "classifier_warmup_per_epoch": "scheduler_cadence",
    "classifier_accumulate_scheduler_per_microbatch": "scheduler_cadence",
    "hf_loop_warmup_per_epoch": "scheduler_cadence",
}

EXAMPLE_METRIC = r"val_acc ([\d.]+)"
BLIND_METRIC = r"val_metric ([-\d.]+)"


def twins() -> list[dict[str, Any]]:
    """Every bugged twin: its folder, file, bug, `# BUG` lines, printed metric and the clean twin's value."""
    rows = []
    corpus = json.loads((EXAMPLES / "corpus.json").read_text(encoding="utf-8"))
    for name, entry in corpus["twins"].items():
        if not entry.get("hurts"):
            continue
        rows.append(
            {
                "folder": EXAMPLES,
                "script": name,
                "bug": Path(name).stem,
                "bug_lines": bug_lines(EXAMPLES / name),
                "metric": EXAMPLE_METRIC,
                "clean_metric": None,
            }
        )
    for entry in json.loads((BLIND / "corpus.json").read_text(encoding="utf-8")):
        if entry["bug"]:
            rows.append(
                {
                    "folder": BLIND,
                    "script": entry["script"],
                    "bug": entry["bug"],
                    "bug_lines": entry["bug_lines"],
                    "metric": BLIND_METRIC,
                    "clean_metric": entry["clean_final_metric"],
                }
            )
    return rows


def bug_lines(path: Path) -> list[int]:
    return [i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if "# BUG" in line]


def line_of(where: str | None, script: str) -> int | None:
    match = re.search(r"^(.*):(\d+)$", where or "")
    return int(match.group(2)) if match and Path(match.group(1)).name == script else None


def diagnose(twin: dict[str, Any], out: Path) -> dict[str, Any]:
    """The top cause and the line of its edit, from one watched run of the twin."""
    from harness.core.diagnosis import declared_causes, most_likely, rank_causes
    from harness.core.findings import structural_kinds
    from harness.core.pluginmanager import discover_plugins
    from harness.experiments.doctor_edits import edits

    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "harness.cli", "watch", "--json", str(out), "--", sys.executable, twin["script"]]
    started = time.perf_counter()
    subprocess.run(command, cwd=twin["folder"], capture_output=True, text=True, timeout=900, env=env, check=False)
    seconds = time.perf_counter() - started
    report = json.loads(out.read_text(encoding="utf-8"))
    runs = [run for run in report.get("runs", [])][:1]
    for run in runs:
        run.setdefault("train", {})["cwd"] = str(twin["folder"])
    kinds = {f["kind"]: 1 for run in runs for f in run.get("findings", [])}
    available = discover_plugins()
    diagnosis = rank_causes(kinds, declared_causes(available), runs, structural_kinds(available))
    top = most_likely(diagnosis)
    section = {"observed": kinds, "diagnosis": diagnosis, "candidates": [], "best": None}
    placed = edits(section, runs, available)
    line = line_of(placed[0]["where"], twin["script"]) if placed else None
    cause = top[0]["cause"] if top and top[0]["verdict"] != "rules out" else None
    return {
        "kinds": sorted(kinds),
        "top_cause": cause,
        "named": cause in CAUSES.get(twin["bug"], ()),
        "edit_line": line,
        "at_line": line is not None and any(abs(line - bug) <= NEAR for bug in twin["bug_lines"]),
        "watch_seconds": round(seconds, 1),
    }


def cure(twin: dict[str, Any], work: Path) -> dict[str, Any]:
    """``harness doctor -- python TWIN.py`` on 3 seeds: what it proved, and how good the cure is."""
    out = work / "doctor.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "harness.cli", "doctor", "--json", str(out), "--results-dir", str(work / "res")]
    command += ["--metric", f"metric={twin['metric']}", "--", sys.executable, str(twin["folder"] / twin["script"])]
    started = time.perf_counter()
    subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=1800, env=env, check=False)
    seconds = time.perf_counter() - started
    if not out.exists():
        return {"proven": False, "doctor_seconds": round(seconds, 1), "error": "no report"}
    section = json.loads(out.read_text(encoding="utf-8")).get("doctor") or {}
    best = section.get("best") or {}
    plugins = sorted(best.get("plugins") or {})
    metric = (best.get("metric") or {}).get("mean")
    clean = twin["clean_metric"]
    good = None if metric is None or clean is None else metric >= clean * (1 - TOLERANCE)
    edit = (section.get("edits") or [{}])[0]
    return {
        "proven": bool(best),
        "fix": plugins,
        "right_fix": CURES.get(twin["bug"]) in plugins,
        "metric": metric,
        "as_good_as_clean": good,
        "edit": edit.get("edit"),
        "edit_line": line_of(edit.get("where"), twin["script"]),
        "doctor_seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="twins whose file name contains this")
    parser.add_argument("--cures", action="store_true", help="also run the doctor on the twins listed in CURES")
    parser.add_argument("--out", type=Path, default=ROOT / ".harness" / "benchmarks" / "doctor_scripts.json")
    args = parser.parse_args()
    rows = []
    selected = [t for t in twins() if not args.only or args.only in t["script"]]
    for twin in selected:
        with tempfile.TemporaryDirectory() as tmp:
            row = {"script": twin["script"], "bug": twin["bug"], **diagnose(twin, Path(tmp) / "watch.json")}
            if args.cures and twin["bug"] in CURES:
                row.update(cure(twin, Path(tmp)))
        rows.append(row)
        cured = "" if "proven" not in row else f" cure={'+'.join(row['fix']) or '-'} {row['doctor_seconds']}s"
        print(
            f"{row['script']:<58} {'NAMED' if row['named'] else 'miss ':<5} {'LINE' if row['at_line'] else '-   '} "
            f"{row['top_cause'] or '-'}{cured}",
            flush=True,
        )
    named = sum(r["named"] for r in rows)
    at_line = sum(r["named"] and r["at_line"] for r in rows)
    print(
        f"\nmost likely cause names the bug: {named}/{len(rows)}; and the edit within {NEAR} lines: {at_line}/{len(rows)}"
    )
    tried = [r for r in rows if "proven" in r]
    if tried:
        proven = sum(r["proven"] for r in tried)
        right = sum(r["right_fix"] for r in tried)
        worse = [r["script"] for r in tried if r.get("as_good_as_clean") is False]
        mean = sum(r["doctor_seconds"] for r in tried) / len(tried)
        print(
            f"cure proven: {proven}/{len(tried)} (the expected fix: {right}); below the clean twin: {worse or 'none'}"
        )
        print(f"doctor wall time: {mean:.0f} s per twin on average")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    print(f"rows written to {args.out}")


if __name__ == "__main__":
    main()
