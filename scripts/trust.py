"""Can I trust the importances? Sanity checks, method agreement and stability selection of a sweep.

    python scripts/trust.py sanity SWEEP [--methods saliency input_x_gradient] [--twin TWIN_SWEEP]
    python scripts/trust.py agreement SWEEP [--collection hallmark]
    python scripts/trust.py stability BOOTSTRAP_SWEEP [--threshold 0.9] [--top-sets 5]

``sanity`` re-initialises the layers of every fold model (cascading from the top, and each layer
alone) and compares the attribution rankings of the held-out patients with the trained model's;
``--twin`` adds the permuted twin's ranking (data randomization). ``agreement`` compares the gene
and set rankings of saliency, input x gradient, integrated gradients, DeepLift and masking.
``stability`` gives the frequency with which each gene and set enters the top-k over the
bootstrap replicates of a ``bootstrap=range(0,B)`` sweep, with the Meinshausen-Buhlmann bound.
Nothing is retrained; files go to SWEEP/summary/ (or --out). See README "Can I trust the
importances?".
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from radiogenomics.interpret.agreement import ATTRIBUTION_METHODS
from radiogenomics.models.bundle import load_bundle
from radiogenomics.results import layout
from radiogenomics.script_args import ScriptParser, int_at_least, number_in, sweep_dir
from radiogenomics.summaries.markdown import markdown
from radiogenomics.summaries.trust_checks import (
    write_agreement,
    write_sanity,
    write_stability_selection,
)
from radiogenomics.tasks.interpret import held_out_patients


def fold_loader(cache_dir: str):
    """A loader of (job, model, held-out x, held-out y, genes), rebuilt as task=interpret does."""

    def load(job: Path):
        bundle = load_bundle(job / layout.MODEL_DIR)
        dm = held_out_patients(job, bundle, cache_dir)
        return job.name, bundle.model.eval(), dm.x["test"], dm.y["test"].numpy(), list(dm.genes)

    return load


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run one check."""
    parser = ScriptParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("sanity", "agreement", "stability"):
        p = sub.add_parser(name)
        p.add_argument("sweep", type=sweep_dir)
        p.add_argument("--out", type=Path, default=None, help="default: SWEEP/summary")
        if name != "stability":
            p.add_argument(
                "--folds", type=int_at_least(0), nargs="*", default=None, help="default: all"
            )
            p.add_argument(
                "--cache-dir",
                default=None,
                help="default: $RADIOGENOMICS_CACHE "
                "or ./.cache (the cohort cache the sweep was trained from)",
            )
    sub.choices["sanity"].add_argument("--methods", nargs="+", default=["saliency"])
    sub.choices["sanity"].add_argument("--twin", type=sweep_dir, default=None)
    sub.choices["sanity"].add_argument("--seed", type=int_at_least(0), default=0)
    sub.choices["agreement"].add_argument("--collection", default="hallmark")
    sub.choices["agreement"].add_argument("--methods", nargs="+", default=list(ATTRIBUTION_METHODS))
    sub.choices["stability"].add_argument(
        "--threshold", type=number_in(0, 1, low_open=True), default=0.9
    )
    sub.choices["stability"].add_argument("--top-sets", type=int_at_least(1), default=5)
    sub.choices["stability"].add_argument("--top-genes", type=int_at_least(1), default=100)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    try:
        if args.command == "stability":
            table, report = write_stability_selection(
                args.sweep, args.threshold, args.top_sets, args.top_genes, args.out
            )
            print(json.dumps(report, indent=1))
            return
        import os

        cache = args.cache_dir or os.environ.get("RADIOGENOMICS_CACHE") or str(Path(".cache"))
        load = fold_loader(cache)
        if args.command == "sanity":
            _, verdicts = write_sanity(
                args.sweep, load, args.methods, args.folds, args.twin, args.out, args.seed
            )
            print(markdown(verdicts))
        else:
            genes, sets = write_agreement(
                args.sweep, load, args.collection, args.methods, args.folds, args.out
            )
            print(markdown(genes))
            print(markdown(sets))
    except (FileNotFoundError, ValueError) as err:
        parser.error(str(err))


if __name__ == "__main__":
    main()
