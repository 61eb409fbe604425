"""mlfactory: leak-free datasets, models and heterogeneous stacked ensembles for intraday futures."""

__version__ = "0.1.0"
