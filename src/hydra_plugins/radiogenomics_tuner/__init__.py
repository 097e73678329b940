"""Hydra sweeper plugin of radiogenomics: nested Optuna tuning (``hydra/sweeper=nested_optuna``)."""
