"""Training one model, out-of-fold generation and hyper-parameter tuning."""
