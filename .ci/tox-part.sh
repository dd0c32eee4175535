#!/usr/bin/env bash
# Cross-version part of CI: the checkpoint scenario and its tests, and the environment
# check (each env's torch with the transformers pip resolved for it from harness's own
# requirements), under PyTorch 2.5.1 and 2.6.0 through tox (tox.ini: envs torch25,
# torch26), then `harness compare` of the two
# JSON reports, and a check that they differ exactly in the broken checkpoint round-trip.
#
# Needs .venv with the [test] extra (tox comes with it), as .ci/run builds it.
# First run on a machine: ~2 x 5 GB of torch + CUDA wheels from PyPI, about 4-5 min in
# all on 2 cores; the tox envs live in $HARNESS_TOX_WORKDIR (default
# ~/.cache/harness/tox, outside the clone) so a later run on the same machine reuses them
# (tox recreates an env whose deps in tox.ini changed) and takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."

py=.venv/bin/python
export HARNESS_REPORTS="${HARNESS_REPORTS:-$PWD/.tox-reports}"
workdir="${HARNESS_TOX_WORKDIR:-$HOME/.cache/harness/tox}"
selection=(
    tests/plugins/fixes/test_checkpoint.py
    tests/plugins/fixes/test_checkpoint_load.py
    tests/plugins/fixes/test_resume.py
    tests/core/test_compare.py
    tests/core/test_environment.py
    scenarios/checkpoint_compat.yaml
)

rm -f "$HARNESS_REPORTS/torch25.json" "$HARNESS_REPORTS/torch26.json"
"$py" -m tox --workdir "$workdir" -e torch25,torch26 -- "${selection[@]}"

COLUMNS="${COLUMNS:-160}" .venv/bin/harness compare "$HARNESS_REPORTS/torch25.json" "$HARNESS_REPORTS/torch26.json"

"$py" - "$HARNESS_REPORTS/torch25.json" "$HARNESS_REPORTS/torch26.json" <<'PY'
import sys

from harness.judging.compare import compare_reports, load_report

differences, _ = compare_reports(load_report(sys.argv[1]), load_report(sys.argv[2]))
runs = sorted({(d.scenario, d.variant) for d in differences})
if runs != [("checkpoint_compat", "broken")]:
    sys.exit(f"expected only checkpoint_compat/broken to differ between torch 2.5 and 2.6, got {runs}")
roundtrip = [(d.a, d.b) for d in differences if d.what == "outcome checkpoint_roundtrip"]
if roundtrip != [("ok", "fails")]:
    sys.exit(f"expected the broken round-trip to be ok on 2.5 and to fail on 2.6, got {roundtrip}")
print("cross-version check: only the broken checkpoint round-trip differs (ok on 2.5.1, fails on 2.6.0)")
PY
