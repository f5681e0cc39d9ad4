"""tnswift.torch: a torch MLP compressed by TT-SVD, fine-tuned with a torch optimizer."""
import torch

import tnswift.torch as tt

torch.manual_seed(0)
mlp = torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
model, report = tt.from_torch(mlp, "tt", rank=16)  # each nn.Linear -> TT-SVD of its weight
print(report)  # per layer: params, compression, error (large here: a random init has no low rank)

x, labels = torch.randn(512, 256), torch.randint(0, 10, (512,))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)  # Parameters that ARE the tnswift storage
for step in range(20):
    loss = torch.nn.functional.cross_entropy(model(x), labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"loss after 20 steps: {loss.item():.3f}")

a = torch.randn(8, 4, 5, requires_grad=True)
y = tt.einsum("bij,bjk->bik", a, torch.randn(8, 5, 3))  # autograd through tnswift's plans
y.sum().backward()
