"""Formulas and stored records, read without ``eval``: one whitelist, two readers.

* :mod:`symsmooth.text.vocabulary`: the one whitelist of SymPy classes data may name, and the
  bounds on what it builds;
* :mod:`symsmooth.text.formula` (with :mod:`symsmooth.text.parse_tree`): formula text, public
  as ``ss.parse``;
* :mod:`symsmooth.text.record_reader` and :mod:`symsmooth.text.record_codec`: stored records
  (``srepr`` text and the JSON catalog file).

Examples
--------
>>> import symsmooth as ss
>>> ss.parse("x + 1")
x + 1
"""
