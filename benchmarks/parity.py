"""Parity benchmark: does the harness change or slow down training?

Trains the same workload, seed and data three ways, side by side in one process:

  (a) a plain hand-written PyTorch loop (DataLoader, forward, cross-entropy, backward,
      AdamW step, zero_grad: nothing else);
  (b) the harness loop with every fix and monitor off (only the ``defaults`` core plugin);
  (c) the harness loop with the default monitors on (every plugin of kind ``monitor``).

and prints whether the final weights of (b) and (c) are ``torch.equal`` to (a), and the
median step-time ratios (b)/(a) and (c)/(a).

How the timing is made fair on a busy machine: the three trainings run in three threads
that take turns *one optimizer step at a time* (a baton: only one thread runs at any
moment, so they never compete for a core), so a change of machine load hits all three
alike. A step's time is measured with ``time.perf_counter`` from the moment its thread
gets the baton to the end of its optimizer step (``zero_grad`` included): it covers
fetching and collating the batch, forward, loss, backward, the step and, for (b) and
(c), every hook. The harness side stamps the end of a step from an observer's
``on_step`` hook (``trylast``, so after the monitors). The first step of each epoch
(data-loader start, and validation in the harness) and the first ``--warmup`` steps of
each run are excluded. The global torch RNG (dropout) is saved and restored at every
hand-over, so each training sees exactly the random stream it would see alone.
``--repeats`` fresh trios are trained; ratios are of the median step times pooled over
the repeats (the per-repeat ratios are printed too).

    .venv/bin/python benchmarks/parity.py                  # issue11 size, 3 repeats x 2 epochs
    .venv/bin/python benchmarks/parity.py --quick          # a smaller workload, for a quick look (few steps: noisy)

Last, it trains a linear model on 4 features the same three ways, where forward, backward
and step cost next to nothing: the difference in step time there is the harness's own
per-step cost (hook calls, tracing, the monitors' bookkeeping), printed in microseconds
and as a share of the devign step, a bound that does not drown in machine noise.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.core.hookspecs import hookimpl

ROOT = Path(__file__).resolve().parents[1]
MODES = ("a", "b", "c")
LABELS = {"a": "plain PyTorch loop", "b": "harness, fixes and monitors off", "c": "harness, default monitors on"}


class Baton:
    """Round-robin turns between threads: exactly one holds the baton at a time.

    Each turn also switches the global torch/Python RNG state to the holder's own, so
    interleaving does not change any training's random stream.
    """

    def __init__(self, names: tuple[str, ...]) -> None:
        import torch

        self.ring = list(names)
        self.events = {n: threading.Event() for n in names}
        self.rng = {n: (torch.get_rng_state(), random.getstate()) for n in names}
        self.lock = threading.Lock()

    def start(self) -> None:
        self.events[self.ring[0]].set()

    def wait(self, name: str) -> None:
        import torch

        self.events[name].wait()
        self.events[name].clear()
        torch_state, py_state = self.rng[name]
        torch.set_rng_state(torch_state)
        random.setstate(py_state)

    def _save(self, name: str) -> None:
        import torch

        self.rng[name] = (torch.get_rng_state(), random.getstate())

    def pass_on(self, name: str) -> None:
        """Hand the baton to the next thread in the ring and wait for it to come back."""
        self._save(name)
        with self.lock:
            nxt = self.ring[(self.ring.index(name) + 1) % len(self.ring)]
        self.events[nxt].set()
        self.wait(name)

    def leave(self, name: str) -> None:
        """This thread is done: hand the baton on for good."""
        self._save(name)
        with self.lock:
            i = self.ring.index(name)
            self.ring.remove(name)
            nxt = self.ring[i % len(self.ring)] if self.ring else None
        if nxt is not None:
            self.events[nxt].set()


class StepClock:
    """Per-step times of one training: (epoch, index in epoch, wall seconds, CPU seconds).

    Wall time is ``time.perf_counter``; CPU time is ``time.thread_time`` (this thread's
    CPU time: with one torch thread all the step's work runs in it, and time the OS
    gave to other processes is not counted, so it is far less noisy on a busy machine).
    """

    def __init__(self, name: str, baton: Baton) -> None:
        self.name, self.baton = name, baton
        self.steps: list[tuple[int, int, float, float]] = []
        self.t0 = self.c0 = 0.0
        self.epoch, self.index = 0, 0

    def begin(self) -> None:
        self.baton.wait(self.name)
        self.t0, self.c0 = time.perf_counter(), time.thread_time()

    def step_done(self, epoch: int) -> None:
        t, c = time.perf_counter(), time.thread_time()
        self.index = self.index + 1 if epoch == self.epoch else 0
        self.epoch = epoch
        self.steps.append((epoch, self.index, t - self.t0, c - self.c0))
        self.baton.pass_on(self.name)
        self.t0, self.c0 = time.perf_counter(), time.thread_time()

    def times(self, warmup: int, cpu: bool = False) -> list[float]:
        """Step times, without each epoch's first step and the run's first ``warmup`` steps."""
        return [s[3 if cpu else 2] for k, s in enumerate(self.steps) if s[1] > 0 and k >= warmup]


class ClockObserver:
    """Observer plugin: stamps the end of every harness step (after every monitor)."""

    def __init__(self, clock: StepClock) -> None:
        self.clock = clock

    @hookimpl(trylast=True)
    def on_step(self, state: Any) -> None:
        self.clock.step_done(state.epoch)


def plain_loop(workload: Any, cfg: Any, seed: int, clock: StepClock) -> Any:
    """(a) The hand-written reference loop: nothing the harness adds."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader

    from harness.core.loop import seed_everything

    seed_everything(seed)
    train_set, _ = workload.datasets()
    model = workload.build_model()
    loader = DataLoader(
        train_set,
        batch_size=cfg.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
        collate_fn=workload.collate,
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model.train()
    for epoch in range(1, cfg.epochs + 1):
        for batch in loader:
            if "input_ids" in batch:  # devign: a RoBERTa classifier
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            else:  # TrivialWorkload: a linear model
                logits = model(batch["x"])
            loss = F.cross_entropy(logits, batch["labels"])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            clock.step_done(epoch)
    return model


def harness_loop(workload: Any, cfg: Any, seed: int, clock: StepClock, monitors: bool) -> Any:
    """(b)/(c) The harness loop with only the core plugin, or the core and the default monitors."""
    from harness.core.loop import build_state, train
    from harness.core.pluginmanager import build_run_manager, discover_plugins
    from harness.testing import enabled_plugins

    enabled = enabled_plugins({}, monitors=monitors)
    pm, _ = build_run_manager(discover_plugins(), enabled, observers=(ClockObserver(clock),))
    import torch

    state = build_state(workload, cfg, seed, torch.device("cpu"), None)
    status = train(state, pm.hook)
    assert status == "ok", status
    return state.model


class TrivialWorkload:
    """A linear model on 4 features: forward, backward and step cost next to nothing, so
    the step-time difference between (a) and (b)/(c) is the harness's own per-step cost."""

    def __init__(self, n_train: int = 64 * 150) -> None:
        from types import SimpleNamespace

        self.params = SimpleNamespace()  # build_state reads eval_batch_size from it
        self.n_train = n_train

    def datasets(self) -> tuple[Any, Any]:
        import torch
        from torch.utils.data import TensorDataset

        g = torch.Generator().manual_seed(0)
        x, y = torch.randn(self.n_train, 4, generator=g), torch.randint(0, 2, (self.n_train,), generator=g)
        return TensorDataset(x, y), TensorDataset(x[:64], y[:64])

    def collate(self, items: list[Any]) -> dict[str, Any]:
        import torch

        x, y = (torch.stack(col) for col in zip(*items, strict=False))
        return {"x": x, "labels": y}

    def build_model(self) -> Any:
        import torch

        return torch.nn.Linear(4, 2)

    def forward(self, model: Any, batch: dict[str, Any]) -> Any:
        return model(batch["x"])

    def default_criterion(self) -> Any:
        import torch.nn.functional as F

        return lambda logits, batch: F.cross_entropy(logits, batch["labels"])

    def train_labels(self) -> Any:
        return self.datasets()[0].tensors[1]

    def evaluate(self, model: Any, loader: Any, device: Any) -> dict[str, Any]:
        return {}


def harness_cost(repeats: int = 3) -> dict[str, float]:
    """The harness's own CPU time per step (µs) over a plain loop, on :class:`TrivialWorkload`."""
    from types import SimpleNamespace

    cfg = SimpleNamespace(epochs=2, batch_size=64, lr=1e-3, weight_decay=0.01, accumulation_steps=1, warmup_ratio=0.1)
    workload = TrivialWorkload()
    cost: dict[str, list[float]] = {"b": [], "c": []}
    for r in range(repeats):
        clocks, _ = trio(workload, cfg, 0, MODES if r % 2 == 0 else ("a", "c", "b"))
        med = {m: statistics.median(clocks[m].times(3, cpu=True)) for m in MODES}
        for m in cost:
            cost[m].append((med[m] - med["a"]) * 1e6)
    return {m: statistics.median(v) for m, v in cost.items()}


def trio(
    workload: Any, cfg: Any, seed: int, order: tuple[str, ...] = MODES
) -> tuple[dict[str, StepClock], dict[str, Any]]:
    """Train (a), (b), (c) interleaved step by step, in ``order``; returns their clocks and models."""
    baton = Baton(order)
    clocks = {m: StepClock(m, baton) for m in MODES}
    runners: dict[str, Callable[[], Any]] = {
        "a": lambda: plain_loop(workload, cfg, seed, clocks["a"]),
        "b": lambda: harness_loop(workload, cfg, seed, clocks["b"], monitors=False),
        "c": lambda: harness_loop(workload, cfg, seed, clocks["c"], monitors=True),
    }
    models: dict[str, Any] = {}
    errors: list[BaseException] = []

    def work(mode: str, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)  # per thread for OpenMP: set it in each
        clocks[mode].begin()
        try:
            models[mode] = runners[mode]()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            baton.leave(mode)

    import torch

    threads = torch.get_num_threads()
    workers = [threading.Thread(target=work, args=(m, threads), name=f"parity-{m}") for m in order]
    for w in workers:
        w.start()
    baton.start()
    for w in workers:
        w.join()
    if errors:
        raise errors[0]
    return clocks, models


def weights_equal(x: Any, y: Any) -> tuple[bool, list[str]]:
    import torch

    py = dict(y.named_parameters())
    differ = [n for n, p in x.named_parameters() if not torch.equal(p, py[n])]
    return not differ, differ


def measure(
    workload: Any, cfg: Any, *, seed: int = 0, repeats: int = 3, warmup: int = 3, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Run ``repeats`` interleaved trios; the parity verdict, step times and ratios."""
    pooled: dict[str, list[float]] = {m: [] for m in MODES}
    pooled_cpu: dict[str, list[float]] = {m: [] for m in MODES}
    per_repeat: list[dict[str, float]] = []
    equal = {"b": True, "c": True}
    differing: dict[str, list[str]] = {"b": [], "c": []}
    for r in range(repeats):
        started = time.perf_counter()
        # a -> b -> c on even repeats, a -> c -> b on odd ones: no mode always follows the same one
        clocks, models = trio(workload, cfg, seed, MODES if r % 2 == 0 else ("a", "c", "b"))
        for m in ("b", "c"):
            same, names = weights_equal(models["a"], models[m])
            equal[m] = equal[m] and same
            differing[m] += names
        medians, cpu_medians = {}, {}
        for m in MODES:
            t, c = clocks[m].times(warmup), clocks[m].times(warmup, cpu=True)
            pooled[m] += t
            pooled_cpu[m] += c
            medians[m], cpu_medians[m] = statistics.median(t), statistics.median(c)
        per_repeat.append(medians)
        log(
            f"  repeat {r + 1}/{repeats}: {len(clocks['a'].times(warmup))} timed steps each, median step "
            + ", ".join(f"({m}) {medians[m] * 1e3:.2f} ms" for m in MODES)
            + f"; (b)/(a) {medians['b'] / medians['a']:.4f}, (c)/(a) {medians['c'] / medians['a']:.4f}"
            + f" (CPU time {cpu_medians['b'] / cpu_medians['a']:.4f}, {cpu_medians['c'] / cpu_medians['a']:.4f})"
            + f"  [{time.perf_counter() - started:.0f} s]"
        )
    med = {m: statistics.median(pooled[m]) for m in MODES}
    med_cpu = {m: statistics.median(pooled_cpu[m]) for m in MODES}
    return {
        "median_cpu_s": med_cpu,
        "cpu_ratio_b": med_cpu["b"] / med_cpu["a"],
        "cpu_ratio_c": med_cpu["c"] / med_cpu["a"],
        "equal_b": equal["b"],
        "equal_c": equal["c"],
        "differing": differing,
        "median_s": med,
        "ratio_b": med["b"] / med["a"],
        "ratio_c": med["c"] / med["a"],
        "per_repeat_ratio_b": [p["b"] / p["a"] for p in per_repeat],
        "per_repeat_ratio_c": [p["c"] / p["a"] for p in per_repeat],
        "steps_timed": len(pooled["a"]),
    }


def issue11_setup(quick: bool, epochs: int) -> tuple[Any, Any, str]:
    """The devign workload and train config of scenarios/issue11.yaml (or a smaller one)."""
    from harness.scenario import load_scenario
    from harness.workloads import workload_class

    scenario = load_scenario(ROOT / "scenarios" / "issue11.yaml")
    params = scenario.workload_params
    if quick:
        params = params.model_copy(update={"n_train": 640, "n_val": 128})
    cfg = scenario.variants["broken"].train.model_copy(update={"epochs": epochs, "device": "cpu"})
    workload = workload_class(scenario.workload)(params)
    p = params
    what = (
        f"devign (issue11 size{'; --quick: fewer samples' if quick else ''}): n_train {p.n_train}, "
        f"max_length {p.max_length}, hidden {p.hidden_size}, {p.num_layers} layers, batch {cfg.batch_size}, "
        f"lr {cfg.lr:g}, {cfg.epochs} epoch(s), seed 0"
    )
    return workload, cfg, what


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh interleaved trios (default 3)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per training (default 2)")
    parser.add_argument("--warmup", type=int, default=3, help="steps excluded at the start of each run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--quick", action="store_true", help="640 training samples instead of 2500")
    args = parser.parse_args(argv)

    import os

    import torch

    torch.set_num_threads(args.threads)
    workload, cfg, what = issue11_setup(args.quick, args.epochs)
    workload.datasets()  # build or load the cached data before timing anything
    print(f"parity: {what}; torch {torch.__version__}, {args.threads} thread(s), load average {os.getloadavg()[0]:.2f}")
    result = measure(workload, cfg, repeats=args.repeats, warmup=args.warmup)
    verdict = "EQUAL" if result["equal_b"] else f"DIFFER ({len(result['differing']['b'])} tensors)"
    verdict_c = "EQUAL" if result["equal_c"] else f"DIFFER ({len(result['differing']['c'])} tensors)"
    med = result["median_s"]
    print(f"parity: final weights (a) vs (b) torch.equal: {verdict}; (a) vs (c): {verdict_c}")
    print(
        "parity: median step time over "
        f"{result['steps_timed']} steps: " + ", ".join(f"({m}) {LABELS[m]} {med[m] * 1e3:.2f} ms" for m in MODES)
    )
    print(
        f"parity: (b)/(a) = {result['ratio_b']:.4f} (target <= 1.01), "
        f"(c)/(a) = {result['ratio_c']:.4f} (target <= 1.02); per repeat (b)/(a) "
        + " ".join(f"{x:.4f}" for x in result["per_repeat_ratio_b"])
        + ", (c)/(a) "
        + " ".join(f"{x:.4f}" for x in result["per_repeat_ratio_c"])
    )
    cpu = result["median_cpu_s"]
    print(
        "parity: same, in thread CPU time (what the OS gave the step; less noisy on a busy machine): "
        + ", ".join(f"({m}) {cpu[m] * 1e3:.2f} ms" for m in MODES)
        + f"; (b)/(a) = {result['cpu_ratio_b']:.4f}, (c)/(a) = {result['cpu_ratio_c']:.4f}"
    )
    cost = harness_cost()
    step_us = result["median_cpu_s"]["a"] * 1e6
    print(
        "parity: the harness's own cost per step (a linear model on 4 features, where the loop's Python is "
        f"all there is; thread CPU time over the plain loop): (b) {cost['b']:+.0f} us, (c) {cost['c']:+.0f} us, "
        f"i.e. {cost['b'] / step_us:+.2%} and {cost['c'] / step_us:+.2%} of the devign step above"
    )
    print(f"parity: load average after {os.getloadavg()[0]:.2f}")
    return result


if __name__ == "__main__":
    main()
