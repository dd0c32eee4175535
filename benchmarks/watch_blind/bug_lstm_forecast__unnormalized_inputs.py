# Validation metric: R^2 of one-step-ahead forecasts on the last part of a synthetic time series.
# 2-layer LSTM regressor over sliding windows, Adam, MSE loss, CosineAnnealingLR per epoch.
import argparse

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
torch.set_num_threads(1)
torch.set_flush_denormal(True)  # saturated LSTM gates produce denormals that are very slow on CPU
torch.manual_seed(args.seed)
rng = np.random.default_rng(args.seed)

# a sensor-like signal: two seasonalities + an AR(1) component + noise, in "raw units" (~ hundreds)
T = 3000
t = np.arange(T)
ar = np.zeros(T)
for i in range(1, T):
    ar[i] = 0.8 * ar[i - 1] + rng.normal(0, 1.0)
series = 400 + 60 * np.sin(2 * np.pi * t / 50) + 25 * np.sin(2 * np.pi * t / 13 + 1.0) + 10 * ar
split = 2400
mean, std = series[:split].mean(), series[:split].std()
norm = (series - mean) / std
WINDOW = 32


class Windows(Dataset):
    def __init__(self, values, start, stop):
        self.v = torch.tensor(values, dtype=torch.float32)
        self.idx = list(range(max(start, WINDOW), stop))

    def __len__(self):
        return len(self.idx)

    def __getitem__(self, k):
        i = self.idx[k]
        return self.v[i - WINDOW:i].unsqueeze(-1), self.v[i]


train_ds, val_ds = Windows(series, 0, split), Windows(series, split, T)  # BUG
train_loader = DataLoader(train_ds, batch_size=64, shuffle=True)
val_loader = DataLoader(val_ds, batch_size=len(val_ds))


class Forecaster(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, num_layers=2, batch_first=True)
        self.proj = nn.Linear(hidden, 1)

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        return self.proj(h[-1]).squeeze(-1)


EPOCHS = 8
model = Forecaster()
opt = torch.optim.Adam(model.parameters(), lr=5e-3)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS)
mse = nn.MSELoss()

for epoch in range(EPOCHS):
    model.train()
    for xb, yb in train_loader:
        opt.zero_grad()
        loss = mse(model(xb), yb)
        loss.backward()
        opt.step()
    sched.step()
    model.eval()
    with torch.no_grad():
        xb, yb = next(iter(val_loader))
        pred = model(xb)
        r2 = 1 - ((pred - yb) ** 2).sum() / ((yb - yb.mean()) ** 2).sum()
    print(f"epoch {epoch} val_metric {r2.item():.4f}")
