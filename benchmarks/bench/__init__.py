"""Benchmarks of the harness itself: ``python -m benchmarks.bench [NAME ...]``."""
