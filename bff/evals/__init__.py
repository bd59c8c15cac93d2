"""Evals: golden datasets run through the real pipeline, scored field by field, compared
run to run."""
