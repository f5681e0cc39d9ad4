import numpy as np
import tnswift

rng = np.random.default_rng(0)
x = rng.standard_normal((256, 8, 8, 8, 8)).astype(np.float32)
cores = [rng.standard_normal(s).astype(np.float32) for s in [(8, 2, 8), (8, 2, 8, 8), (8, 2, 8, 8), (8, 2, 8)]]
eq = "aei,bfij,cgjk,dhk,nabcd->nefgh"

y = tnswift.einsum(eq, *cores, x)                 # like numpy.einsum, inputs read in place
path, info = tnswift.contract_path(eq, *cores, x)  # the chosen path and its cost report
print(info.opt_cost, info.largest_intermediate)

expr = tnswift.contract_expression(eq, *[c.shape for c in cores], x.shape, dtype="float32")
y = expr(*cores, x)                                 # a compiled plan, reusable
grads = expr.backward(np.ones_like(y), *cores, x)   # one gradient per operand
reference = np.einsum(eq, *[c.astype(np.float64) for c in cores], x.astype(np.float64), optimize=True)
assert np.abs(y - reference).max() <= 1e-5 * np.abs(reference).max()
