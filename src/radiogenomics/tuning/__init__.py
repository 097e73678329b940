"""Nested hyperparameter tuning with Optuna: one study per outer fold, inner validation only."""
