"""Train radiogenomic networks: ``python train.py trait=enhancement -m`` runs 10-fold CV."""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> None:
    from radiogenomics.train import run

    run(cfg)


if __name__ == "__main__":
    main()
