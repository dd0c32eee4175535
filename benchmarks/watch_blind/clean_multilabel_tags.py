# Validation metric: micro-averaged F1 over 6 binary tags (multi-label), threshold 0.5 on sigmoid.
# Synthetic "document features -> tags" data, MLP with BCEWithLogitsLoss, Adam, StepLR per epoch.
import argparse

import numpy as np
import torch
import torch.nn as nn
from sklearn.metrics import f1_score
from torch.utils.data import DataLoader, Dataset

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
torch.set_num_threads(1)
torch.manual_seed(args.seed)
rng = np.random.RandomState(args.seed)

N, D, K = 2400, 40, 6
W_true = rng.normal(size=(D, K))
B_true = rng.normal(size=(D, K))
X_all = rng.normal(size=(N, D)).astype(np.float32)
# each tag depends on a linear and a quadratic-ish interaction term
score = X_all @ W_true / np.sqrt(D) + 0.5 * np.tanh(X_all @ B_true / np.sqrt(D)) ** 2
Y_all = (score > np.quantile(score, 0.6, axis=0)).astype(np.float32)   # ~40% positives per tag


class TagDataset(Dataset):
    def __init__(self, X, Y):
        self.X, self.Y = torch.from_numpy(X), torch.from_numpy(Y)

    def __len__(self):
        return self.X.shape[0]

    def __getitem__(self, idx):
        return {"features": self.X[idx], "tags": self.Y[idx]}


train_ds = TagDataset(X_all[:2000], Y_all[:2000])
val_ds = TagDataset(X_all[2000:], Y_all[2000:])
loader = DataLoader(train_ds, batch_size=40, shuffle=True)


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(D, 96), nn.ReLU(), nn.Dropout(0.1), nn.Linear(96, K))

    def forward(self, x):
        return self.net(x)


tagger = Tagger()
optimizer = torch.optim.Adam(tagger.parameters(), lr=3e-3)
sched = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.5)
bce = nn.BCEWithLogitsLoss()

for epoch in range(12):
    tagger.train()
    for batch in loader:
        logits = tagger(batch["features"])
        loss = bce(logits, batch["tags"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    sched.step()

    tagger.eval()
    with torch.no_grad():
        probs = torch.sigmoid(tagger(val_ds.X))
    f1 = f1_score(val_ds.Y.numpy(), (probs > 0.5).numpy().astype(int), average="micro")
    print(f"epoch {epoch} val_metric {f1:.4f}")
