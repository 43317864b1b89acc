"""The documented misses: kernel parts known to miss their ulp target, and why.

``symsmooth build`` and ``symsmooth verify`` exit 1 on any miss.  With ``--allow-misses`` they
exit 1 only on a miss this table does not list, so a build can pass while a known defect is
being fixed, without hiding a new one.  Every row names the issue that tracks it; a listed
miss that no longer misses is reported as *fixed* (remove its row).

A miss is matched by kernel, part (``value`` or ``grad_<input>``) and dtype: one row covers
every regime of that part, since the regime of the worst point moves as kernels change.

Examples
--------
>>> from symsmooth.verification.report import Report, ReportRow
>>> row = ReportRow("swish", "grad_x", "float64", "overflow_edge", 48, 320.0, 0.3, 2.0)
>>> split = classify([Report("swish", "elementwise", (row,))])
>>> [r.function for r in split.known], split.unexpected
(['swish'], ())
>>> bad = ReportRow("softplus", "value", "float64", "moderate", 48, 9.0, 0.3, 1.0)
>>> classify([Report("softplus", "elementwise", (bad,))]).unexpected[0].part
'value'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class KnownMiss:
    """One documented miss: ``kernel``'s ``part`` at ``dtype`` misses its target.

    ``reason`` says where and why (the worst input the verifier found, the mechanism), and
    ``issue`` the tracker entry that will fix it."""

    kernel: str
    part: str
    dtype: str
    reason: str
    issue: str = "#12"

    def matches(self, row) -> bool:
        return (row.function, row.part, row.dtype) == (self.kernel, self.part, self.dtype)


KNOWN_MISSES: tuple[KnownMiss, ...] = (
    KnownMiss(
        "cross_entropy_lse",
        "value",
        "float64",
        "verifier: the Arb reference certifies none of the rows with -inf entries (0/4 compared), "
        "so the part is not measured there",
    ),
    KnownMiss(
        "cross_entropy_lse",
        "value",
        "float32",
        "verifier: the Arb reference certifies none of the rows with -inf entries (0/4 compared), "
        "so the part is not measured there",
    ),
    KnownMiss(
        "soft_f1",
        "grad_z",
        "float64",
        "ill-conditioned gradient at ties (kappa up to 8300): 4.53 ulp on a row with -inf "
        "(the compensated gradient took tiny scores from 382 to 2.7); the bound in terms of "
        "kappa is not yet stated",
    ),
    KnownMiss(
        "soft_f1",
        "grad_t",
        "float64",
        "ill-conditioned where p_l is near the labels' weighted mean of p: the kernel is exact "
        "for its rounded sigmoids, whose 1 ulp times kappa is left (11.8 ulp on all-1 labels, "
        "10 on long rows, 79 at an entry of a -inf row; rows of length 1: 0.72, were 5.6e15)",
    ),
    KnownMiss(
        "soft_f1",
        "grad_k",
        "float64",
        "the temperature derivative 2 (T_1 s_0 - s_1 T_0)/s_0^2 (T_k = sum z dsigmoid(k z) [t]) is "
        "formed in double-double, but each term z dsigmoid(k z) is rounded first: their 1 ulp "
        "times the numerator's cancellation is left (11.7 ulp on moderate rows, 5.5 on tiny "
        "ones, 18.6 on wide rows at k = 3; float32 0.50), as grad_t",
        "#14",
    ),
    KnownMiss(
        "soft_k_max",
        "value",
        "float64",
        "the shift y = x - min x is rounded (ties on rows of mixed magnitudes; 882 ulp on wide "
        "rows)",
    ),
    KnownMiss(
        "soft_k_max",
        "grad_x",
        "float64",
        "as its value: the rounded shift (3.4e185 ulp on wide rows)",
    ),
    KnownMiss("soft_k_max", "grad_x", "float32", "as float64: the rounded shift on wide rows"),
    KnownMiss(
        "soft_k_max",
        "grad_k",
        "float64",
        "the cotangent reaches each step through the plain step VJP and sum_j G_j dp_j/dk "
        "cancels: 27 ulp on moderate rows (within 16 eps of sum_j |G_j dp_j/dk|: "
        "tests/test_iteration_param_grads.py); the rounded shift on wide rows (4.6e16 ulp)",
    ),
    KnownMiss(
        "zlpr",
        "value",
        "float64",
        "verifier: the Arb reference certifies none of the rows with -inf entries (0/4 compared), "
        "so the part is not measured there",
    ),
    KnownMiss(
        "zlpr",
        "value",
        "float32",
        "verifier: the Arb reference certifies none of the rows with -inf entries (0/4 compared), "
        "so the part is not measured there",
    ),
    KnownMiss(
        "zlpr",
        "grad_s",
        "float64",
        "ill-conditioned at ties (kappa up to 8300; 234 ulp on long rows): the bound in terms of "
        "kappa is not yet stated",
    ),
    KnownMiss(
        "zlpr",
        "grad_t",
        "float64",
        "the label gradient subtracts two log-sums (236 ulp on tiny scores)",
    ),
    KnownMiss(
        "zlpr_soft",
        "value",
        "float64",
        "verifier: the Arb reference certifies none of the rows with -inf entries (0/4 compared), "
        "so the part is not measured there",
    ),
    KnownMiss(
        "zlpr_soft",
        "value",
        "float32",
        "verifier: the Arb reference certifies none of the rows with -inf entries (0/4 compared), "
        "so the part is not measured there",
    ),
    KnownMiss("zlpr_soft", "grad_s", "float64", "as zlpr: ill-conditioned at ties"),
    KnownMiss("zlpr_soft", "grad_t", "float64", "as zlpr: the label gradient"),
    KnownMiss(
        "max_pair_double_exp",
        "value",
        "float64",
        "log of a number near 1 where max(x, y) <= 0 (33.9 ulp; outside the record's domain)",
    ),
    KnownMiss(
        "max_pair_double_exp",
        "grad_x",
        "float64",
        "the exact gradient is ill-conditioned (kappa ~ v e^v): 431 ulp",
    ),
    KnownMiss("max_pair_double_exp", "grad_y", "float64", "as grad_x (kappa ~ v e^v)"),
    KnownMiss(
        "smu",
        "grad_x",
        "float64",
        "2.1 ulp > 2: the argument sqrt(2) x / mu is rounded before erf (item 1 of #12)",
    ),
    KnownMiss(
        "swish",
        "grad_x",
        "float64",
        "subnormal results near x = -743: dswish's e (1 + z + e)/(1 + e)^2 with a subnormal e "
        "rounds in subnormal ulps (320 ulp; the value's helper scales by 2**-64, the gradient's "
        "does not yet)",
    ),
    KnownMiss(
        "swish",
        "grad_k",
        "float64",
        "as grad_x: x*(x*dsigmoid(k x)) with a subnormal dsigmoid near k x = -743 (2.4e5 ulp: "
        "the factor x**2 ~ 5.5e5 multiplies its subnormal rounding)",
    ),
    KnownMiss(
        "soft_heaviside",
        "grad_k",
        "float64",
        "as swish: x*dsigmoid(k x) with a subnormal dsigmoid near k x = -743 (321 ulp)",
    ),
    KnownMiss(
        "soft_sign_tanh",
        "grad_k",
        "float64",
        "as swish: 4 x dsigmoid(2 k x) with a subnormal dsigmoid near k x = -367 (330 ulp)",
    ),
    KnownMiss(
        "abs_xtanh",
        "grad_k",
        "float64",
        "as swish: 4 x**2 dsigmoid(2 k x) with a subnormal dsigmoid near k x = -367 (1.2e5 ulp)",
    ),
    KnownMiss(
        "smu",
        "grad_mu",
        "float64",
        "as grad_x: the argument sqrt(2) mu x (1 - alpha) is rounded before phi (item 1 of #12), "
        "exposed here where phi stands alone (1.1e3 ulp at x = -10, alpha = 0.25)",
    ),
    KnownMiss("smu", "grad_alpha", "float64", "as grad_mu: the rounded argument of phi and Phi"),
    KnownMiss(
        "smu1",
        "grad_alpha",
        "float64",
        "2.13 ulp > 2: hypot_gap_times rounds five times (hypot, h + w, two quotients, the "
        "product) after the rounded w = x (1 - alpha); no cancellation left",
    ),
    KnownMiss(
        "max_pair_double_exp",
        "grad_k",
        "float64",
        "as grad_x: the gap's sigmoid(e^u - e^v) takes e^v - e^u rounded (kappa ~ v e^v; 314 "
        "ulp at antiparallel x = -5.01, y = 5.01)",
    ),
)
"""The documented misses (docs/codegen.md, "Known misses"); issue #12 tracks each."""


@dataclass(frozen=True)
class MissSplit:
    """The missed rows of some reports, split into ``known`` (listed in the table) and
    ``unexpected``; ``fixed`` the table rows of verified kernels that no longer miss."""

    known: tuple
    unexpected: tuple
    fixed: tuple


def classify(reports: Iterable, table: tuple[KnownMiss, ...] = KNOWN_MISSES) -> MissSplit:
    """Split the missed rows of ``reports`` by the table; find the table's fixed rows.

    A row missing a target, or comparing fewer points than requested, is a miss.  A table
    row is *fixed* when its kernel was verified and none of its rows misses.
    """
    reports = list(reports)
    known, unexpected = [], []
    for report in reports:
        for row in report.failures():
            (known if any(m.matches(row) for m in table) else unexpected).append(row)
    verified = {r.name for r in reports}
    missed = {(r.function, r.part, r.dtype) for r in known}
    fixed = tuple(
        m for m in table if m.kernel in verified and (m.kernel, m.part, m.dtype) not in missed
    )
    return MissSplit(tuple(known), tuple(unexpected), fixed)


def explain(row, table: tuple[KnownMiss, ...] = KNOWN_MISSES) -> str:
    """The table's reason for a missed row, or ``""`` when it is not listed."""
    return next((f"{m.issue}: {m.reason}" for m in table if m.matches(row)), "")
