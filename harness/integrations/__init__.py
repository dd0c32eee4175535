"""Adapters that bring harness plugins into other training loops (``transformers.Trainer``)."""
