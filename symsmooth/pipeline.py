"""The only module that wires the stages together.

``cli -> pipeline -> {catalog, convolution, derive, stabilization, codegen, verification} ->
{functions, records, errors}``.  Each section below belongs to one stage; public entry
points are re-exported by :mod:`symsmooth` (``ss.convolve``, ``ss.generate``, ...).
"""

from __future__ import annotations

# --- catalog -------------------------------------------------------------------------------
# --- convolution ---------------------------------------------------------------------------
from symsmooth.convolution import compare_routes, convolve  # noqa: E402,F401

# --- derivation ----------------------------------------------------------------------------
from symsmooth.derive.calculus import gradient_derivation, hessian_derivation  # noqa: E402,F401
from symsmooth.derive.gradients import gradient, hessian  # noqa: E402,F401
from symsmooth.derive.mm import (  # noqa: E402,F401
    LogSumObjective,
    majorize,  # noqa: E402,F401
    smoothed_min_objective,
)
from symsmooth.derive.mm import em_step as _mm_step  # noqa: E402,F401
from symsmooth.derive.newton import gradient_descent_step, newton_step  # noqa: E402,F401


def em_step(objective):
    """EM/MM derivation: a :class:`LogSumObjective`, or a worked example's name
    (``"kmeans"``, ``"plsa"``, ``"capsule"``, ``"imle"``).

    Examples
    --------
    >>> em_step("kmeans").update.lhs
    c_{n+1}[a, b]
    """
    if isinstance(objective, str):
        from symsmooth.derive.examples import em_example

        return em_example(objective)
    return _mm_step(objective)


mm_step = em_step
"""Alias: the update is an MM step (EM is the likelihood case)."""


# --- stabilization -------------------------------------------------------------------------
from symsmooth.stabilization import Stabilized, stabilize  # noqa: E402,F401,I001 (ss.stabilize)

# --- code generation and verification ------------------------------------------------------
from symsmooth.budget import deadline  # noqa: E402


def _stabilizer(expr):
    """Adapter: :func:`stabilize` (with the exact-arguments stage) as
    ``expr -> (stable_expr, applied_rule_names)``."""
    record = stabilize(expr, exact_arguments=True)
    return record.expr, tuple(record.applied)


def search_refiner(forms, inputs, params):
    """The measuring search (:func:`symsmooth.stabilization.search.search`) as a
    ``refine`` stage of :func:`symsmooth.codegen.spec.make_spec`: candidates from the rules'
    stable form, measured in float64 against certified references
    (:mod:`symsmooth.verification.search_measure`); the chosen form gets exact arguments.
    Returns ``(expr, notes)``; the input unchanged (and no notes) when nothing measured better.
    """
    from symsmooth.errors import StabilizeError
    from symsmooth.stabilization.exact_args import exact_arguments, plain_arguments
    from symsmooth.stabilization.search import search
    from symsmooth.verification.search_measure import bits_measure, sample_points

    expr = forms[0]
    plain = [plain_arguments(f) for f in forms]
    present = set().union(*(f.free_symbols for f in plain))
    used = tuple(v for v in inputs if v in present)
    if not used:  # constant in the inputs (the gradient of x + 1): nothing to search
        return expr, ()
    points = sample_points(used, tuple(p for p in params if p in present))
    try:
        found = search(
            plain,
            tuple(v for v in inputs if v in present),
            points,
            bits_measure(plain[-1], _exact_evaluate),
            lambda e: stabilize(e).expr,
        )
    except (StabilizeError, TypeError) as exc:  # a node without float64 or ball evaluation
        return expr, (f"search skipped: {exc}",)
    if not found.notes:
        return expr, ()
    exact, _ = exact_arguments(found.expr)
    return exact, found.notes


def _exact_evaluate(expr, symbols, values):
    """float64 value of ``expr`` as its kernel computes it: with exact arguments (``k x``
    reaches the helpers as a double-double, :mod:`symsmooth.stabilization.exact_args`)."""
    from symsmooth.stabilization.exact_args import exact_arguments
    from symsmooth.stabilization.float_eval import evaluate

    return evaluate(exact_arguments(expr)[0], symbols, values)


def _in_catalog(item) -> bool:
    from symsmooth import catalog

    return getattr(item, "name", None) in catalog.names() and catalog.get(item.name) == item


def kernel_spec(item, stabilizer=None, search=None):
    """The :class:`~symsmooth.codegen.spec.KernelSpec` of a catalog name, a ``Smoothing`` or a
    spec (returned as is).  ``stabilizer`` defaults to :func:`stabilize` (rule set "default").

    ``search``: run the measuring search (:func:`search_refiner`) after the rules on an
    elementwise kernel.  By default it runs for a record that is not a catalog entry (a
    user's derivation: the rules are tuned to the catalog's shapes) and not for catalog
    entries (their forms are the rules' own; ``symsmooth build`` stays fast).

    A ``Smoothing`` with an ``iteration`` (:class:`~symsmooth.records.Iteration`) gets the
    :class:`~symsmooth.codegen.iteration.IterationSpec` of that algorithm; any other its
    closed form's spec."""
    from symsmooth.codegen.iteration import IterationSpec
    from symsmooth.codegen.spec import KernelSpec, spec_from_smoothing
    from symsmooth.records import Smoothing

    if isinstance(item, (KernelSpec, IterationSpec)):
        return item
    if isinstance(item, str):
        from symsmooth import catalog

        item = catalog.get(item)
    if isinstance(item, Smoothing):
        if item.iteration is not None:  # an algorithm: a fixed-count row-map iteration
            from symsmooth.codegen.iteration import iteration_spec

            return iteration_spec(item, stabilizer or _stabilizer)
        if search is None:
            search = item.kind == "elementwise" and not _in_catalog(item)
        refine = search_refiner if search else None
        return spec_from_smoothing(item, stabilizer or _stabilizer, refine=refine)
    from symsmooth.errors import CodegenError

    raise CodegenError(
        f"cannot generate a kernel from {type(item).__name__}; pass a catalog name, a "
        "Smoothing record or a KernelSpec (symsmooth.codegen.make_spec)"
    )


def generate(items, out="generated", targets=("cpu", "cuda"), search=None) -> list:
    """Generate ``out/<name>.py`` for each item (catalog names, Smoothing records, KernelSpecs).

    Returns the written paths, in the order of ``items``.  ``targets``: ``"cpu"`` (always, when
    the module is written) and ``"cuda"`` (``<name>_cuda`` launchers, compiled lazily; see
    docs/cuda.md) go into ``<name>.py``; the native ``"torch"`` and ``"jax"`` write
    ``<name>_torch.py`` / ``<name>_jax.py`` (elementwise kernels; see docs/targets.md).
    ``search``: see :func:`kernel_spec` (default: on for a user's derivation, off for catalog
    entries).
    """
    from symsmooth.codegen.native import write_native
    from symsmooth.codegen.render import write
    from symsmooth.codegen.targets import check_targets, split_targets

    module, native = split_targets(targets)
    if module or not native:
        module = check_targets(module)
    if isinstance(items, (str,)) or not hasattr(items, "__iter__"):
        items = [items]
    paths = []
    for item in items:
        with deadline("gen"):  # building the spec and rendering it: symbolic work
            spec = kernel_spec(item, search=search)
            if module:
                paths.append(write(spec, out, module))
            paths += [write_native(spec, out, target) for target in native]
    return paths


def load_native(name: str, target: str, out="generated"):
    """The native ``target`` module ``out/<name>_<target>.py`` (``torch`` or ``jax``)."""
    from symsmooth.codegen.native import load_native as _load

    return _load(name, target, out)


def load(name: str, out="generated"):
    """The generated module ``out/<name>.py``, imported by file path.

    ``name`` is a kernel name, never a path (``out`` says where); an empty or foreign file is
    refused with a message to regenerate it (:func:`symsmooth.codegen.render.load_module`).
    """
    from symsmooth.codegen.render import load_module

    return load_module(name, out)


def verify(name, out="generated", regenerate: bool = False, target: str = "cpu", **options):
    """Accuracy :class:`~symsmooth.verification.report.Report` of the generated kernel ``name``.

    ``target="torch"`` or ``"jax"`` measures the native module ``<name>_<target>.py`` instead
    (generated into ``out`` when missing or when ``regenerate``), through
    :func:`symsmooth.verification.native_targets.numpy_facade`: the same grid, references and
    targets as the Numba kernels; the report is named ``<name>_<target>`` (the table of known
    misses lists the Numba kernels' own, so every miss of a native module counts).

    ``name`` may also be a Smoothing or KernelSpec.  The module is (re)generated into ``out``
    when missing or when ``regenerate``; ``options`` go to
    :func:`symsmooth.verification.kernels.measure` (``per_regime``, ``long_n``, ``dtypes``,
    ...).  Parameter values: the ``fixed`` values of the record, and 1 for the sharpness/width
    parameter, unless ``param_values`` (``{name: value}``) says otherwise; a name the kernel
    has no parameter for is a ``MeasureOptionError``.  ``grid=True`` measures over
    :func:`symsmooth.verification.regimes.parameter_points`: the sharpness/width over
    ``SHARPNESS_GRID`` and every registered domain edge (or the ``param_values`` point alone).
    """
    from pathlib import Path

    from symsmooth.codegen.render import load_module, write
    from symsmooth.records import Smoothing
    from symsmooth.verification.kernels import measure

    record = name
    if isinstance(name, str):
        from symsmooth import catalog

        record = catalog.get(name)
    with deadline("gen"):  # the spec and the module text: symbolic work (not the measuring)
        spec = kernel_spec(record)
        if target != "cpu":
            from symsmooth.codegen.native import write_native

            if regenerate or not (Path(out) / f"{spec.name}_{target}.py").is_file():
                write_native(spec, out, target)
        elif regenerate or not (Path(out) / f"{spec.name}.py").is_file():
            write(spec, out)
    if target != "cpu":
        from symsmooth.verification.native_targets import numpy_facade

        module = numpy_facade(load_native(spec.name, target, out), target)
    else:
        module = load_module(spec.name, out)
    values = dict(record.fixed) if isinstance(record, Smoothing) else {}
    chosen = options.pop("param_values", None) or {}
    unknown = sorted(set(map(str, chosen)) - set(spec.param_names))
    if unknown:
        from symsmooth.verification.kernels import MeasureOptionError

        have = ", ".join(spec.param_names) or "none"
        raise MeasureOptionError(
            f"{spec.name} has no parameter {', '.join(unknown)} (its parameters: {have})"
        )
    values = {**values, **chosen}
    if options.pop("grid", False):
        from symsmooth.verification.regimes import parameter_points

        sharpness = str(record.param) if isinstance(record, Smoothing) else None
        integer = isinstance(record, Smoothing) and bool(record.param.is_integer)
        options["param_points"] = parameter_points(
            spec.name, sharpness, tuple(spec.param_names), values, chosen or None, integer
        )
    report = measure(spec, module, param_values=values, **options)
    if target != "cpu":  # its own name: the known misses of the Numba kernels are not its own
        from dataclasses import replace

        from symsmooth.codegen.names import native_module

        name = native_module(spec.name, target)
        rows = tuple(replace(row, function=name) for row in report.rows)
        report = replace(report, name=name, rows=rows)
    return report


def spec_from_expression(expr, name: str, params=(), command: str | None = None):
    """The kernel spec of a user's expression (text already parsed, e.g. by :func:`parse`).

    Elementwise when ``expr`` has no indexed vector: inputs are the free symbols that are not
    ``params``, in name order.  A reduction otherwise: inputs are its vectors, and the index and
    size come from its (outermost) ``Sum``.
    """
    import sympy as sp

    from symsmooth.codegen.spec import make_spec
    from symsmooth.errors import CodegenError
    from symsmooth.identifiers import check_distinct, check_name

    check_name(name, "kernel")
    params = check_distinct([check_name(p, "parameter") for p in params], "parameter")
    by_name = {str(s): s for s in expr.free_symbols}
    chosen = []
    for p in params:
        if str(p) not in by_name:
            raise CodegenError(f"parameter {p!r} does not occur in {expr}; check --param")
        chosen.append(by_name[str(p)])
    sums = sorted(expr.atoms(sp.Sum), key=sp.default_sort_key)
    with deadline("gen"):
        if not sums:
            inputs = sorted((s for s in expr.free_symbols if s not in chosen), key=str)
            return make_spec(
                name,
                expr,
                tuple(inputs),
                tuple(chosen),
                stabilizer=_stabilizer,
                command=command,
                refine=search_refiner,  # a user's formula: the rules may not know its shape
            )
        index, _, size = sums[0].limits[0]
        vectors = sorted({a.base for a in expr.atoms(sp.Indexed)}, key=str)
        return make_spec(
            name,
            expr,
            tuple(vectors),
            tuple(c for c in chosen if c != size),
            kind="reduction",
            index=index,
            size=size,
            stabilizer=_stabilizer,
            command=command,
        )


# --- wiring for the command line -------------------------------------------------------------
# ``symsmooth.cli`` reaches the stages only through the functions below (issue #11: cli ->
# pipeline -> stages).  Each imports its stage when called, so ``symsmooth --help`` stays fast.
from symsmooth.convolution import kernels as convolution_kernels  # noqa: E402,F401
from symsmooth.text.formula import parse  # noqa: E402,F401


def catalog_names() -> list[str]:
    """Every catalog entry's name (built-in and user-saved)."""
    from symsmooth import catalog

    return catalog.names()


def catalog_entry(name: str):
    """The :class:`~symsmooth.records.Smoothing` of a catalog entry (CatalogError otherwise)."""
    from symsmooth import catalog

    return catalog.get(name)


def catalog_entries() -> list:
    """Every catalog entry's record, in catalog order."""
    from symsmooth import catalog

    return catalog.all_entries()


def catalog_builder(name: str):
    """The builder function of a catalog entry (its docstring documents the entry)."""
    from symsmooth import catalog

    return catalog.builder(name)


def user_catalog():
    """The user catalog module (``entry_name_problem``, ``InvalidEntryName``, ``save``)."""
    from symsmooth.catalog import user_catalog as module

    return module


def check_claims(record, count: int) -> tuple:
    """``(limit_check, bound_check)`` of a record's limit and bound claims."""
    from symsmooth.verification import claims

    return claims.check_limit(record), claims.check_bound(record, count=count)


def check_measure_options(**options) -> None:
    """Refuse a bad kernel-measurement option before any work (MeasureOptionError)."""
    from symsmooth.verification.kernels import check_options

    check_options(**options)


def classify_misses(reports, allowed: bool = True):
    """The missed rows of ``reports`` split into documented and unexpected ones
    (:func:`symsmooth.verification.known_misses.classify`); with ``allowed=False`` no miss is
    documented (every miss is unexpected)."""
    from symsmooth.verification.known_misses import KNOWN_MISSES, classify

    return classify(reports, KNOWN_MISSES if allowed else ())


def explain_miss(row) -> str:
    """The documented reason for a missed row, or ``""``."""
    from symsmooth.verification.known_misses import explain

    return explain(row)


def write_derivation_pages(out) -> list:
    """Regenerate the derivation pages into ``out``; the paths written."""
    from symsmooth.derive.docs import write_pages

    return list(write_pages(out))


def plot(record, output, wanted) -> None:
    """Plot a record to ``output`` (needs matplotlib)."""
    from symsmooth.plotting import plot as plot_record

    plot_record(record, output, wanted)


def __getattr__(name: str):
    """``pipeline.MeasureOptionError``, imported on first use (verification loads Numba)."""
    if name == "MeasureOptionError":
        from symsmooth.verification.kernels import MeasureOptionError

        return MeasureOptionError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
