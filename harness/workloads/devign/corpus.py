"""Seeded synthetic C functions labelled vulnerable (1) or safe (0).

The ``devign`` workload replays a CodeBERT/Devign incident with a tiny RoBERTa
classifier, so it needs a corpus that behaves like the real one in the ways that
matter to the incident, while staying small, offline and reproducible:

* **Real vulnerability patterns, each with a safe counterpart.** Every pattern in
  :data:`PATTERNS` has a builder ``_pair_<pattern>(fn, vulnerable)`` that emits either
  the bug (unchecked ``strcpy``, unbounded ``memcpy``, ``gets``, a use after ``free``...)
  or its fix (``strncpy`` + terminator, a ``sizeof`` bounds check, ``fgets``, ``p = NULL``
  after ``free``...). The fix leaves its own tokens in the function, so the label is
  learnable from the text.
* **No single token gives the label away.** Safe samples include *decoys* that use the
  dangerous-looking calls harmlessly (``strcpy`` of a short literal, ``memcpy`` with
  ``sizeof`` of the destination, ``free`` at the end, ``printf`` with a literal format,
  ``sprintf`` of an int into a roomy buffer), some safe fixes keep the risky call behind
  a length check, and some vulnerable samples look careful (a ``NULL`` check on a
  pointer that is not the problem, ``snprintf`` with a caller-controlled format).
* **Varied, realistic surroundings.** Function names, return types, parameters,
  variable names, buffer sizes, filler statements and comments are drawn at random, so
  the model must find the pattern rather than memorise a template.
* **Short.** Functions are typically 8-30 lines and well under 128 C tokens, with at
  most two short filler statements before the key lines, so a model truncating at 128
  tokens still sees what decides the label.

Standard library only; everything is driven by one ``random.Random(seed)``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.workloads.devign.fillers import _LONG_FILLERS, _SHORT_FILLERS, _fillers
from harness.workloads.devign.patterns import (
    _decoy_free_end,
    _decoy_memcpy_sizeof,
    _decoy_printf_literal,
    _decoy_sprintf_int,
    _decoy_strcpy_literal,
    _pair_format_string,
    _pair_gets,
    _pair_int_overflow,
    _pair_memcpy,
    _pair_null_check,
    _pair_off_by_one,
    _pair_sprintf,
    _pair_strcat,
    _pair_strcpy,
    _pair_use_after_free,
)
from harness.workloads.devign.vocabulary import _DECOY_SHARE, _KEY_TOKEN_BUDGET, _Fn

__all__ = ["PATTERNS", "Sample", "generate_samples"]


@dataclass(frozen=True)
class Sample:
    """One generated C function."""

    code: str  # the C function source
    label: int  # 1 vulnerable, 0 safe
    pattern: str  # a name from PATTERNS, or "decoy_*" for harmless look-alikes (always 0)


# --------------------------------------------------------------------------- pools


# --------------------------------------------------------------------------- function builder


# --------------------------------------------------------------------------- pattern pairs


_PAIRS: dict[str, Callable[[_Fn, bool], list[str]]] = {
    "strcpy": _pair_strcpy,
    "memcpy": _pair_memcpy,
    "sprintf": _pair_sprintf,
    "gets": _pair_gets,
    "null_check": _pair_null_check,
    "use_after_free": _pair_use_after_free,
    "format_string": _pair_format_string,
    "int_overflow": _pair_int_overflow,
    "off_by_one": _pair_off_by_one,
    "strcat": _pair_strcat,
}

#: the vulnerability pattern names; every one yields both vulnerable and safe samples
PATTERNS: tuple[str, ...] = tuple(_PAIRS)


# --------------------------------------------------------------------------- decoys (always safe)


_DECOYS: dict[str, Callable[[_Fn], list[str]]] = {
    "decoy_strcpy_literal": _decoy_strcpy_literal,
    "decoy_memcpy_sizeof": _decoy_memcpy_sizeof,
    "decoy_free_end": _decoy_free_end,
    "decoy_printf_literal": _decoy_printf_literal,
    "decoy_sprintf_int": _decoy_sprintf_int,
}


# --------------------------------------------------------------------------- filler


# --------------------------------------------------------------------------- assembly


def _build(rng: random.Random, pattern: str, label: int) -> Sample:
    """One function: the pattern's lines, 0-2 short statements before, 0-4 in all.

    If the deciding lines would end past the token budget, leading filler and then
    comments are dropped until they fit.
    """
    fn = _Fn(rng)
    core = _DECOYS[pattern](fn) if pattern in _DECOYS else _PAIRS[pattern](fn, bool(label))
    used: set[str] = set()
    n_pre = rng.choices((0, 1, 2), weights=(0.45, 0.4, 0.15))[0]
    pre = _fillers(fn, n_pre, _SHORT_FILLERS, used)
    n_post = rng.randint(0, 4 - len(pre)) if rng.random() < 0.8 else 0
    post = [line for stmt in _fillers(fn, n_post, _LONG_FILLERS, used) for line in stmt]
    code, key_end = fn.render([line for stmt in pre for line in stmt], core, post)
    while key_end > _KEY_TOKEN_BUDGET and pre:
        pre.pop()
        code, key_end = fn.render([line for stmt in pre for line in stmt], core, post)
    if key_end > _KEY_TOKEN_BUDGET:
        code, key_end = fn.render([], core, post, comments=False)
    return Sample(code=code, label=label, pattern=pattern)


def _balanced(rng: random.Random, items: Sequence[str], k: int) -> list[str]:
    """``k`` draws cycling through shuffled copies of ``items``: every item equally often."""
    out: list[str] = []
    while len(out) < k:
        block = list(items)
        rng.shuffle(block)
        out += block
    return out[:k]


def generate_samples(n: int, vulnerable_share: float = 0.458, seed: int = 0) -> list[Sample]:
    """``n`` shuffled functions, exactly ``round(n * vulnerable_share)`` of them vulnerable.

    Vulnerable samples spread evenly over :data:`PATTERNS`; safe ones are fixed
    counterparts of the same patterns, except about 30% decoys (``decoy_*``). The same
    ``seed`` always gives the same list.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0.0 <= vulnerable_share <= 1.0:
        raise ValueError(f"vulnerable_share must be in [0, 1], got {vulnerable_share}")
    rng = random.Random(seed)
    n_vuln = round(n * vulnerable_share)
    n_safe = n - n_vuln
    n_decoy = round(n_safe * _DECOY_SHARE)
    jobs = [(p, 1) for p in _balanced(rng, PATTERNS, n_vuln)]
    jobs += [(p, 0) for p in _balanced(rng, PATTERNS, n_safe - n_decoy)]
    jobs += [(p, 0) for p in _balanced(rng, tuple(_DECOYS), n_decoy)]
    rng.shuffle(jobs)
    return [_build(random.Random(rng.getrandbits(64)), pattern, label) for pattern, label in jobs]
