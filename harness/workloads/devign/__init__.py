"""The Devign-style C vulnerability workload (issue 11's CodeBERT collapse), one folder:
``corpus`` and ``patterns`` generate the C functions, ``tokenizer`` trains the BPE,
``workload`` builds the model and data sets."""

from harness.workloads.devign.workload import DevignWorkload, Params

__all__ = ["DevignWorkload", "Params"]
