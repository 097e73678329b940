"""Outputs for other tools: Weights & Biases runs and AnnData files for scanpy."""
