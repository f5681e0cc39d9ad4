"""The seed's TT-layer regression: 4096 inputs as 8^4, 16 outputs as 2^4, TT rank 8, trained
with Adam on 256 samples of a random linear teacher with 128 informative features.

    python examples/seed_regression.py [--epochs N] [--lr LR]

Full-batch Adam with a cosine learning-rate decay; the train R^2 is printed beside the dense
least-squares fit's (which interpolates: 4096 features, 256 samples).

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
            return d["x"], d["y"], "the seed's make_regression set", float(d["lstsq_r2"])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 4096)).astype(np.float32)
    w = np.zeros((4096, 16), dtype=np.float32)
    informative = rng.choice(4096, 128, replace=False)
    w[informative] = rng.uniform(0, 100, (128, 16))
    y = x @ w + rng.standard_normal((256, 16)).astype(np.float32)
    standardise = lambda a: (a - a.mean(0)) / a.std(0)  # noqa: E731
    x, y = standardise(x).astype(np.float32), standardise(y).astype(np.float32)
    w_ls = np.linalg.lstsq(x.astype(np.float64), y.astype(np.float64), rcond=None)[0]
    return x, y, "a make_regression-style set drawn here", float(r2(x.astype(np.float64) @ w_ls, y))


def r2(pred, y):
    return 1 - ((pred - y) ** 2).sum() / ((y - y.mean(0)) ** 2).sum()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=3000)
    ap.add_argument("--lr", type=float, default=3e-2)
    args = ap.parse_args(argv)
    x, y, source, lstsq_r2 = load_data()
    layer = nn.TTLinear((8, 8, 8, 8), (2, 2, 2, 2), rank=8, dtype=np.float32, seed=0)
    opt = optim.Adam([layer], lr=args.lr)
    schedule = optim.cosine_schedule(args.lr, args.epochs, final=args.lr / 100)
    dense = 4096 * 16 + 16
    print(f"data: {source}, x {x.shape}, y {y.shape}")
    print(f"TT layer: {layer.n_params} parameters, {100 * layer.n_params / dense:.1f}% of the dense 4096x16 "
          f"layer's {dense}")
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        opt.lr = schedule(epoch - 1)
        pred = layer(x)
        loss, grad = nn.mse_loss(pred, y)
        layer.backward(grad)
        opt.step()
        if epoch % 500 == 0 or epoch == args.epochs:
            print(f"epoch {epoch:4d}  mse {loss:.4f}  train R^2 {r2(layer(x), y):.4f}")
    print(f"trained in {time.perf_counter() - start:.2f} s; dense least-squares train R^2 {lstsq_r2:.4f}; "
          f"final train R^2 {r2(layer(x), y):.4f}")
    return float(r2(layer(x), y))


if __name__ == "__main__":
    main()
