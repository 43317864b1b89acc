"""docs/native_models.md: a surrogate derived by convolution, trained inside a compiled
PyTorch model and a jitted JAX model through its native modules.

The page's script runs as written (in a temporary folder), with ``torch.compile``'s backend
set to ``aot_eager`` (inductor's C++ build takes ~45 s on a 2-core machine; ``fullgraph=True``
still refuses any graph break).  The fits are checked against the data's own generating
parameters (slope 2, offset -0.5), and the two frameworks against each other.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("jax")

ROOT = Path(__file__).resolve().parents[1]


def test_the_docs_model_trains_under_compile_and_jit(tmp_path):
    text = (ROOT / "docs" / "native_models.md").read_text(encoding="utf-8")
    (script,) = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert "torch.compile(loss_fn, fullgraph=True)" in script and "jax.jit(" in script
    script = script.replace("fullgraph=True)", 'fullgraph=True, backend="aot_eager")')
    out = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r})\n" + script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "mykernels" / "soft_clip_torch.py").is_file()
    fits = {}
    for line in out.stdout.splitlines():
        if line.startswith(("torch:", "jax:")):
            name, rest = line.split(":", 1)
            fits[name] = {k: float(v) for k, v in re.findall(r"(\w+)=([-+.\deE]+)", rest)}
    assert set(fits) == {"torch", "jax"}
    for fit in fits.values():
        assert fit["loss"] < 1e-3
        assert abs(fit["w"] - 2.0) < 0.2 and abs(fit["b"] + 0.5) < 0.1
        assert fit["t"] > 5  # the sharpness was learned up from 1
    for key in ("w", "b", "t"):
        assert fits["torch"][key] == pytest.approx(fits["jax"][key], rel=1e-3)
