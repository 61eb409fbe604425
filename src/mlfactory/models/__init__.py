"""Model protocol, registry and the model families (tabular, sequence, ensemble)."""
