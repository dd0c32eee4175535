"""The package version, in the core so every layer can name it (reports, run records)."""

__version__ = "0.1.0"
