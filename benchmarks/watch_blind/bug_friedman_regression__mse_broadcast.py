# Validation metric: R^2 on a held-out split of a synthetic Friedman-1 regression problem.
# MLP, RMSprop, MSE loss, ReduceLROnPlateau on the validation loss.
import argparse

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import make_friedman1
from sklearn.metrics import r2_score

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
torch.set_num_threads(1)
torch.manual_seed(args.seed)
np.random.seed(args.seed)

X, y = make_friedman1(n_samples=2000, n_features=10, noise=0.5, random_state=args.seed)
X = (X - X.mean(0)) / X.std(0)
n_tr = 1600
y_mean, y_std = y[:n_tr].mean(), y[:n_tr].std()
y_scaled = (y - y_mean) / y_std

X_t = torch.tensor(X, dtype=torch.float32)
y_t = torch.tensor(y_scaled, dtype=torch.float32)
X_tr, y_tr, X_va, y_va = X_t[:n_tr], y_t[:n_tr], X_t[n_tr:], y_t[n_tr:]

net = nn.Sequential(
    nn.Linear(10, 64), nn.Tanh(),
    nn.Linear(64, 64), nn.Tanh(),
    nn.Linear(64, 1),
)
opt = torch.optim.RMSprop(net.parameters(), lr=2e-3)
plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2)
mse = nn.MSELoss()

BATCH = 64
for epoch in range(25):
    net.train()
    perm = torch.randperm(n_tr)
    for i in range(0, n_tr, BATCH):
        idx = perm[i:i + BATCH]
        pred = net(X_tr[idx])  # BUG
        loss = mse(pred, y_tr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        pred_va = net(X_va).squeeze(1)
        val_loss = mse(pred_va, y_va).item()
    plateau.step(val_loss)
    r2 = r2_score(y_va.numpy() * y_std + y_mean, pred_va.numpy() * y_std + y_mean)
    print(f"epoch {epoch} val_metric {r2:.4f}")
