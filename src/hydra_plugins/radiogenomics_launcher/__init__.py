"""Hydra launcher plugins shipped with radiogenomics (found by Hydra's ``hydra_plugins`` scan)."""
