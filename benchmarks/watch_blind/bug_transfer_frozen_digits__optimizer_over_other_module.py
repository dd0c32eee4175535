# Validation metric: accuracy on held-out digits 5..9 (5-way).
# Transfer learning: an MLP backbone is pretrained on digits 0..4, then frozen; a fresh linear
# head is trained on a small labelled set of digits 5..9 on top of the frozen features.
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
torch.set_num_threads(1)
torch.manual_seed(args.seed)
np.random.seed(args.seed)

X, y = load_digits(return_X_y=True)
X = X / 16.0
src = y < 5
X_src, y_src = X[src], y[src]
X_tgt, y_tgt = X[~src], y[~src] - 5
# few labelled target examples, the rest is validation
X_tgt_tr, X_tgt_va, y_tgt_tr, y_tgt_va = train_test_split(
    X_tgt, y_tgt, train_size=100, random_state=args.seed, stratify=y_tgt
)
T = lambda a, dt=torch.float32: torch.tensor(a, dtype=dt)
X_src, y_src = T(X_src), T(y_src, torch.long)
X_tgt_tr, y_tgt_tr = T(X_tgt_tr), T(y_tgt_tr, torch.long)
X_tgt_va, y_tgt_va = T(X_tgt_va), T(y_tgt_va, torch.long)


def make_backbone():
    return nn.Sequential(
        nn.Linear(64, 256), nn.ReLU(),
    )


class Classifier(nn.Module):
    def __init__(self, backbone, head):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x):
        return self.head(self.backbone(x))


# ---- stage 1: pretrain on the source task (digits 0..4) ----
source_model = Classifier(make_backbone(), nn.Sequential(nn.Linear(256, 64), nn.ReLU(), nn.Linear(64, 5)))
opt = torch.optim.Adam(source_model.parameters(), lr=2e-3)
for ep in range(6):
    perm = torch.randperm(len(X_src))
    for i in range(0, len(X_src), 32):
        idx = perm[i:i + 32]
        opt.zero_grad()
        F.cross_entropy(source_model(X_src[idx]), y_src[idx]).backward()
        opt.step()
with torch.no_grad():
    src_acc = (source_model(X_src).argmax(1) == y_src).float().mean().item()
print(f"pretraining done, source train acc {src_acc:.3f}")

# ---- stage 2: freeze the backbone, new head for digits 5..9 ----
new_head = nn.Linear(256, 5)  # BUG
model = Classifier(source_model.backbone, nn.Linear(256, 5))
for name, p in model.named_parameters():
    p.requires_grad = name.startswith("head.")
head_opt = torch.optim.Adam(new_head.parameters(), lr=1e-2)  # BUG

for epoch in range(25):
    model.train()
    perm = torch.randperm(len(X_tgt_tr))
    for i in range(0, len(X_tgt_tr), 20):
        idx = perm[i:i + 20]
        head_opt.zero_grad()
        loss = F.cross_entropy(model(X_tgt_tr[idx]), y_tgt_tr[idx])
        loss.backward()
        head_opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(X_tgt_va).argmax(1) == y_tgt_va).float().mean().item()
    print(f"epoch {epoch} val_metric {acc:.4f}")
