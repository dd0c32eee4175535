"""The incident zoo: every scenario cites its public thread, replays broken and fixed, and is in the docs.

The replays themselves run as regression tests through ``pytest scenarios/zoo/`` (the
scenarios' own expectations); their 10-seed fidelity comes from ``benchmarks/zoo.py``.
Where the incident is a line of user code, a plain script with that line is in the
``harness watch`` corpus (``examples/scripts``), whose tests check that watch mode flags it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
ZOO = sorted((ROOT / "scenarios" / "zoo").glob("*.yaml"))
CORPUS = json.loads((ROOT / "examples" / "scripts" / "corpus.json").read_text())["twins"]

#: zoo incident -> the watch corpus script that makes the same mistake as a line of user code
SCRIPTS = {
    "wekws_no_zero_grad": "classifier_no_zero_grad.py",
    "acestep_warmup_interval_epoch": "classifier_warmup_per_epoch.py",
    "accelerate_scheduler_per_microbatch": "classifier_accumulate_scheduler_per_microbatch.py",
    "daisyrec_sigmoid_before_bce": "classifier_softmax_before_ce.py",
    "transformers_lr_same_outputs": "classifier_lr_too_high.py",
    "drexel_shuffled_inputs_only": "classifier_shuffled_labels.py",
}


def test_the_zoo_has_at_least_twelve_incidents_each_citing_a_public_thread() -> None:
    assert len(ZOO) >= 12
    for path in ZOO:
        scenario = load_scenario(path)
        assert scenario.source and scenario.source.startswith("https://github.com/"), path.name
        assert {"broken", "fixed"} <= set(scenario.variants), path.name
        assert all(scenario.variants[v].expectations for v in ("broken", "fixed")), path.name
        assert scenario.name == path.stem  # one name for the file, the results and the docs


@pytest.mark.parametrize("incident", sorted(SCRIPTS))
def test_the_script_version_is_in_the_watch_corpus_with_a_kind_the_zoo_replay_knows(incident: str) -> None:
    script = SCRIPTS[incident]
    assert (ROOT / "examples" / "scripts" / script).is_file()
    assert CORPUS[script]["hurts"], script  # watch mode's tests check it is flagged (and where, when located)
    raw = yaml.safe_load((ROOT / "scenarios" / "zoo" / f"{incident}.yaml").read_text())
    assert raw["name"] == incident


def test_the_docs_table_lists_every_incident_with_its_thread() -> None:
    page = (ROOT / "docs" / "zoo.md").read_text()
    for path in ZOO:
        scenario = load_scenario(path)
        assert f"`{scenario.name}`" in page and scenario.source in page, scenario.name
