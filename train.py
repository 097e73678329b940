"""Train radiogenomic networks: ``python train.py trait=enhancement -m`` runs 10-fold CV."""

import hydra
from omegaconf import DictConfig

from radiogenomics.hydra_resolvers import register as register_resolvers

register_resolvers()  # before Hydra composes: job dir names use ${rg_job_dirname:...}


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> None:
    from radiogenomics.tasks import run

    register_resolvers()  # also in launcher workers that unpickle this function
    run(cfg)


if __name__ == "__main__":
    main()
