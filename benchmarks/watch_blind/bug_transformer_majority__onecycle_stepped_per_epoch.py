# Validation metric: accuracy on held-out synthetic token sequences.
# Task: which of 4 "signal" tokens occurs most often in a padded, variable-length sequence.
# Small nn.TransformerEncoder with learned positional embeddings, key padding mask, masked mean
# pooling, AdamW + OneCycleLR stepped every batch, CrossEntropy with label smoothing.
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
torch.set_num_threads(1)
torch.manual_seed(args.seed)

PAD, VOCAB, MAX_LEN, N_CLASSES = 0, 12, 16, 4


class MajorityTokens(Dataset):
    def __init__(self, n, generator):
        self.seqs, self.labels, self.lengths = [], [], []
        for _ in range(n):
            length = int(torch.randint(8, MAX_LEN + 1, (1,), generator=generator))
            toks = torch.randint(1, VOCAB, (length,), generator=generator)
            # make the majority unambiguous: add a few copies of a random winner
            winner = int(torch.randint(0, N_CLASSES, (1,), generator=generator))
            pos = torch.randperm(length, generator=generator)[:2]
            toks[pos] = winner + 1
            counts = torch.stack([(toks == c).sum() for c in range(1, N_CLASSES + 1)])
            seq = torch.full((MAX_LEN,), PAD, dtype=torch.long)
            seq[:length] = toks
            self.seqs.append(seq)
            self.labels.append(int(counts.argmax()))
            self.lengths.append(length)

    def __len__(self):
        return len(self.seqs)

    def __getitem__(self, i):
        return self.seqs[i], self.labels[i]


g = torch.Generator().manual_seed(args.seed)
train_ds, val_ds = MajorityTokens(1200, g), MajorityTokens(400, g)
train_loader = DataLoader(train_ds, batch_size=64, shuffle=True)
val_loader = DataLoader(val_ds, batch_size=200)


class TinyEncoder(nn.Module):
    def __init__(self, d_model=32, nhead=4, layers=2):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, d_model, padding_idx=PAD)
        self.pos = nn.Parameter(torch.randn(1, MAX_LEN, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=64, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, N_CLASSES)

    def forward(self, seq):
        pad_mask = seq == PAD
        h = self.encoder(self.tok(seq) + self.pos, src_key_padding_mask=pad_mask)
        keep = (~pad_mask).unsqueeze(-1).float()
        pooled = (h * keep).sum(1) / keep.sum(1)
        return self.head(pooled)


EPOCHS = 6
model = TinyEncoder()
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
scheduler = torch.optim.lr_scheduler.OneCycleLR(
    optimizer, max_lr=3e-3, epochs=EPOCHS, steps_per_epoch=len(train_loader)
)
criterion = nn.CrossEntropyLoss(label_smoothing=0.05)

for epoch in range(EPOCHS):
    model.train()
    for seq, label in train_loader:
        logits = model(seq)
        loss = criterion(logits, label)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    scheduler.step()  # BUG
    model.eval()
    hits = 0
    with torch.no_grad():
        for seq, label in val_loader:
            hits += (model(seq).argmax(1) == label).sum().item()
    print(f"epoch {epoch} val_metric {hits / len(val_ds):.4f}")
