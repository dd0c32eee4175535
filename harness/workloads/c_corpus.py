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
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["PATTERNS", "Sample", "generate_samples"]


@dataclass(frozen=True)
class Sample:
    """One generated C function."""

    code: str  # the C function source
    label: int  # 1 vulnerable, 0 safe
    pattern: str  # a name from PATTERNS, or "decoy_*" for harmless look-alikes (always 0)


# --------------------------------------------------------------------------- pools

_SIZES = (16, 32, 64, 128, 256, 512, 1024)
_FN_PREFIXES = (
    "", "", "", "net_", "http_", "usb_", "dev_", "cfg_", "util_", "proto_", "ff_", "qemu_", "vnc_", "virtio_",
)  # fmt: skip
_FN_VERBS = (
    "parse", "handle", "process", "read", "load", "copy", "build", "init", "update", "decode",
    "encode", "format", "send", "recv", "set", "get", "register", "open", "close", "store",
    "fill", "apply", "resolve", "lookup", "add", "save",
)  # fmt: skip
_FN_NOUNS = (
    "header", "packet", "request", "user", "name", "path", "config", "entry", "record", "frame",
    "msg", "token", "session", "buffer", "input", "field", "key", "option", "reply", "line",
    "label", "cookie", "url", "attr", "desc", "table",
)  # fmt: skip
_OBJ_TYPES = ("conn", "request", "packet", "session", "device", "context", "client", "stream", "channel", "state")
_OBJ_NAMES = ("ctx", "req", "pkt", "conn", "sess", "dev", "s", "st", "client", "priv")
_OBJ_FIELDS = ("count", "flags", "state", "len", "id", "retries", "error", "pos", "offset", "status", "nb_frames")
_ITEM_TYPES = ("item", "node", "entry", "record", "elem", "pair", "slot", "chunk")
_ITEM_NAMES = ("p", "node", "item", "entry", "e", "obj", "elem", "rec", "np")
_ITEM_FIELDS = ("id", "len", "key", "value", "flags", "refcnt", "state", "type", "owner")
_BUF_NAMES = (
    "buf", "dst", "out", "tmp", "name_buf", "path_buf", "local", "scratch", "tag", "label", "host_buf", "tbuf",
)  # fmt: skip
_STR_NAMES = (
    "src", "name", "user", "path", "input", "str", "arg", "host", "value", "text", "username", "filename", "dir",
)  # fmt: skip
_LEN_NAMES = ("len", "n", "size", "nbytes", "length", "data_len", "payload_len")
_COUNT_NAMES = ("count", "nmemb", "num", "nb_entries", "n_items", "cnt")
_MSG_NAMES = ("msg", "user_input", "reason", "errmsg", "banner", "comment", "fmt_str", "line_in")
_HELPERS = (
    "lookup_user", "register_name", "hash_string", "parse_path", "emit_token", "store_key", "set_label",
    "send_reply", "cache_insert", "validate_input", "apply_option", "add_entry", "write_record",
)  # fmt: skip
_DATA_HELPERS = ("decode_frame", "handle_payload", "checksum", "parse_fields", "queue_data", "crc32_update")
_LOG_FNS = ("log_debug", "pr_debug", "trace", "dbg_log", "log_info")
_LOG_PHRASES = ("start", "enter", "done", "ok", "retry", "reset state", "begin parse", "flush")
_STAT_MACROS = ("STAT_RX", "STAT_TX", "STAT_ERR", "STAT_DROP", "STAT_PARSE")
_FLAG_MACROS = ("FLAG_CLOSED", "FLAG_BUSY", "F_SHUTDOWN", "F_READONLY", "MODE_RAW")
_LITERALS = ("default", "none", "localhost", "unknown", "/tmp", "anonymous", "eth0", "guest", "root", "n/a")
_COMMENTS = (
    "/* copy input into local storage */",
    "// TODO: handle partial reads",
    "/* caller owns the result */",
    "/* fast path */",
    "// keep in sync with proto.h",
    "/* XXX: revisit for v2 */",
    "/* see RFC 1035 section 4 */",
    "// hot path, keep it short",
)  # fmt: skip
_HEADER_PHRASES = (
    "helper for the parser", "called with the lock held", "legacy entry point", "internal", "update cached state",
)  # fmt: skip

# the split of harness.workloads.c_tokenizer.C_TOKEN: literals, identifiers, numbers, operators
_C_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|[A-Za-z_]\w*|\d+|->|\+\+|--|==|!=|<=|>=|&&|\|\||<<|>>|\S')
# the deciding lines must end within this many tokens (the model reads 126 after <s>)
_KEY_TOKEN_BUDGET = 96

_DECOY_SHARE = 0.3  # share of safe samples that are decoys rather than fixed counterparts


# --------------------------------------------------------------------------- function builder


class _Fn:
    """Mutable state while one function is built: names in use, parameters, locals.

    Pattern and filler builders register what they need (``param``, ``decl``) and return
    body lines; :meth:`render` assembles the signature, declarations and body.
    Body lines are relative to the function body; nested lines carry 4 extra spaces.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()
        self.params: list[str] = []
        self.decls: list[str] = []
        self.obj: str | None = None  # the struct pointer parameter, created on demand
        self.uses_ret = False
        self.kind = rng.choices(("int", "void", "bool"), weights=(0.6, 0.2, 0.2))[0]
        self.index_type = rng.choice(("int", "int", "size_t", "unsigned int"))
        self._choose_style()

    # -- random helpers
    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, pool: Sequence[str]) -> str:
        return self.rng.choice(pool)

    def name(self, pool: Sequence[str]) -> str:
        """A fresh identifier from ``pool`` (suffixed if the pool is exhausted)."""
        free = [n for n in pool if n not in self.used]
        chosen = self.rng.choice(free) if free else f"{self.rng.choice(pool)}{len(self.used)}"
        self.used.add(chosen)
        return chosen

    def size(self, at_least: int = 16) -> int:
        return self.rng.choice([s for s in _SIZES if s >= at_least])

    # -- registration
    def param(self, decl: str) -> None:
        self.params.append(decl)

    def decl(self, line: str) -> None:
        if line not in self.decls:
            self.decls.append(line)

    def struct_obj(self) -> str:
        """The function's struct pointer parameter (``struct conn *ctx``), made once."""
        if self.obj is None:
            self.obj = self.name(_OBJ_NAMES)
            self.params.insert(0, f"struct {self.pick(_OBJ_TYPES)} *{self.obj}")
        return self.obj

    def str_param(self) -> str:
        s = self.name(_STR_NAMES)
        self.param(f"{'const ' if self.chance(0.7) else ''}char *{s}")
        return s

    def char_buf(self, at_least: int = 16, ctype: str = "char") -> tuple[str, int]:
        buf, size = self.name(_BUF_NAMES), self.size(at_least)
        self.decl(f"{ctype} {buf}[{size}];")
        return buf, size

    def index(self) -> str:
        self.decl(f"{self.index_type} i;")
        self.used.add("i")
        return "i"

    # -- statements
    def fail(self, nomem: bool = False) -> str:
        if self.kind == "void":
            return "return;"
        if self.kind == "bool":
            return "return false;"
        if nomem and self.chance(0.5):
            return "return -ENOMEM;"
        return self.pick(("return -1;", "return -1;", "return -EINVAL;"))

    def if_fail(self, cond: str, nomem: bool = False) -> list[str]:
        """``if (cond) return ...;`` in one of the three common brace styles."""
        ret = self.fail(nomem)
        style = self.rng.random()
        if style < 0.4:
            return [f"if ({cond}) {ret}"]
        if style < 0.75:
            return [f"if ({cond})", f"    {ret}"]
        return [f"if ({cond}) {{", f"    {ret}", "}"]

    def null_check(self, ptr: str, nomem: bool = False) -> list[str]:
        cond = f"!{ptr}" if self.chance(0.15) else f"{ptr} == NULL"
        return self.if_fail(cond, nomem)

    def maybe_null_check(self, ptr: str, p: float = 0.25) -> list[str]:
        """A NULL check on an input pointer: looks careful, decides nothing (both labels)."""
        return self.null_check(ptr) if self.chance(p) else []

    def consume(self, buf: str, extra: str = "") -> list[str]:
        """Pass a filled buffer on, the way real code does right after filling it."""
        args = f"{buf}, {extra}" if extra else buf
        helper = self.pick(_DATA_HELPERS if extra else _HELPERS)
        r = self.rng.random()
        if r < 0.35:
            return [f"{helper}({args});"]
        if r < 0.6 and self.kind == "int":
            self.uses_ret = True
            return [f"ret = {helper}({args});"]
        if r < 0.8:
            return self.if_fail(f"{helper}({args}) < 0")
        obj = self.struct_obj()
        return [f"{obj}->{self.pick(_OBJ_FIELDS)} = {helper}({args});"]

    def final_return(self) -> list[str]:
        if self.kind == "void":
            return []
        if self.kind == "bool":
            return ["return true;"]
        if self.uses_ret:
            self.decl("int ret = 0;")
            return ["return ret;"]
        return ["return 0;"]

    def _choose_style(self) -> None:
        """Draw the function's name, return type and comments once, so re-renders match."""
        ret_types = {
            "int": ("int", "int", "static int", "static int", "long", "ssize_t", "int32_t"),
            "void": ("void", "static void"),
            "bool": ("bool", "static bool"),
        }[self.kind]
        self.fname = f"{self.pick(_FN_PREFIXES)}{self.pick(_FN_VERBS)}_{self.pick(_FN_NOUNS)}"
        self.ret_type = self.pick(ret_types)
        self.header = f"/* {self.fname}: {self.pick(_HEADER_PHRASES)} */" if self.chance(0.15) else None
        self.blank_after_decls = self.chance(0.5)
        self.comment = self.pick(_COMMENTS) if self.chance(0.15) else None

    def render(self, pre: list[str], core: list[str], post: list[str], comments: bool = True) -> tuple[str, int]:
        """The function's source, and how many C tokens it has up to the end of ``core``."""
        tail = self.final_return()
        head: list[str] = []
        if comments and self.header:
            head.append(self.header)
        params = ", ".join(self.params) if self.params else "void"
        head += [f"{self.ret_type} {self.fname}({params})", "{"]
        # int ret comes first when present so the other declarations read naturally
        decls = sorted(self.decls, key=lambda d: d != "int ret = 0;")
        head += [f"    {d}" for d in decls]
        if decls and self.blank_after_decls:
            head.append("")
        lead = list(pre) + ([self.comment] if comments and self.comment else []) + core
        head += [f"    {b}" for b in lead]
        key_end = len(_C_TOKEN.findall("\n".join(head)))
        lines = head + [f"    {b}" for b in post + tail] + ["}"]
        return "\n".join(lines) + "\n", key_end


# --------------------------------------------------------------------------- pattern pairs


def _pair_strcpy(fn: _Fn, vulnerable: bool) -> list[str]:
    """CWE-121: ``strcpy`` of a caller-controlled string into a fixed stack buffer.

    Vulnerable: nothing bounds the copy (a NULL check on the source may precede it; it
    looks careful and prevents nothing). Safe: ``strncpy`` with ``sizeof(buf) - 1`` and
    an explicit terminator, or a ``strlen`` check against ``sizeof(buf)`` first, which
    keeps ``strcpy(`` in a safe function.
    """
    src = fn.str_param()
    buf, _ = fn.char_buf()
    lines = fn.maybe_null_check(src)
    if vulnerable:
        lines.append(f"strcpy({buf}, {src});")
    elif fn.chance(0.55):
        lines += [f"strncpy({buf}, {src}, sizeof({buf}) - 1);", f"{buf}[sizeof({buf}) - 1] = '\\0';"]
    else:
        lines += fn.if_fail(f"strlen({src}) >= sizeof({buf})")
        lines.append(f"strcpy({buf}, {src});")
    return lines + fn.consume(buf)


def _pair_memcpy(fn: _Fn, vulnerable: bool) -> list[str]:
    """CWE-787: ``memcpy`` with a length from the caller or a packet header.

    Vulnerable: the length is never compared with the destination (a ``len == 0`` check,
    which appears with both labels, is no bound). Safe: ``if (len > sizeof(buf)) return
    -1;`` before the copy, or the length clamped to ``sizeof(buf)``.
    """
    buf, _ = fn.char_buf(ctype=fn.pick(("unsigned char", "uint8_t", "char")))
    if fn.chance(0.35):  # length and payload from a parsed header: the Devign classic
        obj = fn.struct_obj()
        length = fn.name(_LEN_NAMES)
        fn.decl(f"size_t {length} = {obj}->{fn.pick(('len', 'length', 'size', 'payload_len'))};")
        src = f"{obj}->{fn.pick(('data', 'payload', 'body'))}"
    else:
        src = fn.name(("src", "data", "payload", "in", "raw", "bytes"))
        length = fn.name(_LEN_NAMES)
        fn.param(f"const {fn.pick(('uint8_t', 'unsigned char', 'void', 'char'))} *{src}")
        fn.param(f"{fn.pick(('size_t', 'size_t', 'int', 'unsigned int'))} {length}")
    lines = fn.if_fail(f"{length} == 0") if fn.chance(0.3) else []
    if not vulnerable:
        if fn.chance(0.75):
            op = ">" if fn.chance(0.8) else ">="
            lines += fn.if_fail(f"{length} {op} sizeof({buf})")
        else:
            lines += [f"if ({length} > sizeof({buf}))", f"    {length} = sizeof({buf});"]
    lines.append(f"memcpy({buf}, {src}, {length});")
    return lines + fn.consume(buf, length)


_SPRINTF_FORMATS = (  # (format, kinds of its arguments: s = string param, d = int param)
    ('"%s/%s"', "ss"),
    ('"%s"', "s"),
    ('"user=%s"', "s"),
    ('"%s:%d"', "sd"),
    ('"GET %s HTTP/1.0"', "s"),
    ('"/home/%s/.config"', "s"),
    ('"%s.%s"', "ss"),
    ('"name: %s (%d)"', "sd"),
)


def _format_args(fn: _Fn, kinds: str) -> str:
    args = []
    for kind in kinds:
        if kind == "s":
            args.append(fn.str_param())
        else:
            arg = fn.name(("port", "id", "idx", "uid", "code"))
            fn.param(f"int {arg}")
            args.append(arg)
    return ", ".join(args)


def _pair_sprintf(fn: _Fn, vulnerable: bool) -> list[str]:
    """CWE-120: ``sprintf`` of caller strings into a fixed buffer.

    Vulnerable: ``sprintf(buf, "%s...", s)`` with no size. Safe: ``snprintf(buf,
    sizeof(buf), ...)``, sometimes with its truncation result checked.
    """
    buf, _ = fn.char_buf()
    fmt, kinds = fn.rng.choice(_SPRINTF_FORMATS)
    args = _format_args(fn, kinds)
    if vulnerable:
        lines = [f"sprintf({buf}, {fmt}, {args});"]
    elif fn.chance(0.7):
        lines = [f"snprintf({buf}, sizeof({buf}), {fmt}, {args});"]
    else:
        lines = fn.if_fail(f"snprintf({buf}, sizeof({buf}), {fmt}, {args}) >= (int)sizeof({buf})")
    return lines + fn.consume(buf)


def _pair_gets(fn: _Fn, vulnerable: bool) -> list[str]:
    """CWE-242: ``gets`` cannot be bounded. Safe: ``fgets(line, sizeof(line), stdin)``."""
    line, _ = fn.char_buf(at_least=64)
    read = f"gets({line})" if vulnerable else f"fgets({line}, sizeof({line}), stdin)"
    if fn.chance(0.5):  # read one line
        lines = fn.if_fail(f"{read} == NULL")
        if not vulnerable and fn.chance(0.5):
            lines.append(f"{line}[strcspn({line}, \"\\n\")] = '\\0';")
        return lines + fn.consume(line)
    helper = fn.pick(_HELPERS)
    lines = [f"while ({read} != NULL) {{"]
    lines += [f"    if ({helper}({line}) < 0)", "        break;"] if fn.chance(0.5) else [f"    {helper}({line});"]
    return lines + ["}"]


def _pair_null_check(fn: _Fn, vulnerable: bool) -> list[str]:
    """CWE-476: ``malloc`` result dereferenced without a NULL check.

    Vulnerable: fields written straight after ``malloc``. About a fifth of the samples
    (either label) first check a *different* pointer, the context argument, so
    ``== NULL`` alone is no giveaway. Safe: ``if (p == NULL) return ...;`` right after
    the allocation.
    """
    lines: list[str] = []
    obj = fn.struct_obj() if fn.chance(0.6) else None
    if obj and fn.chance(0.35):  # careful-looking, but checks the wrong pointer
        lines += fn.null_check(obj)
    if fn.chance(0.3):  # a byte copy of a caller string
        src, length = fn.str_param(), fn.name(_LEN_NAMES)
        fn.param(f"size_t {length}")
        copy = fn.name(("copy", "dup", "tmp_str", "s2"))
        fn.decl(f"char *{copy};")
        lines.append(f"{copy} = malloc({length} + 1);")
        if not vulnerable:
            lines += fn.null_check(copy, nomem=True)
        lines += [f"memcpy({copy}, {src}, {length});", f"{copy}[{length}] = '\\0';"]
        ptr = copy
    else:
        ptr, typ = fn.name(_ITEM_NAMES), fn.pick(_ITEM_TYPES)
        fn.decl(f"struct {typ} *{ptr};")
        size = fn.pick((f"sizeof(*{ptr})", f"sizeof(struct {typ})"))
        alloc = fn.pick((f"malloc({size})", f"malloc({size})", f"calloc(1, {size})"))
        lines.append(f"{ptr} = {alloc};")
        if not vulnerable:
            lines += fn.null_check(ptr, nomem=True)
        fields = fn.rng.sample(_ITEM_FIELDS, k=2)
        lines.append(f"{ptr}->{fields[0]} = {fn.pick(('0', '1', '-1'))};")
        if fn.chance(0.5):
            lines.append(f"{ptr}->{fields[1]} = {fn.pick(('0', 'NULL', '1'))};")
    if obj:
        lines.append(f"{obj}->{fn.pick(('cur', 'head', 'last', 'pending', 'priv'))} = {ptr};")
    else:
        lines.append(f"{fn.pick(('register_item', 'list_append', 'queue_push', 'cache_put'))}({ptr});")
    return lines


def _pair_use_after_free(fn: _Fn, vulnerable: bool) -> list[str]:
    """CWE-416: an object is used after ``free``.

    Vulnerable: ``free(p)`` then ``p->field`` / ``p[i]`` (logging, bookkeeping,
    or after a conditional free). Safe: the same use *before* the free, ``p = NULL``
    right after it with no later use, or the conditional free followed by a return.
    """
    obj = fn.struct_obj()
    if fn.chance(0.5):  # a struct pointer argument
        ptr = fn.name(_ITEM_NAMES)
        fn.param(f"struct {fn.pick(_ITEM_TYPES)} *{ptr}")
        field = fn.pick(_ITEM_FIELDS)
        use = fn.pick(
            (
                f'{fn.pick(_LOG_FNS)}("released %d", {ptr}->{field});',
                f"{obj}->last_{field} = {ptr}->{field};",
                f"{ptr}->{field} = 0;",
                f"{ptr}->{field}--;",
            )
        )
    else:  # a heap string owned by the context
        ptr = f"{obj}->{fn.pick(('name', 'buf', 'data', 'path', 'host'))}"
        use = fn.pick((f"{ptr}[0] = '\\0';", f"{obj}->len = strlen({ptr});", f"{fn.pick(_HELPERS)}({ptr});"))
    if fn.chance(0.3):  # free on an error path
        cond = f"{obj}->{fn.pick(('error', 'closing', 'refcnt == 0', 'state == 0'))}"
        lines = [f"if ({cond}) {{", f"    free({ptr});"]
        lines += ["}"] if vulnerable else [f"    {fn.fail()}", "}"]
        return lines + [use]
    if vulnerable:
        return [f"free({ptr});", use]
    if fn.chance(0.5):
        return [use, f"free({ptr});"]
    return [f"free({ptr});", f"{ptr} = NULL;"]


def _pair_format_string(fn: _Fn, vulnerable: bool) -> list[str]:
    """CWE-134: caller-controlled text used as a format string.

    Vulnerable: ``printf(msg)``, ``fprintf(stderr, msg)``, ``syslog(LOG_ERR, msg)``, and
    rarely ``snprintf(buf, sizeof(buf), msg)`` (bounded, yet still a format-string bug).
    Safe: the same calls with a literal ``"%s"`` format, or ``fputs``.
    """
    if fn.chance(0.3):
        obj = fn.struct_obj()
        msg = f"{obj}->{fn.pick(('user_agent', 'errmsg', 'name', 'reason', 'query'))}"
    else:
        msg = fn.name(_MSG_NAMES)
        fn.param(f"const char *{msg}")
    lines = [f'fprintf(stderr, "{fn.pick(("error: ", "warning: ", "client: "))}");'] if fn.chance(0.25) else []
    variant = fn.rng.random()
    if variant < 0.4:
        lines.append(f"printf({msg});" if vulnerable else f'printf("%s", {msg});')
    elif variant < 0.65:
        lines.append(f"fprintf(stderr, {msg});" if vulnerable else f'fprintf(stderr, "%s\\n", {msg});')
    elif variant < 0.85:
        lines.append(f"syslog(LOG_ERR, {msg});" if vulnerable else f'syslog(LOG_ERR, "%s", {msg});')
    elif variant < 0.93 or not vulnerable:
        lines.append(f"fprintf(stderr, {msg});" if vulnerable else f"fputs({msg}, stderr);")
    else:
        buf, _ = fn.char_buf()
        lines += [f"snprintf({buf}, sizeof({buf}), {msg});", f"{fn.pick(_HELPERS)}({buf});"]
    return lines


def _pair_int_overflow(fn: _Fn, vulnerable: bool) -> list[str]:
    """CWE-190: ``count * size`` overflows before ``malloc``, then the loop overruns.

    Vulnerable: ``malloc(count * sizeof(*arr))`` (usually with its NULL check, so it
    looks careful). Safe: ``if (count > SIZE_MAX / sizeof(*arr))`` first, or ``calloc``.
    """
    arr = fn.name(("arr", "table", "vals", "entries", "slots", "vec"))
    elem = fn.pick(("uint32_t", "int", "uint64_t", f"struct {fn.pick(_ITEM_TYPES)}"))
    fn.decl(f"{elem} *{arr};")
    if fn.chance(0.35):
        obj = fn.struct_obj()
        count = fn.name(_COUNT_NAMES)
        fn.decl(f"unsigned int {count} = {obj}->{fn.pick(('nb_entries', 'count', 'num_slots'))};")
    else:
        count = fn.name(_COUNT_NAMES)
        fn.param(f"{fn.pick(('unsigned int', 'uint32_t', 'size_t', 'int'))} {count}")
    lines: list[str] = []
    if vulnerable or fn.chance(0.5):
        if not vulnerable:
            lines += fn.if_fail(f"{count} > SIZE_MAX / sizeof(*{arr})", nomem=True)
        lines.append(f"{arr} = malloc({count} * sizeof(*{arr}));")
    else:
        lines.append(f"{arr} = calloc({count}, sizeof(*{arr}));")
    if not vulnerable or fn.chance(0.75):
        lines += fn.null_check(arr, nomem=True)
    i = fn.index()
    if elem.startswith("struct"):
        init = f"    memset(&{arr}[{i}], 0, sizeof(*{arr}));"
    else:
        init = f"    {arr}[{i}] = {fn.pick(('0', i, f'{i} * 2', '-1'))};"
    return lines + [f"for ({i} = 0; {i} < {count}; {i}++)", init]


def _pair_off_by_one(fn: _Fn, vulnerable: bool) -> list[str]:
    """CWE-193: writing one element past a fixed array.

    Vulnerable: ``i <= N`` loops, a copy loop whose bound leaves no room for the
    terminator written after it, or ``buf[sizeof(buf)] = '\\0'`` after a full-size
    ``strncpy`` (careful-looking). Safe: ``<``, ``sizeof(buf) - 1``.
    """
    op = "<=" if vulnerable else "<"
    variant = fn.rng.random()
    if variant < 0.4:
        table, size = fn.name(("table", "map", "slots", "hist", "counts")), fn.size()
        fn.decl(f"{fn.pick(('int', 'uint32_t', 'unsigned short'))} {table}[{size}];")
        i = fn.index()
        loop = [f"for ({i} = 0; {i} {op} {size}; {i}++)", f"    {table}[{i}] = {fn.pick(('0', '-1', i))};"]
        return loop + fn.consume(table, f"sizeof({table})")
    buf, _ = fn.char_buf()
    if variant < 0.7:  # character loop plus terminator: the bound must leave room for '\0'
        src = fn.str_param()
        i = fn.index()
        if vulnerable:
            bound = fn.pick((f"{i} <= sizeof({buf})", f"{i} < sizeof({buf})"))
        else:
            bound = f"{i} < sizeof({buf}) - 1"
        return [
            f"for ({i} = 0; {bound} && {src}[{i}]; {i}++)",
            f"    {buf}[{i}] = {fn.pick((f'{src}[{i}]', f'tolower({src}[{i}])', f'toupper({src}[{i}])'))};",
            f"{buf}[{i}] = '\\0';",
        ] + fn.consume(buf)
    src = fn.str_param()
    if vulnerable:
        lines = [f"strncpy({buf}, {src}, sizeof({buf}));", f"{buf}[sizeof({buf})] = '\\0';"]
    else:
        lines = [f"strncpy({buf}, {src}, sizeof({buf}) - 1);", f"{buf}[sizeof({buf}) - 1] = '\\0';"]
    return lines + fn.consume(buf)


def _pair_strcat(fn: _Fn, vulnerable: bool) -> list[str]:
    """CWE-120: ``strcat`` of a caller string onto a fixed buffer that already holds text.

    Vulnerable: unbounded ``strcat`` (sometimes after a bounded ``snprintf`` of the
    prefix, which looks careful). Safe: ``strncat`` with the remaining room, or a
    ``strlen`` sum check before the ``strcat``.
    """
    buf, size = fn.name(_BUF_NAMES), fn.size()
    src = fn.str_param()
    lines: list[str] = []
    if fn.chance(0.25):
        fn.decl(f"char {buf}[{size}];")
        base = fn.str_param()
        lines.append(f'snprintf({buf}, sizeof({buf}), "%s/", {base});')
    else:
        fn.decl(f'char {buf}[{size}] = "{fn.pick(("/var/", "id:", "key=", "tmp_", "user-"))}";')
    if vulnerable:
        lines.append(f"strcat({buf}, {src});")
    elif fn.chance(0.55):
        lines.append(f"strncat({buf}, {src}, sizeof({buf}) - strlen({buf}) - 1);")
    else:
        lines += fn.if_fail(f"strlen({buf}) + strlen({src}) >= sizeof({buf})")
        lines.append(f"strcat({buf}, {src});")
    return lines + fn.consume(buf)


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


def _decoy_strcpy_literal(fn: _Fn) -> list[str]:
    """``strcpy`` of a short literal into a buffer far larger than it: harmless."""
    buf, size = fn.char_buf()
    literal = fn.pick([w for w in _LITERALS if len(w) < size])
    lines = [f'strcpy({buf}, "{literal}");']
    if fn.chance(0.3):
        lines += [f"if ({fn.struct_obj()}->flags & {fn.pick(_FLAG_MACROS)})", f'    strcat({buf}, "-ro");']
    return lines + fn.consume(buf)


def _decoy_memcpy_sizeof(fn: _Fn) -> list[str]:
    """``memcpy`` whose length is ``sizeof`` the destination itself: bounded by design."""
    typ = fn.pick(("hdr", "addr", "stats", "key", "params"))
    if fn.chance(0.5):
        local, src = fn.name(("copy", "local", "saved", "snap")), fn.name(("in", "orig", "from", "cfg"))
        fn.param(f"const struct {typ} *{src}")
        fn.decl(f"struct {typ} {local};")
        return [f"memcpy(&{local}, {src}, sizeof({local}));"] + fn.consume(f"&{local}")
    obj = fn.struct_obj()
    field = fn.pick(("mac", "key", "iv", "uuid", "digest"))
    src = fn.name(("addr", "key_in", "raw", "id_bytes"))
    fn.param(f"const uint8_t *{src}")
    return [f"memcpy({obj}->{field}, {src}, sizeof({obj}->{field}));", f"{obj}->has_{field} = 1;"]


def _decoy_free_end(fn: _Fn) -> list[str]:
    """Allocate, check, use, ``free`` at the end with no later use: the correct lifecycle."""
    ptr, typ = fn.name(_ITEM_NAMES), fn.pick(_ITEM_TYPES)
    fn.decl(f"struct {typ} *{ptr};")
    lines = [f"{ptr} = malloc(sizeof(*{ptr}));"] + fn.null_check(ptr, nomem=True)
    lines += [f"{ptr}->{fn.pick(_ITEM_FIELDS)} = {fn.pick(('0', '1', '-1'))};"]
    lines += [f"{fn.pick(_HELPERS)}({ptr});", f"free({ptr});"]
    return lines


def _decoy_printf_literal(fn: _Fn) -> list[str]:
    """``printf``/``fprintf`` with a literal format; arguments may be caller data."""
    if fn.chance(0.5):
        name = fn.str_param()
        return [f'printf("{fn.pick(("user %s logged in", "loading %s", "open %s"))}\\n", {name});']
    obj = fn.struct_obj()
    field = fn.pick(_OBJ_FIELDS)
    return [
        f"if ({obj}->{field} < 0) {{",
        f'    fprintf(stderr, "bad {field}: %d\\n", {obj}->{field});',
        f"    {fn.fail()}",
        "}",
        f'printf("{field}=%d\\n", {obj}->{field});',
    ]


def _decoy_sprintf_int(fn: _Fn) -> list[str]:
    """``sprintf`` of an integer into a >= 16-byte buffer: at most 11 chars, cannot overflow."""
    buf, _ = fn.char_buf()
    arg = fn.name(("id", "port", "uid", "code", "idx"))
    fn.param(f"int {arg}")
    fmt = fn.pick(('"%d"', '"%u"', '"%08x"', '"%x"'))
    return [f"sprintf({buf}, {fmt}, {arg});"] + fn.consume(buf)


_DECOYS: dict[str, Callable[[_Fn], list[str]]] = {
    "decoy_strcpy_literal": _decoy_strcpy_literal,
    "decoy_memcpy_sizeof": _decoy_memcpy_sizeof,
    "decoy_free_end": _decoy_free_end,
    "decoy_printf_literal": _decoy_printf_literal,
    "decoy_sprintf_int": _decoy_sprintf_int,
}


# --------------------------------------------------------------------------- filler


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
