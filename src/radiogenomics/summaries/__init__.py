"""Sweep-level computation: pooled tables and statistics (``summary/``, the analysis scripts)."""
