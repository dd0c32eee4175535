"""A character-level LSTM language model on the json module's docstring: next-character cross-entropy over
(batch x time) logits, gradient clipping, Adam and a StepLR decay stepped once per epoch."""

import json

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)

TEXT = json.__doc__ * 2
VOCAB = sorted(set(TEXT))
IDS = torch.tensor([VOCAB.index(c) for c in TEXT])


class CharLM(nn.Module):
    def __init__(self, vocab, hidden=128):
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.lstm = nn.LSTM(32, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x):
        h, _ = self.lstm(self.embed(x))
        return self.out(h)


def batches(seq_len=32, batch_size=16, steps=25, generator=None):
    for _ in range(steps):
        starts = torch.randint(0, len(IDS) - seq_len - 1, (batch_size,), generator=generator)
        window = torch.stack([IDS[s : s + seq_len + 1] for s in starts])
        yield window[:, :-1], window[:, 1:]


def main():
    model = CharLM(len(VOCAB))
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
    generator = torch.Generator().manual_seed(0)
    for epoch in range(6):
        model.train()
        for x, y in batches(generator=generator):
            logits = model(x)
            loss = F.cross_entropy(logits.reshape(-1, len(VOCAB)), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        scheduler.step()
        print(f"epoch {epoch + 1} loss {loss.item():.4f}")
    model.eval()
    with torch.no_grad():
        x, y = next(batches(generator=torch.Generator().manual_seed(1)))
        val_loss = F.cross_entropy(model(x).reshape(-1, len(VOCAB)), y.reshape(-1)).item()
    print(f"RESULT val_loss={val_loss:.4f}")


if __name__ == "__main__":
    main()
