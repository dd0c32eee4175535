"""Logistic regression on the breast-cancer data with L-BFGS: the closure re-evaluates the loss."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_breast_cancer

torch.set_num_threads(1)
torch.manual_seed(0)


def main():
    X, y = load_breast_cancer(return_X_y=True)
    X = torch.tensor(X, dtype=torch.float32)
    X = (X - X.mean(dim=0)) / X.std(dim=0)
    y = torch.tensor(y, dtype=torch.float32)
    model = nn.Linear(30, 1)
    optimizer = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=10)

    def closure():
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(X).squeeze(1), y) + 1e-3 * model.weight.square().sum()
        loss.backward()
        return loss

    for step in range(15):
        loss = optimizer.step(closure)
        print(f"step {step + 1} loss {loss.item():.4f}")
    with torch.no_grad():
        accuracy = ((model(X).squeeze(1) > 0).float() == y).float().mean().item()
    print(f"RESULT loss={loss.item():.4f} accuracy={accuracy:.4f}")


if __name__ == "__main__":
    main()
