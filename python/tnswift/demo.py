"""`tnswift demo`: a 784-256-128-10 MLP on Fashion-MNIST, dense and with its two hidden layers
as TT, CP and Tucker layers, trained here on the CPU, and a small convolutional net with a CP
convolution. Prints a table (hidden-layer parameters, compression, test accuracy, training
time, inference time per image), writes a PNG plot of accuracy against parameters and saves
the TT model, which C (examples/c/classify.c) and Swift load.
"""

import json
import os
import sys
import time

import numpy as np

from . import datasets, nn, optim

__all__ = ["run", "architectures", "conv_net"]

# Fashion-MNIST's own table lists an MLP 256-128-100 at 0.8833; this is the same width.
HIDDEN = (256, 128)
IN_MODES = (4, 7, 7, 4)         # 784
MID_MODES = (4, 4, 4, 4)        # 256
OUT_MODES = (2, 4, 4, 4)        # 128


def architectures(seed=0):
    """name -> a function building that model (float32): the dense MLP and its factorized twins.
    The output layer (128 -> 10) stays dense in all of them."""
    def mlp(first, second):
        return lambda: nn.Sequential(first(), nn.ReLU(), second(), nn.ReLU(), nn.Linear(HIDDEN[1], 10, seed=seed + 2))

    return {
        "dense": mlp(lambda: nn.Linear(784, HIDDEN[0], seed=seed), lambda: nn.Linear(HIDDEN[0], HIDDEN[1], seed=seed + 1)),
        "TT rank 10": mlp(lambda: nn.TTLinear(IN_MODES, MID_MODES, rank=10, seed=seed),
                          lambda: nn.TTLinear(MID_MODES, OUT_MODES, rank=10, seed=seed + 1)),
        "CP rank 64": mlp(lambda: nn.CPLinear((28, 28), (16, 16), rank=64, seed=seed),
                          lambda: nn.CPLinear((16, 16), (16, 8), rank=64, seed=seed + 1)),
        "Tucker rank 8": mlp(lambda: nn.TuckerLinear((28, 28), (16, 16), rank=8, seed=seed),
                             lambda: nn.TuckerLinear((16, 16), (16, 8), rank=8, seed=seed + 1)),
    }


def conv_net(seed=0):
    """A small convolutional net on (n, 1, 28, 28) images whose second convolution is CP
    factorized (rank 16): conv 1->16 3x3 stride 2, ReLU, CP conv 16->32 3x3 stride 2, ReLU,
    flatten, linear 1568 -> 10."""
    return nn.Sequential(nn.Conv2d(1, 16, 3, stride=2, padding=1, seed=seed), nn.ReLU(),
                         nn.CPConv2d(16, 32, 3, rank=16, stride=2, padding=1, seed=seed + 1), nn.ReLU(),
                         nn.Flatten(), nn.Linear(32 * 7 * 7, 10, seed=seed + 2))


def _hidden_params(model):
    """Parameters of the two hidden layers (biases included)."""
    layers = [s for s in model.stages if hasattr(s, "n_params")]
    return sum(layer.n_params for layer in layers[:2])


def _accuracy(model, x, y):
    predicted = [np.argmax(model(x[i:i + 1000]), axis=1) for i in range(0, len(x), 1000)]
    return float(np.mean(np.concatenate(predicted) == y))


def _inference_us(model, x, repeats=3):
    """Best of ``repeats`` full passes over ``x`` (batch 1000), in microseconds per image."""
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(0, len(x), 1000):
            model(x[i:i + 1000])
        best = min(best, time.perf_counter() - t0)
    return best / len(x) * 1e6


def _plot(rows, path):
    """Accuracy against hidden-layer parameters (log scale); False when matplotlib is absent."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    ax.set_xscale("log")
    params = [r["hidden_params"] for r in rows]
    ax.set_xlim(min(params) / 2, max(params) * 4)
    for r in rows:
        dense = r["name"] == "dense"
        ax.scatter(r["hidden_params"], r["accuracy"], s=60, marker="s" if dense else "o",
                   color="black" if dense else "tab:blue", zorder=3)
        label = "dense" if dense else f"{r['name']}\n{r['compression']:.0f}x fewer"
        ax.annotate(label, (r["hidden_params"], r["accuracy"]), textcoords="offset points", xytext=(8, -4), fontsize=8)
    ax.axhline(0.8833, color="gray", linestyle="--", linewidth=1)
    ax.annotate("MLP 256-128-100, the dataset's own table", (min(params) / 2, 0.8833), textcoords="offset points",
                xytext=(4, 3), fontsize=7, color="gray")
    accuracies = [r["accuracy"] for r in rows] + [0.8833]
    ax.set_ylim(min(accuracies) - 0.005, max(accuracies) + 0.005)
    ax.set_xlabel("hidden-layer parameters")
    ax.set_ylabel("test accuracy")
    ax.set_title("Fashion-MNIST, 784-256-128-10 MLP: dense vs tensorized hidden layers", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def run(quick=False, out_dir="demo-output", data_dir=None, epochs=None, seed=0, stream=None):
    """Trains every architecture, prints the table, writes ``results.json``, the plot and
    ``tt_mlp.safetensors`` into ``out_dir``; returns the table rows.

    ``quick`` trains on 12,000 images for fewer epochs (about a minute); ``epochs`` overrides
    the epoch counts.
    """
    stream = stream or sys.stdout
    x_train, y_train, x_test, y_test = datasets.fashion_mnist(data_dir)
    if quick:
        x_train, y_train = x_train[:12000], y_train[:12000]
    os.makedirs(out_dir, exist_ok=True)
    # Dense nets converge in a few epochs; the factorized ones keep improving for longer.
    plan = {"dense": 6, "TT rank 10": 14, "CP rank 64": 8, "Tucker rank 8": 8}
    if quick:
        plan = {name: max(2, n // 3) for name, n in plan.items()}
    print(f"Fashion-MNIST: {len(x_train)} training and {len(x_test)} test images; "
          f"hidden layers 784 -> {HIDDEN[0]} -> {HIDDEN[1]}, output {HIDDEN[1]} -> 10", file=stream)
    rows, models = [], {}
    for name, build in architectures(seed).items():
        n_epochs = epochs if epochs is not None else plan[name]
        model = build()
        lr = 3e-3
        opt = optim.Adam(model.stages, lr=lr)
        print(f"\n{name}: {_hidden_params(model):,} hidden-layer parameters, {n_epochs} epochs", file=stream)
        history = nn.fit(model, opt, x_train, y_train, epochs=n_epochs, batch_size=128, seed=seed,
                         schedule=optim.cosine_schedule(lr, n_epochs, final=lr / 20), stream=stream)
        rows.append({"name": name, "hidden_params": _hidden_params(model), "accuracy": _accuracy(model, x_test, y_test),
                     "train_seconds": history["seconds"], "epochs": history["epochs"],
                     "inference_us": _inference_us(model, x_test)})
        models[name] = model
    dense = rows[0]["hidden_params"]
    for r in rows:
        r["compression"] = dense / r["hidden_params"]

    # The convolutional net: images as (n, 1, 28, 28).
    conv_epochs = epochs if epochs is not None else (1 if quick else 2)
    images_train, images_test = x_train.reshape(-1, 1, 28, 28), x_test.reshape(-1, 1, 28, 28)
    convnet = conv_net(seed)
    cp = convnet.stages[2]
    dense_twin = 32 * 16 * 9 + 32
    print(f"\nCP conv net: {convnet.n_params:,} parameters, its CP convolution {cp.n_params:,} "
          f"(a dense one: {dense_twin:,}), {conv_epochs} epochs", file=stream)
    lr = 3e-3
    history = nn.fit(convnet, optim.Adam(convnet.stages, lr=lr), images_train, y_train, epochs=conv_epochs,
                     batch_size=128, seed=seed, schedule=optim.cosine_schedule(lr, conv_epochs, final=lr / 20),
                     stream=stream)
    conv_row = {"name": "CP conv net", "params": convnet.n_params, "cp_conv_params": cp.n_params,
                "dense_conv_params": dense_twin, "accuracy": _accuracy(convnet, images_test, y_test),
                "train_seconds": history["seconds"], "epochs": history["epochs"],
                "inference_us": _inference_us(convnet, images_test)}

    print("\n| model | hidden params | compression | test accuracy | training s | inference µs/image |", file=stream)
    print("|---|---:|---:|---:|---:|---:|", file=stream)
    for r in rows:
        print(f"| {r['name']} | {r['hidden_params']:,} | {r['compression']:.1f}x | {r['accuracy']:.4f} | "
              f"{r['train_seconds']:.1f} | {r['inference_us']:.2f} |", file=stream)
    c = conv_row
    print(f"\nCP conv net (conv 1->16, CP conv 16->32 rank 16, linear 1568->10): {c['params']:,} parameters, "
          f"the CP convolution {c['dense_conv_params'] / c['cp_conv_params']:.1f}x smaller than a dense one; "
          f"test accuracy {c['accuracy']:.4f}; training {c['train_seconds']:.1f} s; "
          f"inference {c['inference_us']:.2f} µs/image", file=stream)

    model_path = os.path.join(out_dir, "tt_mlp.safetensors")
    models["TT rank 10"].save(model_path)
    plot_path = os.path.join(out_dir, "accuracy_vs_params.png")
    plotted = _plot(rows, plot_path)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"quick": quick, "rows": rows, "conv_net": conv_row}, f, indent=1)
    print(f"\nsaved the TT model to {model_path} (load it with tnswift.nn.load, tn_model_load in C, "
          "Sequential.load in Swift)", file=stream)
    if plotted:
        print(f"plot: {plot_path}", file=stream)
    else:
        print("no plot: matplotlib is not installed (pip install matplotlib)", file=stream)
    return rows
