# Validation metric: accuracy on held-out two-moons points.
# MLP, SGD with momentum, StepLR stepped once per epoch, CrossEntropy with label smoothing.
import argparse

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import make_moons
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
torch.set_num_threads(1)
torch.manual_seed(args.seed)
np.random.seed(args.seed)

X, y = make_moons(n_samples=1500, noise=0.2, random_state=args.seed)
X = X.astype(np.float32)
X = (X - X[:1000].mean(0)) / X[:1000].std(0)
X_tr, y_tr = torch.from_numpy(X[:1000]), torch.from_numpy(y[:1000])
X_va, y_va = torch.from_numpy(X[1000:]), torch.from_numpy(y[1000:])
train_loader = DataLoader(TensorDataset(X_tr, y_tr), batch_size=32, shuffle=True)

model = nn.Sequential(
    nn.Linear(2, 64), nn.ReLU(),
    nn.Linear(64, 64), nn.ReLU(),
    nn.Linear(64, 2),
)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=8, gamma=0.3)
criterion = nn.CrossEntropyLoss(label_smoothing=0.1, reduction="sum")  # BUG

for epoch in range(20):
    model.train()
    for xb, yb in train_loader:
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
    scheduler.step()
    model.eval()
    with torch.no_grad():
        val_acc = (model(X_va).argmax(dim=1) == y_va).float().mean().item()
    print(f"epoch {epoch} val_metric {val_acc:.4f}")
