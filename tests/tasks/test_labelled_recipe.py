"""A fully labelled cohort trains model.without_pretraining; every task after it must see the same
network (task=interpret rebuilds the fold, task=refit refits it) from the fold jobs' overrides."""

import json
import os
import sys

from tests.helpers.commands import run_ok

SMALL = ["++model.without_pretraining.ensemble=2", "++model.without_pretraining.hidden_dims=[8]"]


def test_interpret_and_refit_rebuild_the_recipe_network(cache_dir, tmp_path):
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    sweep = tmp_path / "sweep"
    train = [sys.executable, "train.py", "-m", "data=verhaak840", "trait=mesenchymal", "debug=tiny"]
    run_ok([*train, "n_folds=3", "fold=0", *SMALL, f"hydra.sweep.dir={sweep}"], env)
    (job,) = [p for p in sweep.iterdir() if (p / "metrics.json").is_file()]
    manifest = json.loads((job / "model" / "model.json").read_text())
    architecture = json.dumps(manifest)
    assert '"member_split": "kfold"' in architecture and '"ensemble": 2' in architecture
    interpret = [
        sys.executable,
        "train.py",
        "task=interpret",
        f"interpret.sweep={sweep}",
        "+interpret=[masking]",
        "interpret.masking.n_random=20",
        "interpret.masking.single_genes=false",
        f"hydra.run.dir={tmp_path / 'int'}",
    ]
    run_ok(interpret, env, timeout=600)  # the rebuilt fold's standardizer matches the bundle's
    assert list((tmp_path / "int").rglob("masking_hallmark*.csv"))
    refit = [
        sys.executable,
        "train.py",
        "task=refit",
        f"refit.sweep={sweep}",
        f"hydra.run.dir={tmp_path / 'refit'}",
    ]
    run_ok(refit, env, timeout=600)
    (model_json,) = (tmp_path / "refit").rglob("model.json")
    assert '"ensemble": 2' in model_json.read_text()  # refit trains the fold jobs' network
