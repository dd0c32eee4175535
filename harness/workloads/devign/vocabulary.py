"""The names, types and phrases generated C functions are made of, and the function builder (_Fn) that assembles them."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

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


# the split of harness.workloads.devign.tokenizer.C_TOKEN: literals, identifiers, numbers, operators
_C_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|[A-Za-z_]\w*|\d+|->|\+\+|--|==|!=|<=|>=|&&|\|\||<<|>>|\S')


# the deciding lines must end within this many tokens (the model reads 126 after <s>)
_KEY_TOKEN_BUDGET = 96


_DECOY_SHARE = 0.3  # share of safe samples that are decoys rather than fixed counterparts


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
