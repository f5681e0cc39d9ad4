"""tnswift demonstration: the seed einsum examples and the 4-core tensor-train contraction.

Each result is checked against numpy.einsum (float64) and printed with its error; the
tensor-train contraction also prints its path report and the speed of a prepared plan.
"""

import time

import numpy as np

import tnswift


def show(title, subscripts, *operands):
    got = tnswift.einsum(subscripts, *operands)
    ref = np.einsum(subscripts, *[np.asarray(o, dtype=np.float64) for o in operands])
    err = float(np.max(np.abs(np.asarray(got, dtype=np.float64) - ref))) if np.size(ref) else 0.0
    shape = np.shape(got)
    print(f"  {title:<22} {subscripts:<22} shape {str(shape):<12} max |tnswift - numpy| = {err:.1e}")
    assert err <= 1e-9 * max(1.0, float(np.max(np.abs(ref))) if np.size(ref) else 1.0), (subscripts, err)


def main():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4))
    b = rng.standard_normal((4, 5))
    v = rng.standard_normal(4)
    w = rng.standard_normal(4)
    t = rng.standard_normal((3, 4, 5))
    u = rng.standard_normal((4, 3, 6))
    print(f"tnswift {tnswift.__version__}: seed einsum examples (float64)")
    show("sum", "ij->", a)
    show("row sums", "ij->i", a)
    show("column sums", "ij->j", a)
    show("inner product", "i,i->", v, w)
    show("outer product", "i,j->ij", v, w)
    show("matrix-vector", "ij,j->i", a, v)
    show("matrix-matrix", "ij,jk->ik", a, b)
    show("3-tensor contraction", "ijk,jil->kl", t, u)
    show("trace", "ii->", a[:, :3][:3])
    show("batched (ellipsis)", "...ij,...jk->...ik", rng.standard_normal((2, 3, 4)), b)

    print("\nThe seed TT layer: y[n,e,f,g,h] = sum W1[a,e,i] W2[b,f,i,j] W3[c,g,j,k] W4[d,h,k] x[n,a,b,c,d]")
    eq = "aei,bfij,cgjk,dhk,nabcd->nefgh"
    shapes = [(8, 2, 8), (8, 2, 8, 8), (8, 2, 8, 8), (8, 2, 8), (256, 8, 8, 8, 8)]
    ops = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    path, info = tnswift.contract_path(eq, *ops)
    print(info)
    expr = tnswift.contract_expression(eq, *shapes, dtype="float32")
    y = expr(*ops)
    ref = np.einsum(eq, *[o.astype(np.float64) for o in ops], optimize=True)
    rel = float(np.max(np.abs(y - ref)) / np.max(np.abs(ref)))
    print(f"\n  output {y.shape}, max relative error vs numpy float64: {rel:.1e}")
    assert rel < 1e-4
    for _ in range(3):
        expr(*ops)
    runs = 20
    start = time.perf_counter()
    for _ in range(runs):
        expr(*ops, out=y)
    fwd = (time.perf_counter() - start) / runs
    dy = rng.standard_normal(y.shape).astype(np.float32)
    start = time.perf_counter()
    for _ in range(runs):
        expr(*ops, out=y)
        grads = expr.backward(dy, *ops)
    both = (time.perf_counter() - start) / runs
    print(f"  prepared plan: forward {fwd * 1e3:.3f} ms ({expr.opt_cost / fwd / 1e9:.1f} GFLOP/s), "
          f"forward+backward {both * 1e3:.3f} ms; gradient shapes {[g.shape for g in grads]}")


if __name__ == "__main__":
    main()
