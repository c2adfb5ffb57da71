"""Benchmarks: `python -m bench.NAME` from a checkout; each prints its figures and writes bench/results/NAME.json."""
