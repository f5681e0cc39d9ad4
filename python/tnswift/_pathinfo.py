"""PathInfo: the cost summary of a plan, printable as the engine's report."""

import math

__all__ = ["PathInfo"]


class PathInfo:
    """Cost summary of a contraction plan (opt_einsum's ``PathInfo`` counterpart).

    ``str(info)`` is the engine's report. Attributes: ``eq`` (the subscripts as planned),
    ``path`` (list of position tuples, opt_einsum form), ``opt_cost`` and ``naive_cost``
    (FLOPs, counted as opt_einsum counts them), ``largest_intermediate`` (elements),
    ``speedup`` (naive_cost / opt_cost), ``shapes`` (planned operand shapes).
    """

    __slots__ = ("eq", "path", "opt_cost", "naive_cost", "largest_intermediate", "speedup",
                 "shapes", "_plan", "_report")

    def __init__(self, eq, plan):
        numbers = plan.info()
        self.eq = eq
        # No pairwise step (one operand, or the memory-limit fallback that contracts all
        # operands in one loop): opt_einsum writes that as one step over every operand.
        self.path = [tuple(pair) for pair in plan.path] or [tuple(range(plan.n_operands))]
        self.opt_cost = numbers["opt_flops"]
        self.naive_cost = numbers["naive_flops"]
        self.largest_intermediate = numbers["largest_intermediate"]
        if self.opt_cost > 0:
            self.speedup = self.naive_cost / self.opt_cost
        else:
            self.speedup = 1.0 if self.naive_cost <= 0 else math.inf
        self.shapes = plan.shapes
        self._plan = plan
        self._report = None

    def __str__(self):
        if self._report is None:
            self._report = self._plan.report
        return self._report

    def __repr__(self):
        return (f"PathInfo(eq={self.eq!r}, path={self.path!r}, opt_cost={self.opt_cost:.6g}, "
                f"naive_cost={self.naive_cost:.6g}, "
                f"largest_intermediate={self.largest_intermediate}, speedup={self.speedup:.4g})")
