"""``gen`` runs under the "gen" deadline (symsmooth.budget): formulas that used to take more
than 30 s stop with a clean BudgetError naming the stage, and nothing is written."""

from __future__ import annotations

import time

import pytest
import sympy as sp

from symsmooth import budget, pipeline
from symsmooth.errors import BudgetError
from symsmooth.functions import logsumexp

x = sp.Symbol("x", real=True)
SLOW = {
    "Max of 60 affine pieces": lambda: sp.Max(*[(j + 1) * x + j * j for j in range(60)]),
    "logsumexp of 150 arguments": lambda: logsumexp(*[(j + 1) * x - j for j in range(150)]),
}


@pytest.mark.parametrize("case", sorted(SLOW))
def test_slow_gen_stops_at_the_deadline(case, tmp_path):
    budget.set_deadline(2)
    try:
        start = time.monotonic()
        with pytest.raises(BudgetError) as info:
            spec = pipeline.spec_from_expression(SLOW[case](), "slow_kernel", [])
            pipeline.generate([spec], out=tmp_path, targets=("cpu",))
        elapsed = time.monotonic() - start
    finally:
        budget.set_deadline(None)
    assert info.value.stage == "gen"
    assert "SYMSMOOTH_DEADLINE" in str(info.value)
    assert elapsed < 30  # generous: the deadline is 2 s
    assert not list(tmp_path.iterdir())
