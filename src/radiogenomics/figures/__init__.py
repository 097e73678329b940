"""Figures drawn from tables (matplotlib, headless): ROC, calibration, comparisons, panel."""
