"""Views of a dataset for a model: 2D tabular rows, 3D windows, 4D multi-stream windows."""
