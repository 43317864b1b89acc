"""Exceptions, one class per stage.

Every message says what went wrong *and what to do next*.  The CLI turns any
:class:`SymsmoothError` into a one-paragraph message and exit status 2, with no
traceback.
"""

from __future__ import annotations


class SymsmoothError(Exception):
    """Base class of every error symsmooth raises on purpose."""

    exit_code: int = 2


class ParseError(SymsmoothError, ValueError):
    """User text could not be turned into a SymPy expression.

    Parameters
    ----------
    message : str
        What is wrong and how to fix it.
    text : str, optional
        The offending text.
    position : int, optional
        0-based character offset of the problem in ``text``.
    """

    def __init__(self, message: str, text: str | None = None, position: int | None = None):
        self.text = text
        self.position = position
        if text is not None and position is not None:
            shown = text if len(text) <= 80 else text[:77] + "..."
            caret = " " * min(position, 80) + "^"
            message = f"{message} (at position {position})\n  {shown}\n  {caret}"
        super().__init__(message)


class InvalidNameError(SymsmoothError, ValueError):
    """A user-given name (symbol, parameter, kernel, catalog entry) is not allowed
    (:mod:`symsmooth.identifiers` says which names are)."""


class BudgetError(SymsmoothError):
    """A symbolic stage ran past its deadline or size budget, or SymPy gave up on it
    (recursion depth, not implemented, decimal overflow); :mod:`symsmooth.budget`.

    Parameters
    ----------
    stage : str
        The stage that stopped (``"parse"``, ``"convolve"``, ``"stabilize"``, ``"gen"``, ...).
    message : str
        What happened and what to try.
    """

    def __init__(self, stage: str, message: str):
        self.stage = stage
        super().__init__(f"{stage}: {message}")


class CatalogError(SymsmoothError, KeyError):
    """A name is not in the catalog (or a registration is malformed)."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want plain text
        return str(self.args[0]) if self.args else ""


class KernelError(SymsmoothError, KeyError):
    """An approximate-identity kernel is unknown or malformed."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConvolutionError(SymsmoothError):
    """A convolution cannot be formed (unsupported target, no closed form)."""


class DivergenceError(ConvolutionError):
    """The convolution integral diverges: the kernel lacks a needed moment."""


class DerivationError(SymsmoothError):
    """A gradient, Hessian, Newton or EM/MM derivation failed or a step did not check."""


class StabilizeError(SymsmoothError):
    """A rewrite rule or rule set is unknown or produced a non-equivalent form."""


class CodegenError(SymsmoothError):
    """A kernel could not be printed, rendered or loaded."""


class VerificationError(SymsmoothError):
    """A claim (limit, bound) or a kernel's accuracy check failed."""
