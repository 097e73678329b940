"""Compute, then write every output: the sweep summary (tables, AnnData, page) and survival."""
