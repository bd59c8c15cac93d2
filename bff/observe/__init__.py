"""Watching the BFF at work: metrics, drift, structured logs and traces."""
