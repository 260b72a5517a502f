"""fastnut benchmarks: ``python -m benchmarks [family ...]``."""
