"""harness: replay deep-learning training incidents as scenarios and prove which fix cures them.

Importing this package is cheap on purpose: torch and transformers are imported only
by the modules that train, so ``harness --help`` starts fast.
"""

__version__ = "0.1.0"
