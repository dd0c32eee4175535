"""Hostile scripts: small programs nobody here wrote, each run plain and under `harness watch`.

Watching must never hurt the program: the same stdout bytes, the same stderr (less harness's own
report lines), the same exit code and the same files left behind. Training cases print their
final loss, so a watcher that changed what the program computes (its RNG, a gradient) shows too.
Some cases also name a `--fail-on` kind that must not fire on them, and what the record must say.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # about 50 programs, each run twice

TRAIN = """\
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
torch.set_num_threads(1)
X = torch.randn(64, 6)
y = (X[:, 0] > 0).long()
"""


def fit(body: str, *, model: str = "nn.Linear(6, 2)", opt: str = "torch.optim.SGD(model.parameters(), lr=0.1)") -> str:
    """A small training program: ``body`` computes ``loss`` from ``model``, ``X``, ``y`` each step."""
    lines = "\n".join("    " + line for line in body.strip().splitlines())
    return (
        f"{TRAIN}model = {model}\nopt = {opt}\nfor step in range(12):\n    opt.zero_grad()\n{lines}\n"
        "    loss.backward()\n    opt.step()\nprint(f'loss {loss.item():.6f}')\n"
    )


@dataclass
class Case:
    """A program: its files (``main.py`` and any others), the argv after ``python``, stdin, and what
    its watched record must show (``fail_on``: a ``--fail-on`` kind that must not fire)."""

    files: dict[str, str]
    argv: tuple[str, ...] = ("main.py",)
    stdin: bytes = b""
    fail_on: str | None = None
    harness_says: bytes = b""  # a line harness's bootstrap must write to stderr (none by default)
    expect: dict[str, Any] = field(default_factory=dict)


def main(source: str, **kwargs: Any) -> Case:
    return Case({"main.py": source}, **kwargs)


CASES: dict[str, Case] = {
    # --- plain Python: the watcher must not even be noticed
    "stdin": main("import sys\nfor line in sys.stdin: print(line.strip().upper())", stdin=b"hello\nworld\n"),
    "stdin_binary": main("import sys\nsys.stdout.buffer.write(sys.stdin.buffer.read()[::-1])", stdin=bytes(range(256))),
    "binary_stdout": main("import sys\nsys.stdout.buffer.write(bytes(range(256)) * 8)"),
    "large_stdout": main("import sys\nfor i in range(40000): sys.stdout.write(f'{i:08d} ' * 8 + '\\n')"),
    "unicode": main("import sys\nprint('héllo ✓ 日本語 🚀')\nprint('ünïcode', file=sys.stderr)"),
    "partial_lines": main("import sys\nsys.stdout.write('no newline')\nsys.stderr.write('nor here')"),
    "arguments": Case(
        {"main.py": "import sys\nprint(sys.argv[1:])"}, argv=("main.py", "a b", "--", "-m", "--json", "x=1", "")
    ),
    "argv0": main("import os, sys\nprint(os.path.basename(sys.argv[0]), __name__)"),
    "dash_m": Case(
        {"pkg/__init__.py": "", "pkg/tool.py": "import sys\nprint(__name__, sys.argv[1:])"},
        argv=("-m", "pkg.tool", "--x", "1"),
    ),
    "dash_c": Case({}, argv=("-c", "import sys; print(sys.argv, __name__)", "arg")),
    "exit_code": main("print('bye')\nraise SystemExit(7)"),
    "exception": main("def f():\n    raise ValueError('bad input')\nf()"),
    "os_exit": main("import os, sys\nprint('out', flush=True)\nos._exit(5)"),
    "atexit": main("import atexit\natexit.register(lambda: print('at exit'))\nprint('main')"),
    "excepthook": main("import sys\nsys.excepthook = lambda *a: print('hooked', a[0].__name__)\nraise KeyError('k')"),
    "warning": main("import warnings\nwarnings.warn('careful')\nprint('done')"),
    "fork": main(
        "import os\npid = os.fork()\nif pid == 0:\n    print('child', flush=True)\n    os._exit(0)\n"
        "os.waitpid(pid, 0)\nprint('parent')"
    ),
    "threads": main(
        "import threading\nout = []\nts = [threading.Thread(target=out.append, args=(i,)) for i in range(8)]\n"
        "[t.start() for t in ts]\n[t.join() for t in ts]\nprint(sorted(out))"
    ),
    "subprocess": main(
        "import subprocess, sys\nr = subprocess.run([sys.executable, '-c', 'print(6 * 7)'], capture_output=True, text=True)\n"
        "print('child said', r.stdout.strip())"
    ),
    "writes_files": main("import pathlib\npathlib.Path('out').mkdir()\npathlib.Path('out/a.txt').write_text('x')"),
    "input_prompt": main("name = input('name? ')\nprint('hi', name)", stdin=b"ann\n"),
    # --- torch, trained in the styles people write
    "torch_basic": main(fit("loss = F.cross_entropy(model(X), y)"), fail_on="nan"),
    "sparse_embedding": main(
        TRAIN + "emb = nn.Embedding(50, 4, sparse=True)\nhead = nn.Linear(4, 2)\nids = torch.randint(0, 50, (64,))\n"
        "opt = torch.optim.SGD([*emb.parameters(), *head.parameters()], lr=0.1)\nfor _ in range(12):\n"
        "    opt.zero_grad()\n    loss = F.cross_entropy(head(emb(ids)), y)\n    loss.backward()\n    opt.step()\n"
        "print(f'loss {loss.item():.6f}')\n",
        fail_on="any",
    ),
    "jit_script_function": main(
        "import torch, torch.nn.functional as F\n@torch.jit.script\ndef f(x, y):\n"
        "    return F.cross_entropy(x, y) + F.mse_loss(x, x) + F.softmax(x, dim=1).sum() + torch.softmax(x, 1).sum()\n"
        "torch.manual_seed(0)\nprint(round(f(torch.randn(4, 3), torch.tensor([0, 1, 2, 0])).item(), 4))"
    ),
    "jit_script_module_trains": main(
        TRAIN
        + "class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(6, 2)\n"
        "    def forward(self, x, y):\n        return F.nll_loss(torch.log_softmax(F.softmax(self.fc(x), -1), -1), y)\n"
        "model = torch.jit.script(M())\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\nfor _ in range(10):\n"
        "    opt.zero_grad()\n    loss = model(X, y)\n    loss.backward()\n    opt.step()\nprint(f'loss {loss.item():.6f}')\n",
        fail_on="nan",
    ),
    "hand_written_cross_entropy": main(
        fit("loss = -(torch.log_softmax(model(X), 1).gather(1, y[:, None])).mean()"), fail_on="nan"
    ),
    "hand_written_mse": main(fit("loss = ((model(X)[:, 0] - y.float()) ** 2).mean()"), fail_on="nan"),
    "triplet_margin_loss": main(
        fit("loss = nn.TripletMarginLoss()(model(X[:20]), model(X[20:40]), model(X[40:60]))"), fail_on="nan"
    ),
    "loss_in_compiled_function": main(
        TRAIN + "@torch.compile(backend='eager')\ndef compute(model, X, y):\n"
        "    return -(torch.log_softmax(model(X), 1).gather(1, y[:, None])).mean()\n"
        + fit("loss = compute(model, X, y)").split(TRAIN)[1],
        fail_on="nan",
    ),
    "grad_scaler_hand_written": main(
        TRAIN + "model = nn.Linear(6, 2)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "scaler = torch.amp.GradScaler('cpu')\nfor _ in range(12):\n    opt.zero_grad()\n"
        "    loss = ((model(X)[:, 0] - y.float()) ** 2).mean()\n    scaler.scale(loss).backward()\n"
        "    scaler.step(opt)\n    scaler.update()\nprint(f'loss {loss.item():.6f}')\n",
        fail_on="any",
    ),
    "local_harness_module": Case(
        {
            "harness.py": "def greet():\n    return 'my own harness'\n",
            "main.py": fit("loss = F.cross_entropy(model(X), y)") + "import harness\nprint(harness.greet())\n",
        },
        fail_on="nan",
    ),
    "local_harness_before_torch": Case(
        {
            "harness.py": "NAME = 'mine'\n",
            "main.py": "import harness\n"
            + fit("loss = F.cross_entropy(model(X), y)")
            + "import harness as again\nprint(harness.NAME, again.NAME)\n",
        },
        fail_on="nan",
    ),
    "local_yaml_module": Case(
        {
            "yaml.py": "def safe_load(text):\n    return {'mine': text}\n",
            "main.py": fit("loss = F.cross_entropy(model(X), y)") + "import yaml\nprint(yaml.safe_load('a: 1'))\n",
        },
        fail_on="nan",
    ),
    "local_harness_package": Case(
        {
            "harness/__init__.py": "VERSION = 'local'\n",
            "harness/tools.py": "X = 1\n",
            "main.py": "import torch\nimport harness.tools\nprint(harness.VERSION, harness.tools.X)\n",
        }
    ),
    "torch_no_training": main(f"{TRAIN}with torch.no_grad():\n    print(nn.Linear(6, 2)(X).sum().item() != 0)"),
    "torch_import_only": main("import torch\nprint(torch.tensor([1, 2]).sum().item())"),
    "custom_optimizer": main(
        TRAIN + "class Plain(torch.optim.Optimizer):\n    def __init__(self, params, lr):\n"
        "        super().__init__(params, {'lr': lr})\n    @torch.no_grad()\n    def step(self, closure=None):\n"
        "        for g in self.param_groups:\n            for p in g['params']:\n"
        "                if p.grad is not None: p.add_(p.grad, alpha=-g['lr'])\n"
        + fit("loss = F.cross_entropy(model(X), y)", opt="Plain(model.parameters(), 0.1)").split(TRAIN)[1],
        fail_on="nan",
    ),
    "lbfgs": main(
        TRAIN + "model = nn.Linear(6, 2)\nopt = torch.optim.LBFGS(model.parameters(), max_iter=5)\n"
        "def closure():\n    opt.zero_grad()\n    loss = F.cross_entropy(model(X), y)\n    loss.backward()\n    return loss\n"
        "for _ in range(4): loss = opt.step(closure)\nprint(f'loss {loss.item():.6f}')\n",
        fail_on="nan",
    ),
    "autocast_cpu": main(
        fit("with torch.autocast('cpu', dtype=torch.bfloat16):\n    loss = F.cross_entropy(model(X), y)"), fail_on="nan"
    ),
    "grad_scaler_cpu": main(
        TRAIN + "model = nn.Linear(6, 2)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "scaler = torch.amp.GradScaler('cpu')\nfor _ in range(12):\n    opt.zero_grad()\n"
        "    loss = F.cross_entropy(model(X), y)\n    scaler.scale(loss).backward()\n"
        "    scaler.step(opt)\n    scaler.update()\nprint(f'loss {loss.item():.6f}')\n",
        fail_on="nan",
    ),
    "accumulation": main(
        TRAIN + "model = nn.Linear(6, 2)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "for step in range(8):\n    for part in X.chunk(4):\n        loss = F.cross_entropy(model(part), y[: len(part)]) / 4\n"
        "        loss.backward()\n    opt.step()\n    opt.zero_grad()\nprint(f'loss {loss.item():.6f}')\n",
        fail_on="nan",
    ),
    "loader_workers_fork": main(
        TRAIN + "from torch.utils.data import DataLoader, TensorDataset\n"
        "if __name__ == '__main__':\n    model = nn.Linear(6, 2)\n    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "    loader = DataLoader(TensorDataset(X, y), batch_size=16, num_workers=2, multiprocessing_context='fork')\n"
        "    for xb, yb in loader:\n        opt.zero_grad()\n        loss = F.cross_entropy(model(xb), yb)\n"
        "        loss.backward()\n        opt.step()\n    print(f'loss {loss.item():.6f}')\n"
    ),
    "loader_workers_spawn": main(
        TRAIN + "from torch.utils.data import DataLoader, TensorDataset\n"
        "if __name__ == '__main__':\n    model = nn.Linear(6, 2)\n    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "    loader = DataLoader(TensorDataset(X, y), batch_size=32, num_workers=1, multiprocessing_context='spawn')\n"
        "    for xb, yb in loader:\n        opt.zero_grad()\n        loss = F.cross_entropy(model(xb), yb)\n"
        "        loss.backward()\n        opt.step()\n    print(f'loss {loss.item():.6f}')\n"
    ),
    "training_thread": main(
        "import threading\n"
        + TRAIN
        + "def train():\n    global loss\n    model = nn.Linear(6, 2)\n    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "    for _ in range(10):\n        opt.zero_grad()\n        loss = F.cross_entropy(model(X), y)\n"
        "        loss.backward()\n        opt.step()\nt = threading.Thread(target=train)\nt.start()\nt.join()\n"
        "print(f'loss {loss.item():.6f}')\n"
    ),
    "torch_compile_model": main(
        fit("loss = F.cross_entropy(model(X), y)", model="torch.compile(nn.Linear(6, 2), backend='eager')"),
        fail_on="nan",
    ),
    "user_hooks": main(
        TRAIN + "model = nn.Linear(6, 2)\nmodel.register_forward_hook(lambda m, i, o: None)\n"
        "model.weight.register_hook(lambda g: g * 0.5)\n"
        + fit("loss = F.cross_entropy(model(X), y)").split(TRAIN)[1].replace("model = nn.Linear(6, 2)\n", ""),
        fail_on="nan",
    ),
    "saves_checkpoint": main(
        fit("loss = F.cross_entropy(model(X), y)") + "torch.save(model.state_dict(), 'model.pt')\n"
    ),
    "autograd_grad_manual": main(
        TRAIN + "w = torch.zeros(6, 2, requires_grad=True)\nfor _ in range(10):\n"
        "    loss = F.cross_entropy(X @ w, y)\n    (g,) = torch.autograd.grad(loss, [w])\n"
        "    with torch.no_grad(): w -= 0.5 * g\nprint(f'loss {loss.item():.6f}')\n"
    ),
    "sigint_handled": main(
        "import os, signal\nsignal.signal(signal.SIGINT, lambda *a: print('caught'))\n"
        "os.kill(os.getpid(), signal.SIGINT)\nprint('after')"
    ),
    "python_isolated": Case(
        {"main.py": fit("loss = F.cross_entropy(model(X), y)")},
        argv=("-I", "main.py"),
        harness_says=b"harness watch: python -I starts without harness's sitecustomize (it ignores PYTHONPATH or site), "
        b"so the watcher cannot load; the program runs unwatched",
        expect={"runs.0.error.type": "not_watched"},
    ),
    "os_exit_after_training": main(
        fit("loss = F.cross_entropy(model(X), y)") + "import os\nos._exit(0)\n",
        expect={"runs.0.status": "running", "runs.0.train.epochs": 0},  # its record from training start
    ),
    "killed_by_sigterm": main("import os, signal\nprint('bye', flush=True)\nos.kill(os.getpid(), signal.SIGTERM)"),
}


def _strip_harness(stderr: bytes) -> bytes:
    """The program's stderr: the watched run's less harness's report (from its rule line) and its notes."""
    rule = re.search(rb"(\xe2\x94\x80)+ harness watch ", stderr)  # the report's rule: the rest is harness's
    if rule is not None:
        stderr = stderr[: rule.start()]  # a partial last line of the program's stays
    return b"".join(line for line in stderr.splitlines(keepends=True) if not line.startswith(b"harness watch:"))


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): (p.read_bytes() if p.is_file() else b"<dir>")
        for p in sorted(directory.rglob("*"))
        if "__pycache__" not in p.parts
    }


def _run(case: Case, directory: Path, prefix: list[str]) -> subprocess.CompletedProcess[bytes]:
    shutil.rmtree(directory, ignore_errors=True)  # both runs in the same place: tracebacks name the same paths
    directory.mkdir()
    for name, text in case.files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text, encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [*prefix, *case.argv], cwd=directory, input=case.stdin, capture_output=True, timeout=240, env=env
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_watched_program_behaves_as_it_does_plain(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    plain = _run(case, tmp_path / "w", [sys.executable])
    plain_files = _files(tmp_path / "w")
    flags = ["--json", str(tmp_path / "report.json")] + (["--fail-on", case.fail_on] if case.fail_on else [])
    watched = _run(case, tmp_path / "w", [sys.executable, "-P", "-m", "harness.cli", "watch", *flags, "--", "python"])
    assert watched.stdout == plain.stdout
    assert _strip_harness(watched.stderr) == plain.stderr, watched.stderr.decode(errors="replace")[-3000:]
    assert watched.returncode == plain.returncode, watched.stderr.decode(errors="replace")[-3000:]
    assert _files(tmp_path / "w") == plain_files
    said = [line for line in watched.stderr.splitlines() if line.startswith(b"harness watch:")]
    assert said == ([case.harness_says] if case.harness_says else []) or case.harness_says in b"\n".join(said)
    report = json.loads((tmp_path / "report.json").read_text()) if (tmp_path / "report.json").exists() else {}
    if case.fail_on:  # a training program: watched, so the --fail-on above was a real check
        assert report["runs"] and all(r["steps"] for r in report["runs"]), report.get("runs")
    for key, wanted in case.expect.items():
        assert _lookup(report, key) == wanted, key


def _lookup(report: dict[str, Any], key: str) -> Any:
    """``runs.0.steps``-style paths into the JSON report."""
    value: Any = report
    for part in key.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value
