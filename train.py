"""Train radiogenomic networks: ``python train.py trait=enhancement -m`` runs 10-fold CV.

Overrides and Hydra's flags may come in any order (``... -m hydra.sweep.dir=X``): see
``radiogenomics.cli.hydra_argv``.
"""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from radiogenomics.cli import hydra_argv, run_main
from radiogenomics.hydra_resolvers import register as register_resolvers

register_resolvers()  # before Hydra composes: job dir names use ${rg_job_dirname:...}


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> None:
    from radiogenomics.tasks import run

    register_resolvers()  # also in launcher workers that unpickle this function
    run(cfg)


if __name__ == "__main__":
    sys.argv[:] = hydra_argv(sys.argv)  # Hydra's argparse wants the overrides in one run
    run_main(main, Path(__file__).resolve().parent / "configs")  # Hydra's failures: one line
