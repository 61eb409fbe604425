"""Serving: the ensemble bundle (schema, writer, loader) and inference on new bars."""
