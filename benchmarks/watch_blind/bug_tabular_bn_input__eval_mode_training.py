# Validation metric: accuracy on a held-out split of a synthetic 3-class tabular problem.
# Features come in heterogeneous "raw units" (large offsets and scales, like prices, ages, counts);
# instead of a StandardScaler the model normalises its input with a BatchNorm1d layer.
# SGD with Nesterov momentum, dropout, baseline evaluation before training.
import argparse

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import make_classification

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
torch.set_num_threads(1)
torch.manual_seed(args.seed)
rng = np.random.default_rng(args.seed)

N_FEAT = 16
X, y = make_classification(
    n_samples=3000, n_features=N_FEAT, n_informative=8, n_redundant=4, n_classes=3,
    class_sep=1.2, random_state=args.seed,
)
scales = 10.0 ** rng.uniform(-1, 3, size=N_FEAT)
offsets = rng.uniform(-500, 2000, size=N_FEAT)
X = X * scales + offsets

idx = rng.permutation(len(X))
tr, va = idx[:2400], idx[2400:]
X_tr, y_tr = torch.tensor(X[tr], dtype=torch.float32), torch.tensor(y[tr])
X_va, y_va = torch.tensor(X[va], dtype=torch.float32), torch.tensor(y[va])

model = nn.Sequential(
    nn.BatchNorm1d(N_FEAT),            # input normalisation learned from batch statistics
    nn.Linear(N_FEAT, 64), nn.ReLU(), nn.Dropout(0.2),
    nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.2),
    nn.Linear(64, 3),
)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
criterion = nn.CrossEntropyLoss()


def accuracy(net, X, y):
    net.eval()
    with torch.no_grad():
        return (net(X).argmax(1) == y).float().mean().item()


print(f"before training: val acc {accuracy(model, X_va, y_va):.4f}")
BATCH = 64
for epoch in range(15):
    # model.train()  # BUG
    order = torch.randperm(len(X_tr))
    for start in range(0, len(order), BATCH):
        b = order[start:start + BATCH]
        optimizer.zero_grad()
        loss = criterion(model(X_tr[b]), y_tr[b])
        loss.backward()
        optimizer.step()
    print(f"epoch {epoch} val_metric {accuracy(model, X_va, y_va):.4f}")
