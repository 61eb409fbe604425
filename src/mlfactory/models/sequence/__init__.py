"""Sequence models, one per file."""
