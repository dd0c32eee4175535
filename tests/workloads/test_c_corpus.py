"""Behaviour of the synthetic C corpus behind the ``devign`` workload."""

from __future__ import annotations

import dataclasses
import re
import statistics

import pytest

from harness.workloads.devign.corpus import PATTERNS, Sample, generate_samples

# the same split the workload's C tokenizer uses (harness.workloads.devign.tokenizer.C_TOKEN)
C_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|[A-Za-z_]\w*|\d+|->|\+\+|--|==|!=|<=|>=|&&|\|\||<<|>>|\S')

# where each pattern's deciding lines are (vulnerable or fixed): must sit early in the function
KEY_LINE = {
    "strcpy": r"\bstrn?cpy\(",
    "memcpy": r"\bmemcpy\(",
    "sprintf": r"\bs?n?printf\(",
    "gets": r"\bf?gets\(",
    "null_check": r"\b[cm]alloc\(",
    "use_after_free": r"\bfree\(",
    "format_string": r"printf\(|syslog\(|fputs\(",
    "int_overflow": r"\b[cm]alloc\(",
    "off_by_one": r"\bfor \(|\bstrncpy\(",
    "strcat": r"\bstrn?cat\(",
}

# for these patterns the fix leaves tokens that decide the label exactly
FIX_TOKENS = {
    "strcpy": r"\bstrncpy\(|\bstrlen\(",
    "memcpy": r"\bsizeof\(",
    "sprintf": r"\bsnprintf\(",
    "gets": r"\bfgets\(",
    "strcat": r"\bstrncat\(|\bstrlen\(",
    "int_overflow": r"\bSIZE_MAX\b|\bcalloc\(",
    # the allocation is immediately followed by a check of the same pointer
    "null_check": r"(\w+) = [cm]alloc\([^;]*;\n\s*if \((?:\1 == NULL|!\1)\)",
}
# a print call whose format argument is not a string literal
FORMAT_FROM_DATA = re.compile(r'(?:\bprintf\(|fprintf\(stderr, |syslog\(LOG_ERR, |sizeof\(\w+\), )(?!")')


@pytest.fixture(scope="module")
def corpus() -> list[Sample]:
    return generate_samples(2000, seed=0)


def accuracy(samples: list[Sample], predict) -> float:
    return sum(int(bool(predict(s))) == s.label for s in samples) / len(samples)


# --------------------------------------------------------------------------- counts, order, seeds


@pytest.mark.parametrize(
    ("n", "share"),
    [(0, 0.458), (1, 0.458), (7, 0.458), (100, 0.458), (999, 0.3), (1000, 0.5), (250, 0.0), (250, 1.0), (333, 0.125)],
)
def test_exact_label_count(n: int, share: float) -> None:
    samples = generate_samples(n, vulnerable_share=share, seed=3)
    assert len(samples) == n
    assert sum(s.label for s in samples) == round(n * share)
    assert all(s.label in (0, 1) for s in samples)


def test_default_share_is_the_incidents() -> None:
    samples = generate_samples(1000)
    assert sum(s.label for s in samples) == 458


def test_labels_are_shuffled() -> None:
    labels = [s.label for s in generate_samples(200, seed=1)]
    n_vuln = sum(labels)
    assert labels != sorted(labels) and labels != sorted(labels, reverse=True)
    assert 0 < sum(labels[:n_vuln]) < n_vuln  # the vulnerable ones are not all up front


def test_same_seed_same_output() -> None:
    assert generate_samples(300, seed=5) == generate_samples(300, seed=5)
    assert generate_samples(50) == generate_samples(50, 0.458, 0)


def test_other_seed_other_output() -> None:
    a, b = generate_samples(300, seed=5), generate_samples(300, seed=6)
    assert [s.code for s in a] != [s.code for s in b]
    assert len({s.code for s in a} & {s.code for s in b}) < 10


def test_functions_are_varied(corpus: list[Sample]) -> None:
    assert len({s.code for s in corpus}) > 0.98 * len(corpus)
    names = {re.search(r"(\w+)\(", s.code.split("{")[0].splitlines()[-1]).group(1) for s in corpus}
    assert len(names) > 500


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError):
        generate_samples(-1)
    with pytest.raises(ValueError):
        generate_samples(10, vulnerable_share=1.5)


def test_sample_is_frozen() -> None:
    sample = generate_samples(1)[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample.label = 1 - sample.label  # type: ignore[misc]


# --------------------------------------------------------------------------- patterns and decoys


def test_required_patterns_exist() -> None:
    required = {"strcpy", "memcpy", "sprintf", "gets", "null_check", "use_after_free", "format_string"}
    assert required <= set(PATTERNS)
    assert len(set(PATTERNS)) == len(PATTERNS) >= 7


def test_every_pattern_has_both_labels(corpus: list[Sample]) -> None:
    seen = {(s.pattern, s.label) for s in corpus}
    for pattern in PATTERNS:
        assert (pattern, 1) in seen, pattern
        assert (pattern, 0) in seen, pattern


def test_other_patterns_are_safe_decoys(corpus: list[Sample]) -> None:
    others = [s for s in corpus if s.pattern not in PATTERNS]
    assert len(others) > 0.15 * sum(1 for s in corpus if s.label == 0)
    assert all(s.pattern.startswith("decoy_") and s.label == 0 for s in others)
    assert len({s.pattern for s in others}) >= 4


@pytest.mark.parametrize("call", ["strcpy(", "memcpy(", "free(", "sprintf(", "printf("])
def test_safe_samples_use_dangerous_looking_calls(corpus: list[Sample], call: str) -> None:
    safe = [s for s in corpus if s.label == 0 and re.search(r"\b" + re.escape(call), s.code)]
    assert len(safe) >= 20, call
    assert any(s.pattern.startswith("decoy_") for s in safe), call


def test_some_vulnerable_samples_look_careful(corpus: list[Sample]) -> None:
    vulnerable = [s for s in corpus if s.label == 1]
    assert sum("== NULL" in s.code for s in vulnerable) >= 30
    assert sum(bool(re.search(r"\b(snprintf|strncpy)\(", s.code)) for s in vulnerable) >= 5


# --------------------------------------------------------------------------- shape of the code


def test_braces_and_parentheses_balance(corpus: list[Sample]) -> None:
    for s in corpus:
        depth = 0
        for line in s.code.splitlines():
            depth += line.count("{") - line.count("}")
            assert depth >= 0, s.code
            assert line.count("(") == line.count(")"), s.code
        assert depth == 0, s.code


def test_statements_end_properly(corpus: list[Sample]) -> None:
    header = re.compile(r"^(if|for|while) \(.*\)$|^else$|^/[*/]")
    for s in corpus:
        lines = [ln.strip() for ln in s.code.splitlines() if ln.strip()]
        signature = next(i for i, ln in enumerate(lines) if not ln.startswith("/"))
        assert lines[signature + 1] == "{" and lines[-1] == "}", s.code
        for line in lines[signature + 2 : -1]:
            assert line.endswith((";", "{", "}")) or header.match(line), (line, s.code)


def test_functions_are_short(corpus: list[Sample]) -> None:
    tokens = [len(C_TOKEN.findall(s.code)) for s in corpus]
    lines = [s.code.count("\n") for s in corpus]
    assert 40 <= statistics.median(tokens) <= 120
    assert 8 <= statistics.median(lines) <= 30
    assert sum(t <= 126 for t in tokens) > 0.85 * len(tokens)  # most fit in max_length=128 whole


def test_key_lines_fit_in_the_model_window(corpus: list[Sample]) -> None:
    for s in corpus:
        if s.pattern not in PATTERNS:
            continue
        match = re.search(KEY_LINE[s.pattern], s.code)
        assert match, (s.pattern, s.code)
        end_of_line = s.code.find("\n", match.end())
        assert len(C_TOKEN.findall(s.code[:end_of_line])) < 100, s.code


# --------------------------------------------------------------------------- signal: learnable, not trivial


def test_single_token_presence_does_not_decide_the_label(corpus: list[Sample]) -> None:
    assert accuracy(corpus, lambda s: "strcpy(" in s.code) < 0.95
    dangerous = ("strcpy(", "memcpy(", "sprintf(", "gets(", "free(", "printf(", "strcat(")
    assert accuracy(corpus, lambda s: any(c in s.code for c in dangerous)) < 0.95
    token_sets = [set(C_TOKEN.findall(s.code)) for s in corpus]
    vocabulary = set().union(*token_sets)
    for token in vocabulary:
        acc = sum((token in ts) == bool(s.label) for ts, s in zip(token_sets, corpus, strict=False)) / len(corpus)
        assert max(acc, 1 - acc) < 0.95, token


@pytest.mark.parametrize("call", ["strcpy(", "memcpy(", "free(", "printf(", "malloc("])
def test_dangerous_calls_appear_on_both_sides(corpus: list[Sample], call: str) -> None:
    having = [s for s in corpus if re.search(r"\b" + re.escape(call), s.code)]
    assert 0.15 < sum(s.label for s in having) / len(having) < 0.85, call


def test_fix_tokens_correlate_with_safe(corpus: list[Sample]) -> None:
    def fixed(s: Sample) -> bool:
        return any(t in s.code for t in ("strncpy", "snprintf", "fgets", "== NULL"))

    with_fix = [s for s in corpus if fixed(s)]
    without = [s for s in corpus if not fixed(s)]
    safe_share_with = sum(s.label == 0 for s in with_fix) / len(with_fix)
    safe_share_without = sum(s.label == 0 for s in without) / len(without)
    assert safe_share_with > safe_share_without + 0.15


@pytest.mark.parametrize("pattern", sorted(FIX_TOKENS))
def test_within_a_pattern_the_fix_decides(corpus: list[Sample], pattern: str) -> None:
    samples = [s for s in corpus if s.pattern == pattern]
    fix = re.compile(FIX_TOKENS[pattern])
    assert accuracy(samples, lambda s: not fix.search(s.code)) == 1.0


def test_format_string_label_follows_the_format_argument(corpus: list[Sample]) -> None:
    samples = [s for s in corpus if s.pattern == "format_string"]
    assert accuracy(samples, lambda s: FORMAT_FROM_DATA.search(s.code)) == 1.0


def used_after_free(code: str) -> bool:
    """The freed pointer is touched again with no return in between (``= NULL`` is no use)."""
    freed = re.search(r"free\((.+?)\);\n", code)
    assert freed, code
    after = code[freed.end() :]
    if after.lstrip().startswith("return"):
        return False
    use = re.compile(r"(?<![\w>])" + re.escape(freed.group(1)) + r"\b(?!\s*= NULL;)")
    return bool(use.search(after))


def test_use_after_free_label_follows_the_order(corpus: list[Sample]) -> None:
    uaf = [s for s in corpus if s.pattern == "use_after_free"]
    assert all("free(" in s.code for s in uaf)  # the call alone says nothing here
    assert accuracy(uaf, lambda s: used_after_free(s.code)) == 1.0
    safe = [s for s in uaf if s.label == 0]
    assert any(re.search(r"free\((.+)\);\n\s*\1 = NULL;", s.code) for s in safe)


def test_off_by_one_label_follows_the_bound(corpus: list[Sample]) -> None:
    past_the_end = re.compile(r"for \(\w+ = 0; \w+ <= |\[sizeof\(\w+\)\] =|\w+ < sizeof\(\w+\) &&")
    samples = [s for s in corpus if s.pattern == "off_by_one"]
    assert accuracy(samples, lambda s: past_the_end.search(s.code)) == 1.0
    assert any("<=" in s.code for s in corpus if s.label == 0)  # harmless <= loops exist too
