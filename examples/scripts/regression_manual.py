"""Linear regression on synthetic data with hand-written gradient descent: no optimizer and no
DataLoader, the parameters updated in place under no_grad and their gradients reset by hand."""

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)


def main():
    X = torch.randn(512, 8)
    true_w = torch.randn(8, 1)
    y = X @ true_w + 0.1 * torch.randn(512, 1)
    model = nn.Linear(8, 1)
    lr = 0.05
    for step in range(300):
        batch = torch.randint(0, 512, (32,))
        loss = F.mse_loss(model(X[batch]), y[batch])
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
                p.grad = None
        if (step + 1) % 100 == 0:
            with torch.no_grad():
                print(f"step {step + 1} loss {F.mse_loss(model(X), y).item():.4f}")
    with torch.no_grad():
        print(f"RESULT loss={F.mse_loss(model(X), y).item():.4f}")


if __name__ == "__main__":
    main()
