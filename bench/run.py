#!/usr/bin/env python3
"""tnswift benchmark: the workloads of WORKLOADS.md against the anchors, in one process.

    python bench/run.py [--quick] [--only W1,W4] [--json FILE] [--no-extra]

Every row is measured with tnswift and with each installed anchor (numpy.einsum,
opt_einsum, torch.einsum), interleaved in rounds so that a noisy neighbour slows
all of them alike; the reported figure is the median per-call time after warm-up.
The machine's sgemm rate (system OpenBLAS through ctypes, the library tnswift links)
is measured first and is the yardstick for "% sgemm" and for the roofline targets.

If tnswift cannot be imported the anchors are still measured and the tnswift
columns read "-"; the banner says why.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import json
import math
import os
import platform
import re
import statistics
import sys
import time
import timeit

import numpy as np

# --------------------------------------------------------------------------- imports

def _check_api(mod):
    missing = [n for n in ("einsum", "contract_expression") if not hasattr(mod, n)]
    if missing:  # e.g. an empty source folder imported as a namespace package
        raise ImportError(f"tnswift at {getattr(mod, '__path__', '?')} lacks {', '.join(missing)}")
    return mod


def _import_tnswift():
    try:
        import tnswift  # noqa: F401
        return _check_api(tnswift), None
    except Exception as exc:  # ImportError, or a broken half-built package
        sys.modules.pop("tnswift", None)
        first = f"{type(exc).__name__}: {exc}"
    # Fallback: the in-repo package (works only if its extension was built in place).
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.join(os.path.dirname(here), "python")
    if os.path.isdir(os.path.join(src, "tnswift")):
        sys.path.insert(0, src)
        try:
            import tnswift  # noqa: F401,F811
            return _check_api(tnswift), None
        except Exception as exc:
            sys.path.remove(src)
            sys.modules.pop("tnswift", None)
            return None, f"{first}; in-repo python/: {type(exc).__name__}: {exc}"
    return None, first


tnswift, TNSWIFT_ERROR = _import_tnswift()

try:
    import opt_einsum as oe
except Exception:  # pragma: no cover - depends on the environment
    oe = None

try:
    import torch
except Exception:  # pragma: no cover
    torch = None

try:
    import tensorly as tl
    import tensorly.decomposition as tl_dec
except Exception:  # pragma: no cover
    tl = tl_dec = None

# ------------------------------------------------------------------------- settings

class Settings:
    def __init__(self, quick: bool):
        self.quick = quick
        # seconds of measurement per implementation per row (split over the rounds)
        self.budget = 0.25 if quick else 1.2
        self.rounds = 3 if quick else 5
        self.min_samples = 3 if quick else 5
        self.warmup_s = 0.05 if quick else 0.2
        self.gemm_samples = 3 if quick else 5  # for the ~0.7 s 4096^2 GEMMs
        self.slow_samples = 2 if quick else 3  # for calls slower than SLOW_S
        self.w8_repeat_s = 0.03 if quick else 0.1  # seconds per timeit repeat
        self.w8_repeat = 5 if quick else 9


# --------------------------------------------------------------------------- timing

SLOW_S = 0.25  # seconds: a call slower than this gets few samples (slow_samples)


class Failed:
    """Marks an implementation that raised; the message ends up in the notes."""

    def __init__(self, msg: str):
        self.msg = msg

    def __repr__(self):
        return f"Failed({self.msg!r})"


def _short(exc: BaseException) -> str:
    s = f"{type(exc).__name__}: {exc}"
    return s if len(s) <= 160 else s[:157] + "..."


def measure(impls: dict, st: Settings, max_samples: int | None = None) -> dict:
    """Median seconds per call of each callable, interleaved in rounds.

    Returns {name: seconds | Failed}.
    """
    alive = {}
    est = {}
    out = {}
    gc.collect()
    for name, fn in impls.items():
        try:
            t0 = time.perf_counter()
            fn()
            t1 = time.perf_counter()
            first = t1 - t0
            if first > SLOW_S:
                est[name] = first  # a slow call: the first one was warm-up enough
            else:
                # warm-up: at least 2 more calls, or until warmup_s has passed
                n, t_start = 0, time.perf_counter()
                while n < 2 or time.perf_counter() - t_start < st.warmup_s:
                    fn()
                    n += 1
                est[name] = (time.perf_counter() - t_start) / n
            alive[name] = fn
        except Exception as exc:
            out[name] = Failed(_short(exc))
    samples = {name: [] for name in alive}
    share = st.budget / st.rounds
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for r in range(st.rounds):
            for name, fn in alive.items():
                cap = max_samples if max_samples is not None else (
                    st.slow_samples if est[name] > SLOW_S else None)
                if cap is not None:  # spread `cap` samples over the rounds
                    n = cap // st.rounds + (1 if r < cap % st.rounds else 0)
                else:
                    n = max(1, min(10_000, int(share / max(est[name], 1e-9))))
                    # a slowish implementation still gets min_samples in total
                    if n * st.rounds < st.min_samples:
                        n = math.ceil(st.min_samples / st.rounds)
                for _ in range(n):
                    t0 = time.perf_counter()
                    fn()
                    samples[name].append(time.perf_counter() - t0)
    except Exception as exc:  # a failure after a successful warm-up
        for name in list(alive):
            if not samples[name]:
                out[name] = Failed(_short(exc))
    finally:
        if gc_was:
            gc.enable()
    for name, s in samples.items():
        if s:
            out[name] = statistics.median(s)
    return out


def measure_tiny(impls: dict, st: Settings) -> dict:
    """Per-call seconds of very cheap calls: timeit loops, median of the repeats."""
    out = {}
    for name, (stmt, env) in impls.items():
        try:
            t = timeit.Timer(stmt, globals=env)
            per = t.timeit(number=2000) / 2000  # warm-up and calibration
            number = max(1000, min(1_000_000, int(st.w8_repeat_s / max(per, 1e-9))))
            reps = t.repeat(repeat=st.w8_repeat, number=number)
            out[name] = statistics.median(reps) / number
        except Exception as exc:
            out[name] = Failed(_short(exc))
    return out


# ---------------------------------------------------------------------------- sgemm

def _load_system_openblas():
    for name in ("libopenblas.so.0", ctypes.util.find_library("openblas"), "libopenblas.so"):
        if not name:
            continue
        try:
            return ctypes.CDLL(name), name
        except OSError:
            continue
    return None, None


def sgemm_callable(lib, a, b, c):
    """A no-argument callable doing c = a @ b (2-D, C-contiguous float32) with cblas_sgemm."""
    sg = lib.cblas_sgemm
    sg.restype = None
    sg.argtypes = [ctypes.c_int] * 6 + [ctypes.c_float, ctypes.c_void_p, ctypes.c_int,
                                        ctypes.c_void_p, ctypes.c_int, ctypes.c_float,
                                        ctypes.c_void_p, ctypes.c_int]
    m, k = a.shape
    n = b.shape[1]
    pa, pb, pc = a.ctypes.data, b.ctypes.data, c.ctypes.data
    RowMajor, NoTrans = 101, 111

    def system_sgemm():
        sg(RowMajor, NoTrans, NoTrans, m, n, k, 1.0, pa, k, pb, n, 0.0, pc, n)
    return system_sgemm


def measure_sgemm(st: Settings, n: int = 4096, samples: int | None = None) -> dict:
    """GFLOP/s of an n^2 float32 GEMM: system OpenBLAS via ctypes, and numpy.matmul."""
    res: dict = {"n": n, "flops": 2.0 * n ** 3}
    rng = np.random.default_rng(1)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    impls = {}
    lib, libname = _load_system_openblas()
    if lib is not None:
        res["library"] = libname
        try:
            res["openblas_threads"] = int(lib.openblas_get_num_threads())
            lib.openblas_get_config.restype = ctypes.c_char_p
            res["openblas_config"] = lib.openblas_get_config().decode(errors="replace").strip()
            lib.openblas_get_corename.restype = ctypes.c_char_p
            res["openblas_core"] = lib.openblas_get_corename().decode(errors="replace")
        except AttributeError:
            pass
        impls["openblas"] = sgemm_callable(lib, a, b, c)
    else:
        res["library"] = None
    impls["numpy"] = lambda: np.matmul(a, b, out=c)
    t = measure(impls, st, max_samples=samples or st.gemm_samples + 1)
    for k, v in t.items():
        if isinstance(v, Failed):
            res[k + "_error"] = v.msg
        else:
            res[k + "_ms"] = v * 1e3
            res[k + "_gflops"] = res["flops"] / v / 1e9
    if "openblas_gflops" in res:
        res["rate_gflops"] = res["openblas_gflops"]
        res["rate_source"] = "system OpenBLAS cblas_sgemm"
    else:
        res["rate_gflops"] = res.get("numpy_gflops")
        res["rate_source"] = "numpy.matmul (system OpenBLAS not loadable)"
    return res


# ----------------------------------------------------------------------- FLOP counts

def optimal_flops(eq: str, shapes) -> tuple[float, str]:
    """Optimal-path FLOP count (multiply+add = 2), as opt_einsum counts it."""
    if oe is not None:
        try:
            _, info = oe.contract_path(eq, *shapes, shapes=True, optimize="optimal")
            return float(info.opt_cost), "opt_einsum optimal"
        except Exception:
            pass
    try:
        dummies = [np.empty(s, dtype=np.float32) for s in shapes]
        _, text = np.einsum_path(eq, *dummies, optimize="optimal")
        m = re.search(r"Optimized FLOP count:\s*([0-9.eE+-]+)", text)
        if m:
            return float(m.group(1)), "numpy.einsum_path optimal"
    except Exception:
        pass
    return float("nan"), "unknown"


def _opt_cost_of(expr):
    c = getattr(expr, "opt_cost", None)
    if callable(c):
        c = c()
    try:
        return float(c)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------ reference grads

def _parse_simple(eq: str):
    lhs, rhs = eq.split("->")
    return lhs.split(","), rhs


def reference_grads(eq, ops, dy):
    """Gradients of every operand by numpy.einsum (float64); None where not expressible."""
    ins, out = _parse_simple(eq)
    ops64 = [o.astype(np.float64) for o in ops]
    grads = []
    for i, si in enumerate(ins):
        others = [s for j, s in enumerate(ins) if j != i]
        g_eq = ",".join([out] + others) + "->" + si
        try:
            grads.append(np.einsum(g_eq, dy.astype(np.float64),
                                   *[o for j, o in enumerate(ops64) if j != i], optimize=True))
        except Exception:
            grads.append(None)
    return grads


def rel_err(a, ref) -> float:
    a = np.asarray(a, dtype=np.float64)
    den = np.linalg.norm(ref)
    return float(np.linalg.norm(a - ref) / (den if den > 0 else 1.0))


# ------------------------------------------------------------------------ workloads

ANCHORS = ("numpy", "opt_einsum", "torch", "tensorly", "tltorch", "dense")
VARIANTS = {"tnswift_out": "expr(*ops, out=)", "tnswift_alloc": "expr(*ops)",
            "tnswift_einsum": "tnswift.einsum(...)",
            "tnswift_native": "same step in tnswift.nn + tnswift.optim (no torch)"}
F32_TOL = 1e-3  # relative (Frobenius) error allowed against a float64 reference


class Row:
    def __init__(self, wid, label, kind, flops=None, flops_source=None, target=None,
                 info=False):
        self.id = wid
        self.label = label
        self.kind = kind  # "fwd", "fwd+bwd", "call"
        self.flops = flops
        self.flops_source = flops_source
        self.target = target  # dict(kind=..., value=..., text=...)
        self.info = info
        self.times: dict = {}
        self.notes: list[str] = []
        self.check = None  # relative error of tnswift vs the float64 reference
        self.tn_opt_cost = None
        self.status = None
        self.rate = None  # GFLOP/s yardstick for this row, if not the start-of-run one

    def ms(self, name):
        v = self.times.get(name)
        return None if v is None or isinstance(v, Failed) else v * 1e3


def tt_shapes(batch, rank, in_mode=8, out_mode=2):
    """Seed TT layer `aei,bfij,cgjk,dhk,nabcd->nefgh` with the given batch and rank."""
    return [(in_mode, out_mode, rank), (in_mode, out_mode, rank, rank),
            (in_mode, out_mode, rank, rank), (in_mode, out_mode, rank),
            (batch, in_mode, in_mode, in_mode, in_mode)]


W1_EQ = "aei,bfij,cgjk,dhk,nabcd->nefgh"
W4_EQ = "nij,aik,bjk->nab"


def w4_shapes(batch):
    return [(batch, 32, 32), (32, 32, 2), (32, 32, 2)]


def make_ops(shapes, seed=0):
    rng = np.random.default_rng(seed)
    # scaled so that products of many factors stay O(1)
    return [(rng.standard_normal(s, dtype=np.float32) / np.float32(math.sqrt(max(1, s[-1]))))
            for s in shapes]


def einsum_rows(wid, label, eq, shapes, st, sgemm_rate, targets, info, do_bwd=True,
                numpy_optimize=True):
    """Forward (and fwd+bwd) rows of one contraction, tnswift vs anchors."""
    ops = make_ops(shapes)
    fl, fl_src = optimal_flops(eq, shapes)
    rows = []

    # ---------------- forward
    fwd = Row(wid, f"{label} fwd", "fwd", fl, fl_src, targets.get("fwd"), info)
    impls = {}
    expr = None
    y_tn = None
    if tnswift is not None:
        try:
            expr = tnswift.contract_expression(eq, *shapes, dtype="float32")
            fwd.tn_opt_cost = _opt_cost_of(expr)
            y_tn = expr(*ops)
            out_buf = np.empty(np.shape(y_tn), dtype=np.float32)
            impls["tnswift"] = lambda: expr(*ops)
            impls["tnswift_out"] = lambda: expr(*ops, out=out_buf)
            impls["tnswift_einsum"] = lambda: tnswift.einsum(eq, *ops)
        except Exception as exc:
            fwd.times["tnswift"] = Failed(_short(exc))
    impls["numpy"] = (lambda: np.einsum(eq, *ops, optimize=numpy_optimize))
    if oe is not None:
        oexpr = oe.contract_expression(eq, *shapes)
        impls["opt_einsum"] = lambda: oexpr(*ops)
    if torch is not None:
        tops = [torch.from_numpy(o) for o in ops]
        impls["torch"] = lambda: torch.einsum(eq, *tops)
    fwd.times.update(measure(impls, st))

    y_ref = np.einsum(eq, *[o.astype(np.float64) for o in ops], optimize=True)
    if y_tn is not None:
        fwd.check = rel_err(y_tn, y_ref)
    rows.append(fwd)

    if not do_bwd:
        return rows

    # ---------------- forward + backward (output and the gradients of every operand)
    fb = Row(wid, f"{label} fwd+bwd", "fwd+bwd", 3 * fl if fl == fl else fl,
             "3x " + fl_src, targets.get("fwd+bwd"), info)
    rng = np.random.default_rng(7)
    dy = rng.standard_normal(np.shape(y_ref), dtype=np.float32)
    impls = {}
    if expr is not None:
        def tn_fb():
            y = expr(*ops)
            return y, expr.backward(dy, *ops)
        impls["tnswift"] = tn_fb
        try:
            _, g_tn = tn_fb()
            g_ref = reference_grads(eq, ops, dy)
            errs = [rel_err(g, r) for g, r in zip(g_tn, g_ref) if r is not None]
            if len(g_tn) != len(ops):
                fb.notes.append(f"backward returned {len(g_tn)} gradients for {len(ops)} operands")
                errs.append(float("inf"))
            fb.check = max(errs) if errs else None
        except Exception as exc:
            fb.times["tnswift"] = Failed(_short(exc))
            impls.pop("tnswift")
    elif "tnswift" in fwd.times:
        fb.times["tnswift"] = fwd.times["tnswift"]
    if torch is not None:
        gops = [torch.from_numpy(o.copy()).requires_grad_(True) for o in ops]
        tdy = torch.from_numpy(dy)

        def torch_fb():
            y = torch.einsum(eq, *gops)
            return torch.autograd.grad(y, gops, tdy)
        impls["torch"] = torch_fb
    fb.times.update(measure(impls, st))
    rows.append(fb)
    return rows


def w1_rows(st, rate, extra):
    tg = {"fwd": {"kind": "ratio", "anchor": "torch", "value": 0.4},
          "fwd+bwd": {"kind": "ratio", "anchor": "torch", "value": 0.35}}
    rows = einsum_rows("W1", "W1 TT b256 r8", W1_EQ, tt_shapes(256, 8), st, rate, tg, False)
    if extra:
        for b in (1, 32, 1024):
            rows += einsum_rows("W1x", f"W1 TT b{b} r8", W1_EQ, tt_shapes(b, 8), st, rate, {}, True)
        for r in (4, 16):
            rows += einsum_rows("W1x", f"W1 TT b256 r{r}", W1_EQ, tt_shapes(256, r), st, rate, {},
                                True)
    return rows


def w4_rows(st, rate, extra):
    tg = {"fwd": {"kind": "ratio", "anchor": "torch", "value": 0.5},
          "fwd+bwd": {"kind": "ratio", "anchor": "torch", "value": 0.5}}
    rows = einsum_rows("W4", "W4 TN b256", W4_EQ, w4_shapes(256), st, rate, tg, False)
    if extra:
        for b in (1, 32, 1024):
            rows += einsum_rows("W4x", f"W4 TN b{b}", W4_EQ, w4_shapes(b), st, rate, {}, True)
    return rows


def w8_rows(st, rate, extra):
    eq = "ij,jk->ik"
    a = np.arange(4, dtype=np.float32).reshape(1, 4)
    b = np.arange(4, dtype=np.float32).reshape(4, 1)
    o = np.empty((1, 1), dtype=np.float32)
    target = {"kind": "abs_us", "value": 1.0}
    plain = Row("W8", "W8 1x4.4x1 call", "call", 2 * 4, "formula", target)
    with_out = Row("W8", "W8 1x4.4x1 call out=", "call", 2 * 4, "formula", target)
    tn_plain, tn_out = {}, {}
    if tnswift is not None:
        try:
            expr = tnswift.contract_expression(eq, a.shape, b.shape, dtype="float32")
            plain.tn_opt_cost = with_out.tn_opt_cost = _opt_cost_of(expr)
            y = expr(a, b)
            plain.check = rel_err(y, a.astype(np.float64) @ b.astype(np.float64))
            expr(a, b, out=o)
            with_out.check = rel_err(o, a.astype(np.float64) @ b.astype(np.float64))
            env = {"f": expr, "a": a, "b": b, "o": o}
            tn_plain["tnswift"] = ("f(a, b)", env)
            tn_out["tnswift"] = ("f(a, b, out=o)", env)
        except Exception as exc:
            plain.times["tnswift"] = with_out.times["tnswift"] = Failed(_short(exc))
    # anchors: numpy.einsum without optimize (its fastest form for tiny work)
    anchors = {"numpy": ("f(eq, a, b)", {"f": np.einsum, "eq": eq, "a": a, "b": b})}
    anchors_out = {"numpy": ("f(eq, a, b, out=o)",
                             {"f": np.einsum, "eq": eq, "a": a, "b": b, "o": o})}
    if oe is not None:
        oexpr = oe.contract_expression(eq, a.shape, b.shape)
        anchors["opt_einsum"] = ("f(a, b)", {"f": oexpr, "a": a, "b": b})
        anchors_out["opt_einsum"] = ("f(a, b, out=o)", {"f": oexpr, "a": a, "b": b, "o": o})
    refs = {"np.add 1 elem": ("f(x, x)", {"f": np.add, "x": np.ones(1, np.float32)})}
    if torch is not None:
        ta, tb, to = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(o)
        anchors["torch"] = ("f(eq, a, b)", {"f": torch.einsum, "eq": eq, "a": ta, "b": tb})
        anchors_out["torch"] = ("f(a, b, out=o)", {"f": torch.matmul, "a": ta, "b": tb, "o": to})
        t1 = torch.ones(1)
        refs["torch.add 1 elem"] = ("f(x, x)", {"f": torch.add, "x": t1})
    plain.times.update(measure_tiny({**tn_plain, **anchors}, st))
    with_out.times.update(measure_tiny({**tn_out, **anchors_out}, st))
    plain.notes.append("numpy.einsum without optimize (its fastest form for tiny work)")
    if torch is not None:
        with_out.notes.append("torch anchor with out=: torch.matmul(a, b, out=o)")
    ref_t = measure_tiny(refs, st)
    plain.notes.append("references: " + ", ".join(
        f"{k} {v * 1e6:.2f} us" for k, v in ref_t.items() if not isinstance(v, Failed)))
    return [plain, with_out]


def w9_rows(st, rate, extra):
    target = {"kind": "pct_sgemm", "value": 85.0}
    rows = []
    cases = [("W9 gemm 4096^2", "ij,jk->ik", [(4096, 4096), (4096, 4096)], st.gemm_samples),
             ("W9 bmm 64x256^3", "bij,bjk->bik", [(64, 256, 256), (64, 256, 256)], None)]
    lib, _ = _load_system_openblas()
    same_round_rate = None
    for label, eq, shapes, max_samples in cases:
        ops = make_ops(shapes)
        m, k = shapes[0][-2:]
        n = shapes[1][-1]
        batch = shapes[0][0] if len(shapes[0]) == 3 else 1
        fl = 2.0 * batch * m * n * k
        row = Row("W9", label, "fwd", fl, "formula 2*b*m*n*k", target)
        impls = {}
        if tnswift is not None:
            try:
                expr = tnswift.contract_expression(eq, *shapes, dtype="float32")
                row.tn_opt_cost = _opt_cost_of(expr)
                y = expr(*ops)
                ref = np.matmul(ops[0].astype(np.float64), ops[1].astype(np.float64))
                row.check = rel_err(y, ref)
                del ref
                out_buf = np.empty(y.shape, dtype=np.float32)
                impls["tnswift"] = lambda: expr(*ops, out=out_buf)
                impls["tnswift_alloc"] = lambda: expr(*ops)
            except Exception as exc:
                row.times["tnswift"] = Failed(_short(exc))
        impls["numpy"] = lambda: np.einsum(eq, *ops, optimize=True)
        if oe is not None:
            oexpr = oe.contract_expression(eq, *shapes)
            impls["opt_einsum"] = lambda: oexpr(*ops)
        if torch is not None:
            tops = [torch.from_numpy(o) for o in ops]
            impls["torch"] = lambda: torch.einsum(eq, *tops)
        if lib is not None and batch == 1:
            # the yardstick itself, measured in the same rounds as the row
            c_buf = np.empty((m, n), dtype=np.float32)
            impls["sgemm"] = sgemm_callable(lib, ops[0], ops[1], c_buf)
        row.times.update(measure(impls, st, max_samples=max_samples))
        t_sg = row.times.get("sgemm")
        if t_sg is not None and not isinstance(t_sg, Failed):
            same_round_rate = fl / t_sg / 1e9
            row.notes.append(f"cblas_sgemm in the same rounds: {t_sg * 1e3:.1f} ms = "
                             f"{same_round_rate:.1f} GFLOP/s (start of run: {rate or 0:.1f})")
        if same_round_rate:
            row.rate = same_round_rate  # %sgemm of W9 rows is against this rate
            if batch > 1:
                row.notes.append(f"%sgemm against the gemm row's same-round cblas_sgemm rate "
                                 f"({same_round_rate:.1f} GFLOP/s)")
        if "tnswift" in row.times:
            row.notes.append("tnswift timed with out= (as the sgemm rate is); "
                             "without out= see the variants")
        rows.append(row)
    return rows


# ------------------------------------------------- layers: W1, W2, W4, W5a, W5b (tnswift.nn)

def _tltorch():
    try:
        import tltorch  # noqa: F401
        return tltorch
    except Exception:
        return None


def layer_rows(wid, label, make, batch, dtype, targets, torch_eq=None, tltorch_make=None,
               dense_anchor=False, st=None):
    """Forward and forward+backward rows of one tnswift.nn layer against torch.einsum on the
    same factors (autograd), tltorch's factorized layer, and/or a dense torch GEMM."""
    rows = []
    if tnswift is None or not hasattr(tnswift, "nn"):
        r = Row(wid, f"{label} (tnswift.nn missing)", "fwd")
        r.notes.append("tnswift.nn is not importable")
        return [r]
    layer = make()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((batch, layer.in_features)).astype(dtype)
    dy = rng.standard_normal((batch, layer.out_features)).astype(dtype)
    params = list(layer.parameters().values())
    w64 = layer.to_dense().astype(np.float64)
    fl = 2.0 * batch * layer.in_features * layer.out_features
    report = layer.plan_report(batch)
    plan_flops = report.flops
    for kind in ("fwd", "fwd+bwd"):
        row = Row(wid, f"{label} {kind}", kind, plan_flops if kind == "fwd" else 3 * plan_flops,
                  "plan" if kind == "fwd" else "3x plan", targets.get(kind))
        impls = {}
        if kind == "fwd":
            impls["tnswift"] = lambda: layer(x)
        else:
            def tn_fb():
                layer(x)
                return layer.backward(dy)
            impls["tnswift"] = tn_fb
        if torch is not None:
            tx = torch.from_numpy(x)
            tdy = torch.from_numpy(dy)
            if torch_eq is not None:
                tparams = [torch.from_numpy(np.array(p)).requires_grad_(kind != "fwd") for p in params]
                txg = tx.clone().requires_grad_(True)
                if kind == "fwd":
                    impls["torch"] = lambda: torch.einsum(torch_eq, tx.reshape((batch,) + tuple(layer.in_modes)), *tparams)
                else:
                    def torch_fb():
                        y = torch.einsum(torch_eq, txg.reshape((batch,) + tuple(layer.in_modes)), *tparams)
                        return torch.autograd.grad(y, [txg] + tparams, tdy.reshape(y.shape))
                    impls["torch"] = torch_fb
            if dense_anchor:
                tw = torch.from_numpy(np.ascontiguousarray(w64.T.astype(dtype))).requires_grad_(kind != "fwd")
                txg2 = tx.clone().requires_grad_(True)
                if kind == "fwd":
                    impls["dense"] = lambda: torch.nn.functional.linear(tx, tw)
                else:
                    def dense_fb():
                        y = torch.nn.functional.linear(txg2, tw)
                        return torch.autograd.grad(y, [txg2, tw], tdy)
                    impls["dense"] = dense_fb
            if tltorch_make is not None and _tltorch() is not None:
                try:
                    tl_layer = tltorch_make()
                    if kind == "fwd":
                        def tl_fwd():
                            with torch.no_grad():
                                return tl_layer(tx)
                        impls["tltorch"] = tl_fwd
                    else:
                        txg3 = tx.clone().requires_grad_(True)
                        tparams3 = list(tl_layer.parameters())

                        def tl_fb():
                            y = tl_layer(txg3)
                            return torch.autograd.grad(y, [txg3] + tparams3, tdy)
                        impls["tltorch"] = tl_fb
                except Exception as exc:
                    row.times["tltorch"] = Failed(_short(exc))
        row.times.update(measure(impls, st))
        y = layer(x)
        row.check = rel_err(y, x.astype(np.float64) @ w64)
        if kind == "fwd":
            row.notes.append(("rebuilds the weight" if report.reconstructs_weight else "factorized")
                             + f"; plan {plan_flops:.3g} FLOPs vs dense {fl:.3g}")
        rows.append(row)
    return rows


def layer_workloads(st, rate, extra):
    nn = getattr(tnswift, "nn", None) if tnswift is not None else None
    tlt = _tltorch()
    rows = []
    r = lambda v, a: {"kind": "ratio", "value": v, "anchor": a}  # noqa: E731
    # W1 / W4 through EinsumLayer, against torch.einsum on the same factors.
    w1_shapes = tt_shapes(256, 8)[:4]
    rows += layer_rows("W1", "W1 layer b256 r8", lambda: nn.EinsumLayer(
        "nabcd,aei,bfij,cgjk,dhk->nefgh", w1_shapes, bias=False, dtype=np.float32), 256, np.float32,
        {"fwd": r(0.4, "torch"), "fwd+bwd": r(0.35, "torch")},
        torch_eq="nabcd,aei,bfij,cgjk,dhk->nefgh", st=st)
    rows += layer_rows("W4", "W4 layer b256", lambda: nn.EinsumLayer(
        W4_EQ, [(32, 32, 2), (32, 32, 2)], bias=False, dtype=np.float32), 256, np.float32,
        {"fwd": r(0.5, "torch"), "fwd+bwd": r(0.5, "torch")}, torch_eq=W4_EQ, st=st)
    # W2: the seed CP layer, float64, against tltorch's factorized CP layer.
    rows += layer_rows("W2", "W2 CP 256->128 r100 b32 f64", lambda: nn.CPLinear(
        (4, 4, 16), (4, 4, 8), 100, bias=False, dtype=np.float64), 32, np.float64,
        {"fwd": r(0.05, "tltorch"), "fwd+bwd": r(0.05, "tltorch")},
        torch_eq="zabc,R,aR,bR,cR,mR,nR,oR->zmno",
        tltorch_make=(lambda: tlt.FactorizedLinear((4, 4, 16), (4, 4, 8), bias=False, factorization="cp",
                                                   rank=100, implementation="factorized").double())
        if tlt else None, st=st)
    # W5a: TT 4^5 -> 4^5 rank 8, batch 256: at most 1.1x the dense GEMM.
    rows += layer_rows("W5a", "W5a TT 1024 r8 b256", lambda: nn.TTLinear(
        (4,) * 5, (4,) * 5, 8, bias=False, dtype=np.float32), 256, np.float32,
        {"fwd": r(1.1, "dense"), "fwd+bwd": r(1.1, "dense")}, dense_anchor=True,
        tltorch_make=(lambda: tlt.FactorizedLinear((4,) * 5, (4,) * 5, bias=False, factorization="blocktt",
                                                   rank=8, implementation="factorized")) if tlt else None,
        st=st)
    # W5b: Novikov's VGG FC layer, batch 1 and 100.
    for b in (1, 100):
        rows += layer_rows("W5b", f"W5b TT 25088->4096 r4 b{b}", lambda: nn.TTLinear(
            (2, 7, 8, 8, 7, 4), (4,) * 6, 4, bias=False, dtype=np.float32), b, np.float32,
            {"fwd": r(0.2, "tltorch"), "fwd+bwd": r(0.2, "tltorch")}, dense_anchor=True,
            tltorch_make=(lambda: tlt.FactorizedLinear((2, 7, 8, 8, 7, 4), (4,) * 6, bias=False,
                                                       factorization="blocktt", rank=4,
                                                       implementation="factorized")) if tlt else None,
            st=st)
    return rows


# --------------------------------------- BRIDGE: training steps through tnswift.torch

def _sgd_step(module, x, dy, opt):
    """One training step of a torch module: forward, backward of sum(y * dy), SGD step."""
    def step():
        x.grad = None
        module(x).backward(dy)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step


def bridge_rows(st, rate, extra):
    """One SGD training step (forward, backward with dx, optimizer step) of the W1, W2 and W5b
    layers through tnswift.torch, against the same layer in tltorch (W1 also against
    torch.einsum on the TT cores, W5b against a dense torch Linear, as their layer rows do)."""
    if tnswift is None or torch is None:
        r = Row("BRIDGE", "bridge (needs tnswift and torch)", "step")
        r.notes.append("tnswift or torch is not importable")
        return [r]
    try:
        import tnswift.torch as tnt
    except Exception as exc:
        r = Row("BRIDGE", "bridge (tnswift.torch missing)", "step")
        r.notes.append(_short(exc))
        return [r]
    tlt = _tltorch()
    lr = 1e-7  # tiny: the parameters change every step (as in training) but stay O(1)
    f32, f64 = torch.float32, torch.float64
    cases = [
        ("W1", "bridge W1 TT 4096->16 r8 b256 step", 256,
         lambda: tnt.TTLinear((8,) * 4, (2,) * 4, 8, bias=False, dtype=f32),
         lambda: tlt.FactorizedLinear((8,) * 4, (2,) * 4, bias=False, factorization="blocktt", rank=8,
                                      implementation="factorized"), "einsum"),
        ("W2", "bridge W2 CP 256->128 r100 b32 f64 step", 32,
         lambda: tnt.CPLinear((4, 4, 16), (4, 4, 8), 100, bias=False, dtype=f64),
         lambda: tlt.FactorizedLinear((4, 4, 16), (4, 4, 8), bias=False, factorization="cp", rank=100,
                                      implementation="factorized").double(), None),
    ] + [
        ("W5b", f"bridge W5b TT 25088->4096 r4 b{b} step", b,
         lambda: tnt.TTLinear((2, 7, 8, 8, 7, 4), (4,) * 6, 4, bias=False, dtype=f32),
         lambda: tlt.FactorizedLinear((2, 7, 8, 8, 7, 4), (4,) * 6, bias=False, factorization="blocktt",
                                      rank=4, implementation="factorized"), "dense")
        for b in (1, 100)]
    rows = []
    for wid, label, batch, make, tl_make, extra_anchor in cases:
        m = make()
        dtype = m.layer.dtype
        report = m.plan_report(batch)
        row = Row(wid, label, "step", 3 * report.flops, "3x plan")
        row.main_name = "bridge"
        rng = np.random.default_rng(3)
        x_np = rng.standard_normal((batch, m.in_features)).astype(dtype)
        dy_np = rng.standard_normal((batch, m.out_features)).astype(dtype)
        w64 = m.layer.to_dense().astype(np.float64)
        row.check = rel_err(m(torch.from_numpy(x_np)).detach().numpy(), x_np.astype(np.float64) @ w64)
        impls = {}
        tx = torch.from_numpy(x_np).requires_grad_(True)  # dx too: the layer sits inside a network
        tdy = torch.from_numpy(dy_np)
        impls["tnswift"] = _sgd_step(m, tx, tdy, torch.optim.SGD(m.parameters(), lr=lr))
        native = make().layer
        native_opt = tnswift.optim.SGD([native], lr=lr)

        def native_step(layer=native, opt=native_opt):
            layer(x_np)
            layer.backward(dy_np)
            opt.step()
        impls["tnswift_native"] = native_step
        if tl_make is not None and tlt is not None:
            try:
                tl_layer = tl_make()
                impls["tltorch"] = _sgd_step(tl_layer, tx.detach().clone().requires_grad_(True), tdy,
                                             torch.optim.SGD(tl_layer.parameters(), lr=lr))
            except Exception as exc:
                row.times["tltorch"] = Failed(_short(exc))
        if extra_anchor == "einsum":  # the TT cores as leaf tensors, contracted by torch.einsum
            cores = [p.detach().clone().requires_grad_(True) for p in m.parameters()]
            eq = "nabcd,xaei,ibfj,jcgk,kdhy->nefgh"
            tcx = tx.detach().clone().requires_grad_(True)
            opt_t = torch.optim.SGD(cores, lr=lr)

            def torch_step():
                tcx.grad = None
                torch.einsum(eq, tcx.reshape(batch, 8, 8, 8, 8), *cores).reshape(batch, -1).backward(tdy)
                opt_t.step()
                opt_t.zero_grad(set_to_none=True)
            impls["torch"] = torch_step
        if extra_anchor == "dense":
            dense = torch.nn.Linear(m.in_features, m.out_features, bias=False)
            impls["dense"] = _sgd_step(dense, tx.detach().clone().requires_grad_(True), tdy,
                                       torch.optim.SGD(dense.parameters(), lr=lr))
        row.times.update(measure(impls, st))
        row.notes.append("step = forward, backward of sum(y * dy) with dx, torch.optim.SGD step; "
                         + ("rebuilds the weight" if report.reconstructs_weight else "factorized")
                         + f" plan at b{batch}")
        rows.append(row)
    return rows


# ---------------------------------------------------------------- W3: CP convolution

def _conv_reference(x, k):
    """y of a stride-1, "same"-padded (odd kernel) convolution in float64, tap by tap."""
    kh, kw = k.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
    h, w = x.shape[2:]
    return sum(np.einsum("nchw,oc->nohw", xp[:, :, i:i + h, j:j + w], k[:, :, i, j]) for i in range(kh) for j in range(kw))


def w3_rows(st, rate, extra):
    """The seed's CP convolution (16 -> 32 channels, tensorized (4, 4) -> (4, 8), 3x3, rank 100,
    padding "same", input 1x16x32x32, f64) against tltorch's FactorizedConv (CP, factorized
    implementation) and a dense torch conv2d on the reconstructed kernel."""
    nn = getattr(tnswift, "nn", None) if tnswift is not None else None
    if nn is None or not hasattr(nn, "CPConv2d"):
        r = Row("W3", "W3 CP conv (tnswift.nn.CPConv2d missing)", "fwd")
        r.notes.append("tnswift.nn.CPConv2d is not importable")
        return [r]
    tlt = _tltorch()
    layer = nn.CPConv2d((4, 4), (4, 8), 3, 100, padding="same", bias=False, dtype=np.float64)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 16, 32, 32))
    dy = rng.standard_normal((1, 32, 32, 32))
    kernel = layer.to_dense()
    fl = 2.0 * 32 * 16 * 9 * 32 * 32
    y_ref = _conv_reference(x, kernel)
    rows = []
    for kind in ("fwd", "fwd+bwd"):
        row = Row("W3", f"W3 CP conv 16->32 3x3 r100 f64 {kind}", kind, fl if kind == "fwd" else 3 * fl,
                  "dense conv" if kind == "fwd" else "3x dense conv",
                  {"kind": "ratio", "value": 0.2, "anchor": "tltorch"} if kind == "fwd+bwd" else None)
        impls = {}
        if kind == "fwd":
            impls["tnswift"] = lambda: layer(x)
        else:
            def tn_fb():
                layer(x)
                return layer.backward(dy)
            impls["tnswift"] = tn_fb
        if torch is not None:
            tx = torch.from_numpy(x)
            tdy = torch.from_numpy(dy)
            tk = torch.from_numpy(kernel.copy()).requires_grad_(kind != "fwd")
            txg = tx.clone().requires_grad_(True)
            if kind == "fwd":
                impls["dense"] = lambda: torch.nn.functional.conv2d(tx, tk, padding=1)
            else:
                def dense_fb():
                    y = torch.nn.functional.conv2d(txg, tk, padding=1)
                    return torch.autograd.grad(y, [txg, tk], tdy)
                impls["dense"] = dense_fb
            if tlt is not None:
                try:
                    tl_layer = tlt.FactorizedConv(16, 32, 3, order=2, rank=100, factorization="cp", padding=1,
                                                  bias=False, implementation="factorized").double()
                    if kind == "fwd":
                        def tl_fwd():
                            with torch.no_grad():
                                return tl_layer(tx)
                        impls["tltorch"] = tl_fwd
                    else:
                        txg3 = tx.clone().requires_grad_(True)
                        tparams = list(tl_layer.parameters())

                        def tl_fb():
                            y = tl_layer(txg3)
                            return torch.autograd.grad(y, [txg3] + tparams, tdy)
                        impls["tltorch"] = tl_fb
                except Exception as exc:
                    row.times["tltorch"] = Failed(_short(exc))
        row.times.update(measure(impls, st))
        row.check = rel_err(layer(x), y_ref)
        rows.append(row)
    return rows


# ---------------------------------------------------------------- W6: TT embedding

def w6_rows(st, rate, extra):
    """A TT embedding 100000 x 256, rank 16, 3 modes, 4096 random lookups, f32, against
    tltorch's FactorizedEmbedding (blocktt) with the same modes and the same core values, and a
    dense torch embedding for scale. fwd+bwd is the rows plus every core's gradient."""
    nn = getattr(tnswift, "nn", None) if tnswift is not None else None
    if nn is None or not hasattr(nn, "TTEmbedding"):
        r = Row("W6", "W6 TT embedding (tnswift.nn.TTEmbedding missing)", "fwd")
        r.notes.append("tnswift.nn.TTEmbedding is not importable")
        return [r]
    tlt = _tltorch()
    rng = np.random.default_rng(6)
    idx = rng.integers(0, 100_000, 4096)
    dy = rng.standard_normal((4096, 256)).astype(np.float32)
    tl_layer = None
    rows_modes, col_modes = (25, 25, 160), (4, 4, 16)    # tltorch's choice for this shape
    if tlt is not None:
        try:
            tl_layer = tlt.FactorizedEmbedding(100_000, 256, rank=16, factorization="blocktt", n_tensorized_modes=3)
            rows_modes = tuple(int(f.shape[1]) for f in tl_layer.weight.factors)
            col_modes = tuple(int(f.shape[2]) for f in tl_layer.weight.factors)
        except Exception as exc:
            tl_layer = Failed(_short(exc))
    layer = nn.TTEmbedding(100_000, 256, rank=16, row_modes=rows_modes, col_modes=col_modes, std=0.05)
    if tl_layer is not None and not isinstance(tl_layer, Failed):
        for p, f in zip(layer.parameters().values(), tl_layer.weight.factors):
            p[...] = f.detach().numpy()
    cores = [c.astype(np.float64) for c in layer.parameters().values()]
    # rows in float64 from the cores: chain the core slices of each looked-up row
    digits, rest = [], idx.copy()
    for v in reversed(rows_modes):
        digits.append(rest % v)
        rest //= v
    digits.reverse()
    ref = cores[0][0][digits[0]]                                  # (n, d1, r1)
    for k in (1, 2):
        ref = np.einsum("npr,rnds->npds", ref, cores[k][:, digits[k]]).reshape(len(idx), -1, cores[k].shape[3])
    ref = ref.reshape(len(idx), 256)
    out = []
    for kind in ("fwd", "fwd+bwd"):
        row = Row("W6", f"W6 TT embedding 100000x256 r16 {rows_modes}x{col_modes} 4096 f32 {kind}", kind,
                  target={"kind": "ratio", "value": 0.25 if kind == "fwd" else 0.1, "anchor": "tltorch"})
        impls = {}
        if kind == "fwd":
            impls["tnswift"] = lambda: layer(idx)
        else:
            def tn_fb():
                layer(idx)
                return layer.backward(dy)
            impls["tnswift"] = tn_fb
        if torch is not None:
            ti = torch.from_numpy(idx)
            tdy = torch.from_numpy(dy)
            dense = torch.from_numpy(rng.standard_normal((100_000, 256)).astype(np.float32)).requires_grad_(kind != "fwd")
            if kind == "fwd":
                impls["dense"] = lambda: torch.nn.functional.embedding(ti, dense)
            else:
                def dense_fb():
                    return torch.autograd.grad(torch.nn.functional.embedding(ti, dense), [dense], tdy)
                impls["dense"] = dense_fb
            if isinstance(tl_layer, Failed):
                row.times["tltorch"] = tl_layer
            elif tl_layer is not None:
                tparams = list(tl_layer.parameters())
                if kind == "fwd":
                    def tl_fwd():
                        with torch.no_grad():
                            return tl_layer(ti)
                    impls["tltorch"] = tl_fwd
                else:
                    def tl_fb():
                        return torch.autograd.grad(tl_layer(ti), tparams, tdy)
                    impls["tltorch"] = tl_fb
        row.times.update(measure(impls, st))
        row.check = rel_err(layer(idx), ref)
        out.append(row)
    return out


# ---------------------------------------------------------------- W7: decompositions

W7_TOL = 1e-9  # tnswift's relative error may exceed TensorLy's by at most this much


def w7_cases(seed=0):
    """(label, tnswift call, tensorly call, input) for the four W7 decompositions, f64."""
    rng = np.random.default_rng(seed)
    cores = [rng.standard_normal(s) for s in [(1, 32, 8), (8, 32, 8), (8, 32, 8), (8, 32, 1)]]
    tt_x = np.einsum("aib,bjc,ckd,dle->ijkl", *cores) + 1e-3 * rng.standard_normal((32,) * 4)
    w = rng.standard_normal((1024, 1024))
    cp_x = rng.standard_normal((64, 64, 64))
    tk_x = rng.standard_normal((100, 100, 100))
    dec = tnswift.decompose if tnswift is not None else None
    cases = []
    cases.append(("W7 TT-SVD 32^4 r8", tt_x,
                  (lambda: dec.tensor_train(tt_x, rank=8)) if dec else None,
                  lambda: tl_dec.tensor_train(tt_x, rank=[1, 8, 8, 8, 1]),
                  lambda res: tl.tt_to_tensor(res)))
    w_t = w.reshape((4,) * 10)
    cases.append(("W7 TT-matrix 1024^2 r16", w,
                  (lambda: dec.tt_matrix(w, [4] * 5, [4] * 5, rank=16)) if dec else None,
                  lambda: tl_dec.tensor_train_matrix(w_t, rank=16),
                  lambda res: tl.tt_matrix_to_tensor(res).reshape(1024, 1024)))
    cases.append(("W7 CP-ALS 64^3 r16 100it", cp_x,
                  (lambda: dec.parafac(cp_x, 16, n_iter_max=100, tol=0.0)) if dec else None,
                  lambda: tl_dec.parafac(cp_x, 16, n_iter_max=100, tol=0.0, init="svd"),
                  lambda res: tl.cp_to_tensor(res)))
    cases.append(("W7 Tucker-HOOI 100^3 r20 20it", tk_x,
                  (lambda: dec.tucker(tk_x, 20, n_iter_max=20, tol=0.0)) if dec else None,
                  lambda: tl_dec.tucker(tk_x, rank=[20, 20, 20], n_iter_max=20, tol=0.0),
                  lambda res: tl.tucker_to_tensor(res)))
    return cases


def w7_rows(st, rate, extra):
    # tltorch switches TensorLy to its PyTorch backend on import; W7 compares on NumPy arrays.
    if tl is not None:
        with tl.backend_context("numpy"):
            return _w7_rows(st)
    return _w7_rows(st)


def _w7_rows(st):
    rows = []
    target = {"kind": "ratio", "value": 0.2, "anchor": "tensorly"}
    for label, x, ours, theirs, tl_dense in w7_cases():
        row = Row("W7", label, "fwd", target=target)
        impls = {}
        if ours is not None:
            impls["tnswift"] = ours
        if tl is not None:
            impls["tensorly"] = theirs
        row.times.update(measure(impls, st, max_samples=st.slow_samples))
        norm = np.linalg.norm(x)
        errs = {}
        if ours is not None:
            errs["tnswift"] = float(np.linalg.norm(ours().to_dense() - x) / norm)
        if tl is not None:
            errs["tensorly"] = float(np.linalg.norm(tl_dense(theirs()) - x) / norm)
        row.notes.append("rel. error " + ", ".join(f"{k} {v:.3e}" for k, v in errs.items()))
        if "tnswift" in errs and "tensorly" in errs and errs["tnswift"] > errs["tensorly"] + W7_TOL:
            row.worse_error = True
        rows.append(row)
    rows.append(w7_memory_row())
    return rows


# VmHWM, not ru_maxrss: after fork a child's ru_maxrss starts at the parent's size.
W7_MEM_SCRIPT = r"""
import sys, numpy as np, tnswift
def peak():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) * 1024
n = 16384
w = np.empty((n, n), dtype=np.float32)
rng = np.random.default_rng(0)
for i in range(0, n, 1024):
    w[i:i + 1024] = rng.standard_normal((1024, n), dtype=np.float32)
before = peak()
modes = tnswift.decompose.balanced_modes(n, 7)
tt = tnswift.decompose.tt_matrix(w, modes, modes, rank=16)
after = peak()
print(before, after, w.nbytes, max(tt.ranks))
"""


def w7_memory_row():
    """Peak memory of a rank-16 TT-matrix of a 16384x16384 float32 matrix (in a subprocess)."""
    import subprocess
    row = Row("W7", "W7 TT-matrix 16384^2 f32 r16 memory", "fwd",
              target={"kind": "mem", "value": 3.0})
    if tnswift is None:
        row.notes.append("tnswift not importable")
        return row
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", W7_MEM_SCRIPT], capture_output=True, text=True)
    row.times["tnswift"] = time.perf_counter() - t0
    if proc.returncode != 0:
        row.times["tnswift"] = Failed(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
        return row
    before, after, nbytes, rank = (float(v) for v in proc.stdout.split())
    row.mem_ratio = after / nbytes
    row.notes.append(f"peak RSS {after / 2**30:.2f} GiB = {row.mem_ratio:.2f}x the {nbytes / 2**30:.0f} GiB "
                     f"matrix (before the call {before / 2**30:.2f} GiB; max rank {rank:.0f}); "
                     "time includes generating the matrix")
    return row


WORKLOADS = {"W1": w1_rows, "W3": w3_rows, "W6": w6_rows, "W4": w4_rows, "W7": w7_rows, "W8": w8_rows, "W9": w9_rows,
             "LAYERS": layer_workloads, "BRIDGE": bridge_rows}


# --------------------------------------------------------------------------- verdict

def judge(row: Row, rate_gflops: float | None):
    tn = row.ms("tnswift")
    if row.tn_opt_cost and row.flops and row.kind != "call":
        q = row.tn_opt_cost / row.flops
        if q > 1.1 or q < 0.5:
            row.notes.append(f"tnswift plan opt_cost {row.tn_opt_cost:.3g} vs optimal "
                             f"{row.flops:.3g} ({q:.2f}x)")
    if row.check is not None and not (row.check <= F32_TOL):
        row.status = "WRONG"
        row.notes.append(f"tnswift rel. error {row.check:.2e} > {F32_TOL:g}")
        return
    t = row.target
    roof_ms = (row.flops / (rate_gflops * 1e9) * 1e3
               if rate_gflops and row.flops and row.flops == row.flops else None)
    if t is None:
        row.target_text = "info" + (f" (roof {roof_ms:.3g} ms)" if roof_ms else "")
        row.status = "info" if tn is not None else "-"
        return
    if t["kind"] == "ratio":
        anchor_ms = row.ms(t["anchor"])
        if anchor_ms is not None:
            row.target_text = f"<= {t['value']:g}x {t['anchor']}"
            row.goal_ms = t["value"] * anchor_ms
        elif roof_ms is not None:
            row.target_text = f"<= 2x roofline {roof_ms:.3g} ms ({t['anchor']} absent)"
            row.goal_ms = 2 * roof_ms
        else:
            row.target_text, row.goal_ms = "n/a", None
        if tn is None or row.goal_ms is None:
            row.status = "-"
        else:
            row.status = "PASS" if tn <= row.goal_ms else "MISS"
            if getattr(row, "worse_error", False):
                row.status = "MISS"
                row.notes.append("tnswift's error is above TensorLy's")
    elif t["kind"] == "abs_us":
        row.target_text = f"<= {t['value']:g} us/call"
        row.status = "-" if tn is None else ("PASS" if tn * 1e3 <= t["value"] else "MISS")
    elif t["kind"] == "mem":
        ratio = getattr(row, "mem_ratio", None)
        row.target_text = f"peak < {t['value']:g}x input"
        row.status = "-" if ratio is None else ("PASS" if ratio < t["value"] else "MISS")
    elif t["kind"] == "pct_sgemm":
        row.target_text = f">= {t['value']:g}% sgemm"
        pct = row_pct(row, rate_gflops)
        row.status = "-" if pct is None else ("PASS" if pct >= t["value"] else "MISS")


def row_gflops(row: Row):
    tn = row.ms("tnswift")
    if tn is None or row.kind == "call" or not row.flops or row.flops != row.flops:
        return None
    return row.flops / (tn * 1e-3) / 1e9


def row_pct(row: Row, rate):
    rate = row.rate or rate
    g = row_gflops(row)
    return None if g is None or not rate else 100.0 * g / rate


# ---------------------------------------------------------------------------- output

def fmt_time(row: Row, name: str) -> str:
    v = row.times.get(name)
    if v is None:
        return "-"
    if isinstance(v, Failed):
        return "error"
    if row.kind == "call":
        return f"{v * 1e6:.2f}us"
    ms = v * 1e3
    return f"{ms:.3f}" if ms < 10 else (f"{ms:.2f}" if ms < 100 else f"{ms:.1f}")


def fmt_anchor(row: Row, name: str) -> str:
    base = fmt_time(row, name)
    tn = row.ms("tnswift")
    an = row.ms(name)
    if tn is None or an is None or base in ("-", "error"):
        return base
    return f"{base} ({tn / an:.2f}x)"


def render_table(rows, anchors_present, rate):
    head = (["workload", "tnswift ms"] + [f"{a} ms (ratio)" for a in anchors_present]
            + ["GFLOP/s", "%sgemm", "target", "result"])
    body = []
    for r in rows:
        g = row_gflops(r)
        p = row_pct(r, rate)
        body.append([r.label, fmt_time(r, "tnswift")] + [fmt_anchor(r, a) for a in anchors_present]
                    + ["-" if g is None else (f"{g:.3g}" if g < 1 else f"{g:.1f}"),
                       "-" if p is None else f"{p:.1f}",
                       getattr(r, "target_text", "-"), r.status or "-"])
    widths = [max(len(str(x[i])) for x in [head] + body) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                       for i, (c, w) in enumerate(zip(line, widths)))
             for line in [head] + body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def row_json(r: Row, rate):
    def t(name):
        v = r.times.get(name)
        if v is None:
            return None
        if isinstance(v, Failed):
            return {"error": v.msg}
        return v * 1e3
    tn = r.ms("tnswift")
    return {
        "id": r.id, "workload": r.label, "kind": r.kind, "informational": r.info,
        "flops": r.flops, "flops_source": r.flops_source, "tnswift_opt_cost": r.tn_opt_cost,
        "tnswift_ms": t("tnswift"),
        "tnswift_variants_ms": {k: t(k) for k in r.times if k.startswith("tnswift_")},
        "anchors_ms": {a: t(a) for a in ANCHORS if a in r.times},
        "ratio_tnswift_over": {a: (tn / r.ms(a)) for a in ANCHORS
                               if tn is not None and r.ms(a) is not None},
        "gflops": row_gflops(r), "pct_sgemm": row_pct(r, rate), "sgemm_gflops": r.rate or rate,
        "target": getattr(r, "target_text", None), "status": r.status,
        "rel_error_vs_float64": r.check, "notes": r.notes,
    }


_KEEP = []  # threadpoolctl limiter objects stay alive for the whole run


def set_threads(n: int) -> dict:
    """Put every library on n threads; returns what was set (or why not)."""
    done = {}
    if tnswift is not None and hasattr(tnswift, "set_num_threads"):
        try:
            tnswift.set_num_threads(n)
            done["tnswift"] = n
        except Exception as exc:
            done["tnswift"] = _short(exc)
    lib, _ = _load_system_openblas()
    if lib is not None and hasattr(lib, "openblas_set_num_threads"):
        lib.openblas_set_num_threads(ctypes.c_int(n))
        done["system OpenBLAS"] = int(lib.openblas_get_num_threads())
    try:
        from threadpoolctl import threadpool_limits
        _KEEP.append(threadpool_limits(limits=n))  # numpy's OpenBLAS, OpenMP, MKL ...
        done["threadpoolctl"] = n
    except Exception as exc:
        done["threadpoolctl"] = "unavailable: numpy's own BLAS keeps its default (" + _short(exc) + ")"
    if torch is not None:
        torch.set_num_threads(n)
        done["torch"] = torch.get_num_threads()
    return done


def versions():
    v = {"python": platform.python_version(), "numpy": np.__version__,
         "opt_einsum": getattr(oe, "__version__", None) if oe else None,
         "torch": getattr(torch, "__version__", None) if torch else None,
         "tensorly": getattr(tl, "__version__", None) if tl else None,
         "tnswift": getattr(tnswift, "__version__", "unknown") if tnswift else None}
    if torch is not None:
        v["torch_threads"] = torch.get_num_threads()
    try:
        from threadpoolctl import threadpool_info
        v["threadpools"] = [{k: p.get(k) for k in ("internal_api", "version", "num_threads",
                                                    "architecture", "filepath")}
                            for p in threadpool_info()]
    except Exception:
        pass
    return v


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short budgets (a smoke run, ~2 min)")
    ap.add_argument("--only", default="", help="comma list of workloads, e.g. W1,W4")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--no-extra", action="store_true",
                    help="skip the informational extra shapes (W1x, W4x)")
    ap.add_argument("--threads", type=int, default=0, metavar="N",
                    help="set every library (tnswift, both OpenBLAS copies, torch) to N threads; "
                         "default: leave each library's own default")
    ap.add_argument("--sgemm-size", type=int, default=4096, metavar="N",
                    help="size of the square GEMM that sets the sgemm rate (default 4096)")
    args = ap.parse_args(argv)

    st = Settings(args.quick)
    wanted = [w.strip().upper() for w in args.only.split(",") if w.strip()] or list(WORKLOADS)
    unknown = [w for w in wanted if w not in WORKLOADS]
    if unknown:
        ap.error(f"unknown workload(s) {unknown}; valid: {', '.join(WORKLOADS)}")

    started = time.time()
    load0 = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"tnswift bench  {time.strftime('%Y-%m-%d %H:%M:%S')}  cpu: {cpu_name()} x{os.cpu_count()}"
          + (f"  load: {load0[0]:.2f}" if load0 else ""))
    if tnswift is None:
        print(f"!! tnswift NOT importable -- tnswift columns are empty (anchors only): {TNSWIFT_ERROR}")
    present = (["numpy"] + (["opt_einsum"] if oe else []) + (["torch"] if torch else [])
               + (["tensorly"] if tl else []) + (["tltorch"] if _tltorch() else [])
               + (["dense"] if torch else []))
    missing = [a for a in ANCHORS if a not in present]
    ver = versions()
    print("versions: " + ", ".join(f"{k} {ver[k]}" for k in ("numpy", "opt_einsum", "torch", "tensorly", "tnswift")
                                  if ver.get(k)))
    if missing:
        print(f"anchors not installed: {', '.join(missing)}"
              + ("  -> W1/W4 targets judged against the roofline "
                 "(2x optimal-path FLOPs at the sgemm rate)" if "torch" in missing else ""))
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if os.environ.get(var):
            print(f"env {var}={os.environ[var]}")

    if load0 and load0[0] > 0.5 * (os.cpu_count() or 1):
        print(f"!! machine busy (load {load0[0]:.2f} on {os.cpu_count()} cores): multi-threaded "
              "libraries stall at each barrier while a core is taken, which biases ratios toward "
              "whatever synchronises least; --threads 1 gives steadier ratios")
    threads_set = set_threads(args.threads) if args.threads > 0 else None
    if threads_set:
        print("threads: " + ", ".join(f"{k} {v}" for k, v in threads_set.items()))
    ver = versions()  # after set_threads, so the thread pools show the counts in force

    sg = measure_sgemm(st, args.sgemm_size)
    rate = sg.get("rate_gflops")
    print(f"sgemm {args.sgemm_size}^2 f32: system OpenBLAS {sg.get('openblas_gflops', float('nan')):.1f} GFLOP/s"
          f" ({sg.get('openblas_core', '?')}, {sg.get('openblas_threads', '?')} threads);"
          f" numpy.matmul {sg.get('numpy_gflops', float('nan')):.1f} GFLOP/s"
          f"  -> rate used: {rate:.1f} GFLOP/s ({sg['rate_source']})" if rate else
          "sgemm: could not measure a rate")

    rows: list[Row] = []
    for w in wanted:
        t0 = time.time()
        try:
            new = WORKLOADS[w](st, rate, not args.no_extra)
        except Exception as exc:  # keep the rest of the run
            r = Row(w, f"{w} (failed)", "fwd")
            r.notes.append(_short(exc))
            new = [r]
        for r in new:
            judge(r, rate)
        rows += new
        sys.stdout.flush()
        print(f"  {w}: {len(new)} rows in {time.time() - t0:.1f}s", file=sys.stderr, flush=True)

    print()
    print(render_table(rows, present, rate))
    notes = [(r.label, n) for r in rows for n in r.notes]
    fails = [(r.label, k, v.msg) for r in rows for k, v in r.times.items() if isinstance(v, Failed)]
    if notes or fails:
        print("\nnotes:")
        for label, n in notes:
            print(f"  {label}: {n}")
        for label, k, msg in fails:
            print(f"  {label}: {k} failed: {msg}")
    variants = [r for r in rows if any(k in r.times for k in VARIANTS)]
    if variants:
        print("\ntnswift variants (ms; the table's column is the first):")
        for r in variants:
            main_name = getattr(r, "main_name", None) or (
                "expr(*ops, out=)" if "tnswift_alloc" in r.times else "expr(*ops)")
            parts = [f"{main_name} {fmt_time(r, 'tnswift')}"] + [
                f"{VARIANTS[k]} {fmt_time(r, k)}" for k in VARIANTS if k in r.times]
            print(f"  {r.label:24s} " + " | ".join(parts))
    sg_end = measure_sgemm(st, args.sgemm_size, samples=st.gemm_samples)
    print(f"\nsgemm {args.sgemm_size}^2 at the end: system OpenBLAS "
          f"{sg_end.get('openblas_gflops', float('nan')):.1f} GFLOP/s, numpy.matmul "
          f"{sg_end.get('numpy_gflops', float('nan')):.1f} GFLOP/s (start: "
          f"{sg.get('openblas_gflops', float('nan')):.1f} / {sg.get('numpy_gflops', float('nan')):.1f})")
    load1 = os.getloadavg() if hasattr(os, "getloadavg") else None
    summary = {}
    for r in rows:
        summary[r.status or "-"] = summary.get(r.status or "-", 0) + 1
    print(f"\n{', '.join(f'{v} {k}' for k, v in sorted(summary.items()))}"
          f"; {time.time() - started:.0f}s"
          + (f"; load {load0[0]:.2f} -> {load1[0]:.2f}" if load0 and load1 else ""))

    if args.json:
        doc = {
            "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
            "seconds": time.time() - started, "quick": args.quick,
            "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "platform": platform.platform(),
                        "loadavg_start": load0, "loadavg_end": load1},
            "versions": ver, "tnswift_error": TNSWIFT_ERROR, "anchors_present": present,
            "threads": threads_set,
            "sgemm": sg, "sgemm_end": sg_end, "rows": [row_json(r, rate) for r in rows],
        }
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2, default=str)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
