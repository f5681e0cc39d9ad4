"""The DistributedDataParallel worker of test_torch_bridge.py, in its own module so that the
spawned processes import only torch and tnswift (not pytest and the test module)."""

import datetime

import numpy as np
import torch

import tnswift
import tnswift.torch as tt

STEPS, GLOBAL_BATCH, LR = 20, 16, 0.05


def build(seed):
    """A bridged TT layer, tanh, a bridged CP layer; float64 so runs agree to round-off."""
    return torch.nn.Sequential(tt.TTLinear((3, 4), (2, 4), 3, dtype=torch.float64, seed=seed),
                               torch.nn.Tanh(),
                               tt.CPLinear((2, 4), (2, 2), 3, dtype=torch.float64, seed=seed + 100))


def batches():
    rng = np.random.default_rng(11)
    x = torch.from_numpy(rng.standard_normal((STEPS, GLOBAL_BATCH, 12)))
    y = torch.from_numpy(rng.standard_normal((STEPS, GLOBAL_BATCH, 4)))
    return x, y


def train(model, rank=0, world=1):
    """SGD on the mean squared error; each rank takes its slice of every global batch."""
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    x, y = batches()
    share = GLOBAL_BATCH // world
    rows = slice(rank * share, (rank + 1) * share)
    for step in range(STEPS):
        loss = torch.nn.functional.mse_loss(model(x[step, rows]), y[step, rows])
        opt.zero_grad()
        loss.backward()
        opt.step()


def worker(rank, world, init_method, out_dir):
    torch.set_num_threads(1)
    tnswift.set_num_threads(1)
    torch.distributed.init_process_group("gloo", init_method=init_method, rank=rank, world_size=world,
                                         timeout=datetime.timedelta(seconds=60))
    try:
        # Every rank starts from a different initialisation: DDP's broadcast of rank 0's
        # parameters has to land in the tnswift layers' storage.
        model = build(seed=rank)
        train(torch.nn.parallel.DistributedDataParallel(model), rank, world)
        torch.save({"torch": {k: v.detach().clone() for k, v in model.state_dict().items()},
                    "tnswift": [{k: v.copy() for k, v in m.layer.parameters().items()}
                                for m in model if isinstance(m, tt._Bridge)]},
                   f"{out_dir}/rank{rank}.pt")
    finally:
        torch.distributed.destroy_process_group()
