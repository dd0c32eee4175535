"""Report renderers (imported as ``harness.reports.*``): rich terminal, JSON."""
