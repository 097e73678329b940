"""Parallel sweeps on one node: GPU slots, a process-per-job runner and progress lines."""
