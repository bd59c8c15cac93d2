"""Incremental parsing of streamed JSON, checked against a schema as it arrives."""
