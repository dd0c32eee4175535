"""Data-parallel training on CPU: `torchrun --nproc-per-node 2 ddp_gloo.py`. The gloo backend, a
DistributedSampler per rank, DistributedDataParallel averaging the gradients."""

import torch
import torch.distributed as dist
import torch.nn as nn
from sklearn.datasets import load_digits
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

torch.set_num_threads(1)


def main():
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    X, y = load_digits(return_X_y=True)
    X, y = torch.tensor(X, dtype=torch.float32) / 16.0, torch.tensor(y)
    dataset = TensorDataset(X[:1000], y[:1000])
    sampler = DistributedSampler(dataset, shuffle=True, seed=0)
    loader = DataLoader(dataset, batch_size=32, sampler=sampler)
    model = DistributedDataParallel(nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(4):
        sampler.set_epoch(epoch)
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            criterion(model(xb), yb).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(X[1000:])
            val_acc = (logits.argmax(dim=1) == y[1000:]).float().mean().item()
        if rank == 0:
            print(f"epoch {epoch + 1} val_acc {val_acc:.3f}", flush=True)
    if rank == 0:
        print(f"RESULT val_acc={val_acc:.4f} world_size={dist.get_world_size()}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
