"""Ingest, validation, instruments, sessions, the timeframe ladder and as-of alignment."""
