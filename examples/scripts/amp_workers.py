"""Digits classifier with mixed precision on CPU (bfloat16 autocast and a GradScaler) and a
DataLoader with two worker processes."""

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
    loader = DataLoader(TensorDataset(X[:1000], y[:1000]), batch_size=32, shuffle=True, num_workers=2,
                        generator=torch.Generator().manual_seed(0))
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    scaler = torch.amp.GradScaler("cpu")
    for epoch in range(4):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = F.cross_entropy(model(xb), yb)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        model.eval()
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(X[1000:]).float()
            val_loss = F.cross_entropy(logits, y[1000:]).item()
            val_acc = (logits.argmax(dim=1) == y[1000:]).float().mean().item()
        print(f"epoch {epoch + 1} val_loss {val_loss:.4f} val_acc {val_acc:.3f}")
    print(f"RESULT val_loss={val_loss:.4f} val_acc={val_acc:.4f}")


if __name__ == "__main__":
    main()
