"""Code generation: ``KernelSpec`` -> printed ``math.*`` code -> Jinja render -> generated module.

Entry points: :func:`make_spec` / :func:`spec_from_smoothing` (build a spec),
:func:`render` / :func:`write` (text and file), :func:`load_module` (import by path).
Users call :func:`symsmooth.generate`, :func:`symsmooth.load` and :func:`symsmooth.verify`.
"""

from symsmooth.codegen.render import load_module, render, write
from symsmooth.codegen.spec import KernelSpec, make_spec, spec_from_smoothing

__all__ = ["KernelSpec", "load_module", "make_spec", "render", "spec_from_smoothing", "write"]
