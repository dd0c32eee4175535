# Validation metric: accuracy on a held-out split of a synthetic 5-class make_classification problem.
# MLP trained with gradient accumulation (4 micro-batches per optimizer step) under
# torch.autocast on CPU with bfloat16, AdamW, CosineAnnealingLR stepped once per epoch.
import argparse

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--accum-steps", type=int, default=4)
args = parser.parse_args()
torch.set_num_threads(1)
torch.manual_seed(args.seed)
np.random.seed(args.seed)

X, y = make_classification(
    n_samples=2400, n_features=30, n_informative=15, n_redundant=5, n_classes=5,
    n_clusters_per_class=2, class_sep=1.5, random_state=args.seed,
)
X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.2, random_state=args.seed)
sc = StandardScaler().fit(X_tr)
X_tr, X_va = sc.transform(X_tr), sc.transform(X_va)

train_dl = DataLoader(
    TensorDataset(torch.tensor(X_tr, dtype=torch.float32), torch.tensor(y_tr)),
    batch_size=32, shuffle=True, drop_last=True,
)
X_va_t, y_va_t = torch.tensor(X_va, dtype=torch.float32), torch.tensor(y_va)

model = nn.Sequential(
    nn.Linear(30, 128), nn.GELU(),
    nn.Linear(128, 128), nn.GELU(),
    nn.Linear(128, 5),
)
EPOCHS = 10
optimizer = torch.optim.AdamW(model.parameters(), lr=4e-3, weight_decay=0.05)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS, eta_min=1e-5)
criterion = nn.CrossEntropyLoss()
ACC = args.accum_steps

for epoch in range(EPOCHS):
    model.train()
    optimizer.zero_grad()
    for step, (xb, yb) in enumerate(train_dl):
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            logits = model(xb)
            loss = criterion(logits.float(), yb) / ACC
        loss.backward()
        if (step + 1) % ACC == 0:
            optimizer.step()
            optimizer.zero_grad()
    scheduler.step()

    model.eval()
    with torch.no_grad(), torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        pred = model(X_va_t).argmax(dim=1)
    acc = (pred == y_va_t).float().mean().item()
    print(f"epoch {epoch} val_metric {acc:.4f}")
