# Validation metric: F1 score (positive class = benign) on a held-out split of breast cancer data.
# Trainer class with fit/evaluate methods, AdamW, BCEWithLogitsLoss, early stopping on val F1.
import argparse
import copy

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler


def get_args():
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=6)
    return p.parse_args()


class TabularMLP(nn.Module):
    def __init__(self, d_in, hidden=32):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(d_in, hidden), nn.ReLU(), nn.Dropout(0.1),
            nn.Linear(hidden, hidden), nn.ReLU(),
        )
        self.out = nn.Linear(hidden, 1)

    def forward(self, x):
        return torch.sigmoid(self.out(self.body(x))).squeeze(-1)  # BUG


class Trainer:
    def __init__(self, model, lr=3e-3, weight_decay=1e-2, batch_size=32, patience=6):
        self.model = model
        self.opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.batch_size = batch_size
        self.patience = patience
        self.best_state = None

    def _batches(self, X, y):
        order = torch.randperm(len(X))
        for i in range(0, len(X), self.batch_size):
            idx = order[i:i + self.batch_size]
            yield X[idx], y[idx]

    def train_epoch(self, X, y):
        self.model.train()
        total = 0.0
        for xb, yb in self._batches(X, y):
            self.opt.zero_grad()
            loss = self.loss_fn(self.model(xb), yb)
            loss.backward()
            self.opt.step()
            total += loss.item() * len(xb)
        return total / len(X)

    @torch.no_grad()
    def evaluate(self, X, y):
        self.model.eval()
        probs = torch.sigmoid(self.model(X))
        preds = (probs > 0.5).long().numpy()
        return f1_score(y.long().numpy(), preds)

    def fit(self, X_tr, y_tr, X_va, y_va, epochs):
        best, bad_epochs = -1.0, 0
        for epoch in range(epochs):
            self.train_epoch(X_tr, y_tr)
            f1 = self.evaluate(X_va, y_va)
            print(f"epoch {epoch} val_metric {f1:.4f}")
            if f1 > best:
                best, bad_epochs = f1, 0
                self.best_state = copy.deepcopy(self.model.state_dict())
            else:
                bad_epochs += 1
                if bad_epochs >= self.patience:
                    print(f"early stopping at epoch {epoch}")
                    break
        return best


def main():
    args = get_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    data = load_breast_cancer()
    X_tr, X_va, y_tr, y_va = train_test_split(
        data.data, data.target, test_size=0.3, random_state=args.seed, stratify=data.target
    )
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_va = scaler.transform(X_tr), scaler.transform(X_va)

    to_t = lambda a: torch.tensor(a, dtype=torch.float32)
    X_tr, X_va, y_tr, y_va = to_t(X_tr), to_t(X_va), to_t(y_tr), to_t(y_va)

    trainer = Trainer(TabularMLP(X_tr.shape[1]), patience=args.patience)
    trainer.fit(X_tr, y_tr, X_va, y_va, epochs=args.epochs)


if __name__ == "__main__":
    main()
