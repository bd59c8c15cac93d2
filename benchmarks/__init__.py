"""Benchmarks: each module measures ratios against a baseline in the same run."""
