"""Digits classifier compiled with torch.compile (inductor on CPU), trained through the compiled
module while the optimizer holds the original module's parameters."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

torch.set_num_threads(1)
torch.manual_seed(0)


def main():
    X, y = load_digits(return_X_y=True)
    X, y = torch.tensor(X, dtype=torch.float32) / 16.0, torch.tensor(y)
    loader = DataLoader(TensorDataset(X[:1024], y[:1024]), batch_size=64, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(0))
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 10))
    compiled = torch.compile(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for epoch in range(4):
        compiled.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            F.cross_entropy(compiled(xb), yb).backward()
            optimizer.step()
        compiled.eval()
        with torch.no_grad():
            logits = model(X[1024:])
            val_loss = F.cross_entropy(logits, y[1024:]).item()
            val_acc = (logits.argmax(dim=1) == y[1024:]).float().mean().item()
        print(f"epoch {epoch + 1} val_loss {val_loss:.4f} val_acc {val_acc:.3f}")
    print(f"RESULT val_loss={val_loss:.4f} val_acc={val_acc:.4f}")


if __name__ == "__main__":
    main()
