"""``symsmooth verify --grid``: the parameter points it measures, and float32 at k != 1.

Before: the grid's default point took a record's fixed parameters from a dict keyed by SymPy
symbols with string names, so sau/smu/smu1 ran the sharpness sweep at alpha = 1 (outside
their domain 0 <= alpha < 1) instead of 1/4; max_pair_odd_power (k an integer by its domain)
was measured at k = 0.1, 0.37, 0.9, 7.5, where it refuses with NaN (inf ulp); and the float32
parts at k = 0.9 missed by 25 ulp (the kernel got float32(k), the Arb reference k).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from symsmooth import catalog, pipeline
from symsmooth.verification.regimes import SHARPNESS_GRID, parameter_points


def test_fixed_parameters_keyed_by_symbol_are_the_default_point():
    alpha = sp.Symbol("alpha", real=True)
    points = parameter_points("sau", "sigma", ("sigma", "alpha"), {alpha: sp.Rational(1, 4)})
    sweep = [p for p in points if p["sigma"] != 1.0]
    assert len(sweep) == len(SHARPNESS_GRID) - 1
    assert {p["alpha"] for p in sweep} == {0.25}
    assert points[0] == {"sigma": 1.0, "alpha": 0.25}


def test_an_integer_sharpness_is_swept_over_the_integer_values_only():
    record = catalog.get("max_pair_odd_power")
    points = parameter_points("max_pair_odd_power", "k", ("k",), {}, integer=True)
    assert record.param.is_integer
    assert [p["k"] for p in points] == [v for v in SHARPNESS_GRID if float(v).is_integer()]


def test_verify_grid_float32_at_a_parameter_float32_cannot_hold():
    """softplus at k = 0.9 in float32 through the verifier (Arb references at k = 0.9): within
    the 1-ulp target in every regime; the old float32 loop's k, float32(0.9), is 25 ulp off."""
    report = pipeline.verify(
        "softplus", param_values={"k": 0.9}, dtypes=(np.float32,), per_regime=8, grid=True
    )
    rows = [r for r in report.rows if r.dtype == "float32"]
    assert rows and all(r.param == "k=0.9" for r in rows)
    assert all(r.count == r.requested for r in rows)
    assert max(r.max_ulp for r in rows) <= 1.0, [(r.part, r.regime, r.max_ulp) for r in rows]
