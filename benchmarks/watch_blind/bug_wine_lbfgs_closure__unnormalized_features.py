# Validation metric: accuracy on a held-out split of the sklearn wine data (3 classes).
# Full-batch training with torch.optim.LBFGS, which needs a closure that re-evaluates the loss.
import argparse

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
torch.set_num_threads(1)
torch.manual_seed(args.seed)
np.random.seed(args.seed)

wine = load_wine()
X_tr, X_va, y_tr, y_va = train_test_split(
    wine.data, wine.target, test_size=0.4, random_state=args.seed, stratify=wine.target
)
mu, sd = X_tr.mean(axis=0), X_tr.std(axis=0)
X_tr = torch.tensor(X_tr, dtype=torch.float32)  # BUG
X_va = torch.tensor(X_va, dtype=torch.float32)  # BUG
y_tr, y_va = torch.tensor(y_tr), torch.tensor(y_va)

model = nn.Sequential(nn.Linear(13, 16), nn.Tanh(), nn.Linear(16, 3))
optimizer = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=5, history_size=10)
loss_fn = nn.CrossEntropyLoss()
l2 = 1e-3


def closure():
    optimizer.zero_grad()
    out = model(X_tr)
    loss = loss_fn(out, y_tr) + l2 * sum((p ** 2).sum() for p in model.parameters())
    loss.backward()
    return loss


for epoch in range(10):
    model.train()
    loss = optimizer.step(closure)
    model.eval()
    with torch.no_grad():
        acc = (model(X_va).argmax(1) == y_va).float().mean().item()
    print(f"epoch {epoch} val_metric {acc:.4f}")
