"""The ``tnswift`` command (also ``python -m tnswift``): demo, compress, bench, info."""

import argparse
import os
import platform
import subprocess
import sys

import numpy as np

from . import _ext, datasets, library_info, nn, set_num_threads, __version__

__all__ = ["main", "compress"]

_FORMATS = {"tt": nn.TTLinear, "cp": nn.CPLinear, "tucker": nn.TuckerLinear}


def compress(model, format, *, rank=None, eps=None, budget=None, order=3):
    """A copy of ``model`` (a :class:`tnswift.nn.Sequential`) whose dense ``Linear`` layers are
    converted to ``format`` ("tt", "cp" or "tucker") by ``rank``, ``eps`` or ``budget``; other
    stages are shared. Returns ``(new_model, report)``, one report row per dense layer."""
    if format not in _FORMATS:
        raise _ext.ArgumentError(f"format must be one of {', '.join(_FORMATS)} (got {format!r})")
    cls = _FORMATS[format]
    stages, report = [], []
    for i, stage in enumerate(model.stages):
        if type(stage) is not nn.Linear:
            stages.append(stage)
            continue
        params = stage.parameters()
        w = params["weight"]
        layer = cls.from_dense(w, params.get("bias"), rank=rank, eps=eps, budget=budget, order=order)
        w64 = w.astype(np.float64)
        err = float(np.linalg.norm(layer.to_dense().astype(np.float64) - w64) / max(np.linalg.norm(w64), 1e-300))
        report.append({"stage": i, "in_features": stage.in_features, "out_features": stage.out_features,
                       "params_before": stage.n_params, "params_after": layer.n_params,
                       "compression": stage.n_params / layer.n_params, "relative_error": err,
                       "layer": repr(layer)})
        stages.append(layer)
    return nn.Sequential(*stages), report


def _accuracy(model, x, y):
    dtype = next(s.dtype for s in model.stages if hasattr(s, "dtype"))
    predicted = [np.argmax(model(x[i:i + 1000].astype(dtype)), axis=1) for i in range(0, len(x), 1000)]
    return float(np.mean(np.concatenate(predicted) == y))


def _cmd_compress(args):
    given = [v for v in (args.rank, args.eps, args.budget) if v is not None]
    if len(given) != 1:
        raise SystemExit("tnswift compress: give exactly one of --rank, --eps or --budget")
    model = nn.load(args.input)
    new, report = compress(model, args.format, rank=args.rank, eps=args.eps, budget=args.budget, order=args.order)
    if not report:
        raise SystemExit(f"tnswift compress: {args.input} has no dense Linear layer to convert")
    print("| stage | shape | params before | params after | compression | relative error |")
    print("|---:|---|---:|---:|---:|---:|")
    for r in report:
        print(f"| {r['stage']} | {r['in_features']} -> {r['out_features']} | {r['params_before']:,} | "
              f"{r['params_after']:,} | {r['compression']:.1f}x | {r['relative_error']:.3e} |")
    new.save(args.output)
    before, after = os.path.getsize(args.input), os.path.getsize(args.output)
    print(f"\nwrote {args.output}: {after:,} bytes ({before / after:.1f}x smaller than {before:,}); "
          f"model parameters {model.n_params:,} -> {new.n_params:,}")
    nn.load(args.output)  # what was written loads back
    if args.evaluate:
        _, _, x_test, y_test = datasets.fashion_mnist(args.data)
        width = model.stages[0].in_features if hasattr(model.stages[0], "in_features") else None
        if width is not None and width != x_test.shape[1]:
            raise SystemExit(f"tnswift compress --evaluate: the model takes {width} inputs, Fashion-MNIST has 784")
        print(f"Fashion-MNIST test accuracy: {_accuracy(model, x_test, y_test):.4f} before, "
              f"{_accuracy(new, x_test, y_test):.4f} after")
    return 0


def _cmd_demo(args):
    from . import demo

    if not os.path.isdir(args.data or datasets.FASHION_MNIST_DIR):
        raise SystemExit(f"tnswift demo: no Fashion-MNIST in {args.data or datasets.FASHION_MNIST_DIR}; install "
                         "Debian's package (sudo apt-get install dataset-fashion-mnist) or pass --data DIR")
    demo.run(quick=args.quick, out_dir=args.out, data_dir=args.data, epochs=args.epochs)
    return 0


def _find_bench():
    here = os.getcwd()
    while True:
        candidate = os.path.join(here, "bench", "run.py")
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def _bench(rest):
    script = _find_bench()
    if script is None:
        raise SystemExit("tnswift bench runs bench/run.py of a tnswift source checkout: run it from inside one "
                         "(or use `make bench` there)")
    return subprocess.call([sys.executable, script] + rest)


def _cmd_info(args):
    lib = library_info()
    threads = set_num_threads(0)
    print(f"tnswift {__version__} (library {lib['version']}, C ABI {lib['abi']})")
    print(f"BLAS: {lib['blas']}")
    print(f"engine threads: {threads} (tnswift.set_num_threads; default from OPENBLAS_NUM_THREADS)")
    print(f"Python {platform.python_version()}, NumPy {np.__version__}, {platform.machine()} {platform.system()}")
    found = os.path.isdir(datasets.FASHION_MNIST_DIR)
    print(f"Fashion-MNIST: {datasets.FASHION_MNIST_DIR} ({'present' if found else 'absent'})")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="tnswift", description="tensorized layers and contractions with a Swift core")
    sub = ap.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="train a dense MLP and its TT/CP/Tucker twins on Fashion-MNIST")
    d.add_argument("--quick", action="store_true", help="12,000 training images, fewer epochs (about a minute)")
    d.add_argument("--out", default="demo-output", help="directory for the table, plot and saved model")
    d.add_argument("--epochs", type=int, default=None, help="epochs for every model (default: per model)")
    d.add_argument("--data", default=None, help="directory with the Fashion-MNIST IDX files")
    d.set_defaults(run=_cmd_demo)

    c = sub.add_parser("compress", help="convert the dense layers of a saved model to TT, CP or Tucker")
    c.add_argument("input", help="a model file (safetensors) written by tnswift")
    c.add_argument("--format", required=True, choices=sorted(_FORMATS))
    c.add_argument("--rank", type=int)
    c.add_argument("--eps", type=float, help="relative Frobenius error bound on each weight")
    c.add_argument("--budget", type=int, help="parameters per converted layer")
    c.add_argument("--order", type=int, default=3, help="modes per side for weights split into balanced modes")
    c.add_argument("-o", "--output", required=True)
    c.add_argument("--evaluate", action="store_true", help="report Fashion-MNIST test accuracy before and after")
    c.add_argument("--data", default=None, help="directory with the Fashion-MNIST IDX files")
    c.set_defaults(run=_cmd_compress)

    # Listed for --help; its arguments go to bench/run.py untouched (see below).
    sub.add_parser("bench", help="the benchmark (bench/run.py of a source checkout, same as make bench; "
                                 "arguments are passed on, e.g. --quick, --only W1,W4)")

    i = sub.add_parser("info", help="version, BLAS, threads")
    i.set_defaults(run=_cmd_info)

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        return _bench(argv[1:])
    args = ap.parse_args(argv)
    try:
        return args.run(args)
    except (_ext.TNError, OSError) as e:  # bad files and arguments: a message, not a traceback
        print(f"tnswift {args.command}: {e}", file=sys.stderr)
        return 1
