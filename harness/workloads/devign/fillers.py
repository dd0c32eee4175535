"""Neutral filler statements around a pattern, so the vulnerable line is never at a fixed place."""

from __future__ import annotations

from collections.abc import Sequence

from harness.workloads.devign.vocabulary import _FLAG_MACROS, _LOG_FNS, _LOG_PHRASES, _OBJ_FIELDS, _STAT_MACROS, _Fn

_SHORT_FILLERS = ("log", "stat", "assign", "incr", "guard")


_LONG_FILLERS = _SHORT_FILLERS + ("loop", "branch", "call")


def _filler(fn: _Fn, kind: str) -> list[str]:
    """One label-neutral statement (logging, bookkeeping, an early return, a loop...).

    Never uses the calls the patterns hinge on, except a harmless ``<=`` loop that keeps
    ``<=`` from deciding ``off_by_one`` on its own. Multi-line filler only goes after
    the key lines and declares its locals where it uses them (C99), so it adds nothing
    to the declarations ahead of the key lines.
    """
    if kind == "log":
        return [f'{fn.pick(_LOG_FNS)}("{fn.pick(_LOG_PHRASES)}");']
    if kind == "stat":
        return [f"stats_inc({fn.pick(_STAT_MACROS)});"]
    if kind == "loop":
        total = fn.name(("total", "sum", "acc", "hash"))
        i = "i" if f"{fn.index_type} i;" in fn.decls else f"{fn.index_type} i"
        op = "<=" if fn.chance(0.25) else "<"
        return [
            f"unsigned int {total} = 0;",
            f"for ({i} = 1; i {op} {fn.pick(('4', '8', '16', '3'))}; i++)",
            f"    {total} += i * {fn.pick(('31', '7', '3'))};",
        ]
    obj = fn.struct_obj()
    field = fn.pick(_OBJ_FIELDS)
    if kind == "assign":
        return [f"{obj}->{field} = {fn.pick(('0', '1', '-1'))};"]
    if kind == "incr":
        return [f"{obj}->{field}++;"]
    if kind == "guard":
        return fn.if_fail(f"{obj}->flags & {fn.pick(_FLAG_MACROS)}")
    if kind == "branch":
        mode = fn.name(("mode", "kind", "level", "sel"))
        return [
            f"int {mode} = 0;",
            f"if ({obj}->{field} > {fn.pick(('0', '1', '8'))}) {{",
            f"    {mode} = {fn.pick(('1', '2'))};",
            "} else {",
            f"    {mode} = {fn.pick(('3', '-1'))};",
            "}",
            f"{obj}->{fn.pick(('mode', 'level', 'prio'))} = {mode};",
        ]
    assert kind == "call", kind
    return [f"{obj}->{field} = {fn.pick(('update_state', 'next_seq', 'get_timeout'))}({obj});"]


def _fillers(fn: _Fn, count: int, kinds: Sequence[str], used: set[str]) -> list[list[str]]:
    """``count`` filler statements of distinct kinds (no kind twice in one function).

    Kinds touching the struct argument are only used if the function has one, or half
    the time (then the argument is added).
    """
    statements = []
    for _ in range(count):
        has_obj = fn.obj is not None or fn.chance(0.5)
        free = [k for k in kinds if k not in used and (has_obj or k in ("log", "stat", "loop"))]
        if not free:
            break
        kind = fn.pick(free)
        used.add(kind)
        statements.append(_filler(fn, kind))
    return statements
