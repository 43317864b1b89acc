"""A reduction's parameter derivatives on a row split into chunks (dask input whose reduced
axis has several chunks): the three chunk kernels of each ``_pgrad_<name>_<p>``.

The row function of :mod:`symsmooth.codegen.kinds.paramgrad` makes three passes over the row:
the pivot, the sums ``s_k``/``T_k`` (and a row map's ``U_m``) at the pivot, the finish.  On a
chunked row (:mod:`symsmooth.runtime.dask_host`) they become:

1. ``_ppivot_<name>_<p>``: per chunk, the record ``(bad, then per group: its largest exponent
   B, the position in the whole row of its first element there I (-1: none), the elements
   the formulas read there)``; the row's record is, per group, the first chunk's of largest
   ``B`` (:func:`symsmooth.runtime.dask_states._best_pivots`), ``bad`` if any chunk's is;
2. ``_psums_<name>_<p>``: per chunk, the sums at the row's pivot, as the row pass forms them
   (every weight and term in double-double, positions offset by the chunk's start, the initial
   values added by the first chunk only), as states ``(0, hi, lo)``: they merge as
   double-double sums (:func:`symsmooth.runtime.dask_states._merge_states`);
3. ``_pfinish_<name>_<p>``: per row, the derivative from the pivot record and the merged sums,
   as the row function finishes it (NaN for a row with a NaN or ``+inf`` exponent).

The pivot is the in-memory one (the first element of largest exponent), so every weight and
term is the in-memory kernel's; only the order of the additions differs (each chunk's sum,
then the merge), within the double-double sums' error.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.codegen.emit import kernel_context
>>> from symsmooth.codegen.kinds.reduction import REDUCTION
>>> from symsmooth.codegen.spec import make_spec
>>> x = sp.IndexedBase("x", real=True); k = sp.Symbol("k", positive=True)
>>> i, n = sp.symbols("i n", integer=True, positive=True)
>>> spec = make_spec("lse", sp.log(sp.Sum(sp.exp(k * x[i]), (i, 1, n))) / k, (x,), (k,),
...                  kind="reduction", index=i, size=n)
>>> chunk = kernel_context(spec, REDUCTION)["param_grads"][0]["chunk"]
>>> chunk["groups"], chunk["states"], chunk["finish"][-1]
(((1, 3),), 2, 'return _num / _den')
"""

from __future__ import annotations

from symsmooth.codegen.kinds.chunked import OFFSET
from symsmooth.codegen.names import SIZE, state_var
from symsmooth.codegen.paramgrad import sums_read

RECORD = "_rec"
"""The pivot record a chunk writes (``_ppivot``)."""
PIVOT = "_piv"
"""The row's pivot record (``_psums``, ``_pfinish``)."""
STATES = "_st"
"""The sums' states ``(0, hi, lo)`` (``_psums`` writes a chunk's, ``_pfinish`` reads the
merged ones)."""


def _columns(writer, reads: set) -> tuple[list, tuple]:
    """Per group ``(g, column of B, column of I, [(symbol, load, column)])`` and the groups'
    ``(first column, width)`` in the record (column 0 is ``bad``)."""
    pg, plan = writer.pg, writer.plan
    vectors = writer._vectors()
    out, spans, col = [], [], 1
    for g in pg.groups:
        loads = []
        for el, p in pg.pivots[g].items():
            if str(p) not in reads:
                continue
            if el == plan.position:
                load = f"{OFFSET} + _I{g} + 1.0"
            else:
                load = writer.printer.load(vectors[plan.elements.index(el)], f"_I{g}")
            loads.append((str(p), load, col + 2 + len(loads)))
        out.append((g, col, col + 1, loads))
        spans.append((col, 2 + len(loads)))
        col += 2 + len(loads)
    return out, tuple(spans)


def _record(columns) -> list[str]:
    """Pass 1's result written to the chunk's record."""
    lines = [f"{RECORD}[0] = 1.0 if _bad else 0.0"]
    for g, cb, ci, loads in columns:
        lines += [
            f"{RECORD}[{cb}] = _B{g}",
            f"{RECORD}[{ci}] = {OFFSET} + _I{g} if _I{g} >= 0 else -1.0",
        ]
        lines += [f"{RECORD}[{c}] = {load} if _I{g} >= 0 else 0.0" for _, load, c in loads]
    return lines


def _loads(writer, columns, bad: str) -> list[str]:
    """The row's pivot read from its record, ``bad`` where the row has no derivative."""
    pg = writer.pg
    tests = [f"{PIVOT}[0] != 0.0"] + [f"not ({PIVOT}[{cb}] < math.inf)" for _, cb, _, _ in columns]
    tests += [f"{PIVOT}[{ci}] < 0.0" for g, _, ci, _ in columns if g not in pg.flags]
    lines = [f"if {' or '.join(tests)}:", f"    {bad}"] if columns else []
    for g, _, ci, loads in columns:
        if g in pg.flags:
            lines.append(f"{pg.flags[g]} = 1.0 if {PIVOT}[{ci}] >= 0.0 else 0.0")
        lines += [f"{p} = {PIVOT}[{c}]" for p, _, c in loads]
    return lines


def chunk_parts(writer, num, den, reads: set) -> dict:
    """The bodies of the three chunk kernels of a parameter derivative (module docstring):
    ``pivot``, ``sums``, ``finish``; the record's group ``(first column, width)`` spans, its
    ``width``, the number of ``states`` and whether the formulas read ``n``.  ``writer``: the
    derivative's row-function writer in chunk mode (its element pass with offset positions),
    ``num``/``den``: the derivative's fraction (before a row map's contraction), ``reads``:
    the names its formulas read."""
    spec, pg = writer.spec, writer.pg
    length = writer.body[0]
    columns, spans = _columns(writer, reads)
    if pg.groups:
        writer.pivot_loop()
        writer.body += _record(columns)
    else:
        writer.body = [f"{RECORD}[0] = 0.0"]
    pivot = writer.body

    writer.body = [length, *_loads(writer, columns, "return")]
    scaled, tangent = sums_read([num, den], spec.pieces)
    writer.sums(scaled, tangent)
    total = writer.contract(num) if spec.plan.rowmap else num
    pairs = [(state_var("sum", k), state_var("low", k)) for k in sorted(scaled)]
    pairs += [(f"_T{k}", f"_Tl{k}") for k in sorted(tangent)]
    if spec.plan.rowmap:
        pairs += [(f"_U{m}", f"_Ul{m}") for m in range(writer.contracted)]
    for j, (hi, lo) in enumerate(pairs):
        writer.body += [f"{STATES}[{j}, 1] = {hi}", f"{STATES}[{j}, 2] = {lo}"]
    sums = writer.body

    writer.body = _loads(writer, columns, "return math.nan")
    for j, (hi, lo) in enumerate(pairs):
        writer.body += [f"{hi} = {STATES}[{j}, 1]", f"{lo} = {STATES}[{j}, 2]"]
    writer.finish(total, den)
    return {
        "pivot": pivot,
        "sums": sums,
        "finish": writer.body,
        "groups": spans,
        "width": 1 + sum(w for _, w in spans),
        "states": len(pairs),
        "uses_size": SIZE in reads,
    }
