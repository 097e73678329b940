"""A one-node SLURM cluster for the ``slurm`` tests (start_local_slurm.sh and its pytest side)."""
