"""What the framework bridges (``symsmooth.torch``, and others) share, with no framework.

:mod:`symsmooth.bridges.calls` reads a generated module's ``__symsmooth__`` record into an
:class:`~symsmooth.bridges.calls.Interface`: the call signature, the shape rules of its output
kind, which kernel function gives which derivative, and how a broadcast gradient is summed
back to an operand's shape.  It imports neither NumPy nor any framework.
:mod:`symsmooth.bridges.layout` checks the layout keywords (``axis``, ``keepdims``, ``where``)
and gives the shapes of the operands moved along an axis (NumPy, no framework).
:mod:`symsmooth.bridges.torch_devices` holds the PyTorch bridge's executors (CPU and CUDA).
"""
