"""A Hydra app for launcher tests: the real configs (train.yaml, hydra/default.yaml), a task that
trains nothing. ``fold=1`` exits with status 2 (as a data error does), ``fold=2`` raises, any
other fold writes ``done.txt`` into its job dir (after sleeping ``PROBE_SLEEP_S`` seconds, if set:
a job that is still running when a test signals the sweep).

    python tests/launch/probe_app.py -m n_folds=4 hydra.sweep.dir=...
"""

import os
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig

from radiogenomics.hydra_resolvers import register

register()

EXIT_FOLD, RAISE_FOLD = 1, 2


@hydra.main(version_base="1.3", config_path="../../configs", config_name="train")
def main(cfg: DictConfig) -> None:
    if cfg.fold == EXIT_FOLD:
        raise SystemExit(2)
    if cfg.fold == RAISE_FOLD:
        raise ValueError("planted failure")
    time.sleep(float(os.environ.get("PROBE_SLEEP_S", "0")))
    (Path(cfg.paths.output_dir) / "done.txt").write_text(str(cfg.fold))


if __name__ == "__main__":
    main()
