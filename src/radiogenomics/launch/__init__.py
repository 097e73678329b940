"""Sweeps: GPU slots, a process-per-job runner, progress lines and the sweep's exit status."""
