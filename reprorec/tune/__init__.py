"""Optuna tuning harness: the study loop and command line (harness), storage/samplers/pruners (storage), reports (report)."""
