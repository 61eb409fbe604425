"""Ensemble models, one per file."""
