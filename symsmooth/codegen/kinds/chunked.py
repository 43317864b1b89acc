"""The chunked path of a reduction: the context of ``templates/_chunked_reduction.py.j2``.

A row split into chunks (a dask array whose reduced axis has several chunks) is reduced chunk
by chunk into mergeable states (:mod:`symsmooth.runtime.dask_host`): each chunk's kernel is the
row kernel's sum pass with the positions offset by the chunk's start (``pos_ = idx + _off +
1``: a class label ``x[t]`` selects the same element wherever the chunks fall) and with no
initial values (a sum ``1 + sum exp`` adds its 1 once, when the totals are finished).  This
module gives the statements with offset positions (printed for the scalar and the SIMD code
as the kind's other line lists: :data:`symsmooth.codegen.emit.FAST_KEYS`), the shift of
each sum's group, the initial values, and the names of the totals in the order
``_sums_<name>`` returns them.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.codegen.emit import kernel_context
>>> from symsmooth.codegen.kinds.reduction import REDUCTION
>>> from symsmooth.codegen.spec import make_spec
>>> x = sp.IndexedBase("x", real=True)
>>> i, n = sp.symbols("i n", integer=True, positive=True)
>>> t = sp.Symbol("t", integer=True)
>>> lse = sp.log(1 + sp.Sum(sp.exp(x[i]), (i, 1, n))) - x[t]
>>> spec = make_spec("lse1", lse, (x,), (t,), kind="reduction", index=i, size=n)
>>> ctx = kernel_context(spec, REDUCTION)
>>> ctx["chunk_load"]
['x_e = x_row[idx]', 'pos_ = _off + idx + 1.0']
>>> [(s["index"], s["shift"], s["init"]) for s in ctx["chunk_sums"]]
[(0, None, None), (1, 'M1', '1')]
>>> ctx["chunk_unpack"]
['s0', 's1', 'M1', 'sl1']
"""

from __future__ import annotations

import sympy as sp

from symsmooth.codegen.names import state_var

OFFSET = "_off"
"""The number of row elements before the chunk (positions are ``idx + _off + 1``)."""


def offset_positions(stmts: list) -> list:
    """``stmts`` with the element index ``idx`` read as ``idx + _off`` (the position's
    assignment; loads index the chunk's own row)."""
    idx = sp.Symbol("idx")
    rule = {idx: idx + sp.Symbol(OFFSET)}
    return [s.xreplace(rule) for s in stmts]


def chunked_context(ctx: dict) -> dict:
    """The ``chunk_*`` variables from a reduction's CPU context ``ctx`` (statements not yet
    printed): offset loads and prologues, per sum its index, group shift (``None``: a sum with
    no exponent), initial value (``None`` for 0) and whether the value reads its low part,
    per group its sums and first sum, and the totals' names."""
    shift_of = {k: state_var("shift", g["index"]) for g in ctx["groups"] for k in g["sums"]}
    sums = [
        {
            "index": s["index"],
            "shift": shift_of.get(s["index"]),
            "init": None if s["init"] in ("0", "0.0") else s["init"],
            "low": s["low"],
        }
        for s in ctx["sums"]
    ]
    groups = [
        {"index": g["index"], "start": g["start"], "sums": g["sums"], "first": g["sums"][0]}
        for g in ctx["groups"]
        if g["sums"]
    ]
    return {
        "chunk_load": offset_positions(ctx["load"]),
        "chunk_prologue": offset_positions(ctx["prologue"]),
        "chunk_sums": sums,
        "chunk_groups": groups,
        "chunk_state_unpack": ", ".join(
            [v for s in sums for v in (state_var("sum", s["index"]), state_var("comp", s["index"]))]
            + [state_var("shift", g["index"]) for g in ctx["groups"]]
        ),
        "chunk_unpack": [v.strip() for v in ctx["unpack"].split(",") if v.strip()],
    }
