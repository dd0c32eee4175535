# Validation metric: accuracy on a held-out split of sklearn's 8x8 digits.
# Small conv net with BatchNorm, SGD + momentum, cosine annealing stepped once per epoch.
import argparse

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, Dataset

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
torch.set_num_threads(1)
torch.manual_seed(args.seed)
np.random.seed(args.seed)


class DigitImages(Dataset):
    """8x8 grey-level digits, pixel values 0..16 rescaled to 0..1."""

    def __init__(self, X, y):
        self.X = torch.tensor(X, dtype=torch.float32).view(-1, 1, 8, 8) / 16.0
        self.y = torch.tensor(y, dtype=torch.long)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.X[i], self.y[i]


digits = load_digits()
X_tr, X_va, y_tr, y_va = train_test_split(
    digits.data, digits.target, test_size=0.25, random_state=args.seed, stratify=digits.target
)
train_loader = DataLoader(DigitImages(X_tr, y_tr), batch_size=64, shuffle=True)
val_loader = DataLoader(DigitImages(X_va, y_va), batch_size=256)


class SmallCNN(nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(32 * 4 * 4, n_classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


EPOCHS = 6
model = SmallCNN()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS)
criterion = nn.CrossEntropyLoss()


def evaluate(net, loader):
    net.eval()
    correct = 0
    with torch.no_grad():
        for xb, yb in loader:
            correct += (net(xb).argmax(dim=1) == yb).sum().item()
    return correct / len(loader.dataset)


for epoch in range(EPOCHS):
    model.train()
    running = 0.0
    for xb, yb in train_loader:
        # optimizer.zero_grad()  # BUG
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
        running += loss.item() * len(yb)
    scheduler.step()
    acc = evaluate(model, val_loader)
    print(f"epoch {epoch} val_metric {acc:.4f}")
