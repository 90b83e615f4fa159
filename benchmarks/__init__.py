"""Benchmarks of wnbias against third-party anchors: ``python -m benchmarks.run``."""
