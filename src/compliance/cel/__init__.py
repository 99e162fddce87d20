"""The CEL language, usable without rule packs.

Read the modules in pipeline order: ``parser`` (CEL text to ``ast`` nodes; with
``interpreter``, the only importers of cel-python and lark), ``types`` (the type lattice and
the declared context), ``checker`` (types every node), ``functions`` (one table of overloads
and implementations), ``values`` and ``conform`` (run-time values and the one rule of what
"a value of type T" is), ``cost`` and ``budget`` (static and run-time cost), ``compiler``
(checked trees to Python), ``unparse`` (trees back to text) and ``interpreter`` (cel-python's
evaluator, the reference oracle for differential tests).

Nothing here knows about packs, rules or decisions; the policy stages build on it.
"""
