"""A variational autoencoder on the digits: MSE reconstruction plus a KL term written by hand,
the reparameterisation trick, Adam, a DataLoader."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

torch.set_num_threads(1)
torch.manual_seed(0)


class VAE(nn.Module):
    def __init__(self, latent=8):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 2 * latent))
        self.decoder = nn.Sequential(nn.Linear(latent, 128), nn.ReLU(), nn.Linear(128, 64))

    def forward(self, x):
        mean, log_var = self.encoder(x).chunk(2, dim=1)
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        return self.decoder(z), mean, log_var


def main():
    X, _ = load_digits(return_X_y=True)
    X = torch.tensor(X, dtype=torch.float32) / 16.0
    loader = DataLoader(TensorDataset(X[:1500]), batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))
    model = VAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for epoch in range(10):
        model.train()
        for (xb,) in loader:
            recon, mean, log_var = model(xb)
            kl = -0.5 * (1 + log_var - mean.square() - log_var.exp()).sum(dim=1).mean()
            loss = F.mse_loss(recon, xb, reduction="sum") / len(xb) + 0.1 * kl
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            recon, _, _ = model(X[1500:])
            val_loss = F.mse_loss(recon, X[1500:]).item()
        print(f"epoch {epoch + 1} val_mse {val_loss:.4f}")
    print(f"RESULT val_loss={val_loss:.4f}")


if __name__ == "__main__":
    main()
