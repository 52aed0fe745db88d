"""Benchmarks (not collected by pytest): `python -m tests.bench --quick`; see docs/performance.md."""
