"""The seed's TT-layer regression: 4096 inputs as 8^4, 16 outputs as 2^4, TT rank 8, trained
with Adam on 256 samples of a random linear teacher with 128 informative features.

    python examples/seed_regression.py [--epochs N]

The data is the seed's own set (sklearn's make_regression, standardised) when the reference
fixture is found (in TNSWIFT_FIXTURES, else ../shared/fixtures beside the repository), else
the same recipe drawn here.
Everything numerical runs in tnswift: the layer's forward and backward, the loss and Adam.
"""

import argparse
import os
import time

import numpy as np

from tnswift import nn, optim


def load_data():
    here = os.path.dirname(os.path.abspath(__file__))
    # TNSWIFT_FIXTURES, when set (even empty), is the only place looked at.
    folder = os.environ.get("TNSWIFT_FIXTURES", os.path.join(here, "..", "..", "shared", "fixtures"))
    if folder:
        path = os.path.join(folder, "seed000_regression.npz")
        if os.path.exists(path):
            d = np.load(path)
            return d["x"], d["y"], "the seed's make_regression set"
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 4096)).astype(np.float32)
    w = np.zeros((4096, 16), dtype=np.float32)
    informative = rng.choice(4096, 128, replace=False)
    w[informative] = rng.uniform(0, 100, (128, 16))
    y = x @ w + rng.standard_normal((256, 16)).astype(np.float32)
    standardise = lambda a: (a - a.mean(0)) / a.std(0)  # noqa: E731
    return standardise(x).astype(np.float32), standardise(y).astype(np.float32), "a make_regression-style set drawn here"


def r2(pred, y):
    return 1 - ((pred - y) ** 2).sum() / ((y - y.mean(0)) ** 2).sum()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=300)
    args = ap.parse_args(argv)
    x, y, source = load_data()
    layer = nn.TTLinear((8, 8, 8, 8), (2, 2, 2, 2), rank=8, dtype=np.float32, seed=0)
    opt = optim.Adam([layer], lr=3e-3)
    print(f"data: {source}, x {x.shape}, y {y.shape}")
    print(f"TT layer: {layer.n_params} parameters, {layer.compression:.0f}x fewer than the dense 4096x16")
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        pred = layer(x)
        loss, grad = nn.mse_loss(pred, y)
        layer.backward(grad)
        opt.step()
        if epoch % 50 == 0 or epoch == args.epochs:
            print(f"epoch {epoch:4d}  mse {loss:.4f}  train R^2 {r2(layer(x), y):.4f}")
    print(f"trained in {time.perf_counter() - start:.2f} s; final train R^2 {r2(layer(x), y):.4f}")
    return float(r2(layer(x), y))


if __name__ == "__main__":
    main()
