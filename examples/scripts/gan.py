"""A small GAN on a ring of 8 Gaussians: a generator and a discriminator, two Adam optimizers,
the usual alternating updates with BCE losses."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.set_num_threads(1)
torch.manual_seed(0)


def ring(n):
    angles = torch.randint(0, 8, (n,)).float() * (2 * math.pi / 8)
    return torch.stack([angles.cos(), angles.sin()], dim=1) * 2 + 0.05 * torch.randn(n, 2)


def main():
    loader = DataLoader(TensorDataset(ring(2048)), batch_size=64, shuffle=True)
    generator = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))
    discriminator = nn.Sequential(nn.Linear(2, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(generator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    for epoch in range(8):
        for (real,) in loader:
            fake = generator(torch.randn(len(real), 8))
            d_real, d_fake = discriminator(real), discriminator(fake.detach())
            loss_d = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + F.binary_cross_entropy_with_logits(
                d_fake, torch.zeros_like(d_fake)
            )
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            d_fake = discriminator(fake)
            loss_g = F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
        with torch.no_grad():
            samples = generator(torch.randn(1024, 8))
            radius = samples.norm(dim=1).mean().item()
        print(f"epoch {epoch + 1} loss_d {loss_d.item():.3f} loss_g {loss_g.item():.3f} mean radius {radius:.3f}")
    print(f"RESULT loss_d={loss_d.item():.4f} radius={radius:.4f}")


if __name__ == "__main__":
    main()
