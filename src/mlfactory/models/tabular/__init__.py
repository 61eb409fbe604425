"""Tabular models, one per file."""
