"""The C code patterns the corpus draws from: each vulnerability next to its fixed counterpart, decoys that look unsafe and are not, and neutral filler statements."""

from __future__ import annotations

from harness.workloads.devign.vocabulary import (
    _BUF_NAMES,
    _COUNT_NAMES,
    _FLAG_MACROS,
    _HELPERS,
    _ITEM_FIELDS,
    _ITEM_NAMES,
    _ITEM_TYPES,
    _LEN_NAMES,
    _LITERALS,
    _LOG_FNS,
    _MSG_NAMES,
    _OBJ_FIELDS,
    _Fn,
)


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
