"""A transformers model in a hand-written loop: a tiny BERT (random init, no download) classifies
synthetic token sequences, AdamW, get_linear_schedule_with_warmup stepped after every optimizer
step, the loss from the model's own ``outputs.loss`` (the clean twin of hf_loop_warmup_per_epoch.py)."""

import torch
from torch.utils.data import DataLoader, TensorDataset
from transformers import BertConfig, BertForSequenceClassification, get_linear_schedule_with_warmup
from transformers.utils import logging

torch.set_num_threads(1)
torch.manual_seed(0)
logging.set_verbosity_error()


def data(n, generator):
    ids = torch.randint(5, 60, (n, 16), generator=generator)
    labels = (ids == 7).any(dim=1).long() | (ids == 8).any(dim=1).long()
    return ids, labels


def main():
    generator = torch.Generator().manual_seed(0)
    train_ids, train_labels = data(640, generator)
    val_ids, val_labels = data(256, generator)
    loader = DataLoader(TensorDataset(train_ids, train_labels), batch_size=32, shuffle=True, generator=generator)
    config = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32, num_labels=2)
    model = BertForSequenceClassification(config)
    epochs = 6
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=12, num_training_steps=epochs * len(loader))
    for epoch in range(epochs):
        model.train()
        for ids, labels in loader:
            outputs = model(input_ids=ids, labels=labels)
            outputs.loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        model.eval()
        with torch.no_grad():
            outputs = model(input_ids=val_ids, labels=val_labels)
            val_loss = outputs.loss.item()
            val_acc = (outputs.logits.argmax(dim=1) == val_labels).float().mean().item()
        print(f"epoch {epoch + 1} val_loss {val_loss:.4f} val_acc {val_acc:.3f}")
    print(f"RESULT val_loss={val_loss:.4f} val_acc={val_acc:.4f}")


if __name__ == "__main__":
    main()
