"""How much does the pipeline find when there is nothing to find? A sweep against its permuted twin.

    python train.py -m trait=edema '+interpret=[masking,saliency]' hydra.sweep.dir=outputs/real
    python train.py -m trait=edema trait.permute_labels=true '+interpret=[masking,saliency]' \\
        hydra.sweep.dir=outputs/permuted
    python scripts/survival.py outputs/real; python scripts/survival.py outputs/permuted
    python scripts/null_report.py outputs/real outputs/permuted

Per (trait, model) and stage (pooled AUROC, masked sets with q < alpha, radiogenomic associations,
survival hits) the discoveries in both sweeps, and whether the twin's stay within what
false-discovery-rate control allows. Writes null_report.csv to --out (default: <real>/summary,
where the sweep's report.html, when it has one, is rewritten with the verdict table).
"""

from __future__ import annotations

from pathlib import Path

from radiogenomics.analysis.null_controls import null_report, write_report
from radiogenomics.evaluation.multitest import FDR
from radiogenomics.report.page import refresh_report
from radiogenomics.results import layout
from radiogenomics.script_args import ScriptParser, probability, summarized_dir
from radiogenomics.summaries.markdown import markdown


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, compare the two sweeps and print the table."""
    parser = ScriptParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("real", type=summarized_dir, help="sweep with the real labels")
    parser.add_argument(
        "permuted", type=summarized_dir, help="the same sweep with trait.permute_labels=true"
    )
    parser.add_argument("--alpha", type=probability, default=FDR, help="q-value threshold")
    parser.add_argument("--out", type=Path, default=None, help="default: <real>/summary")
    args = parser.parse_args(argv)
    try:
        table = null_report(args.real, args.permuted, alpha=args.alpha)
    except (FileNotFoundError, ValueError) as err:
        parser.error(str(err))
    path = write_report(table, args.out or layout.summary_dir(args.real))
    if args.out is None:
        refresh_report(args.real)  # the real sweep's report.html gains its null-control section
    print(markdown(table))
    verdict = table["within_fdr"].dropna().astype(bool)
    print(
        f"\npermuted twin within FDR control at every stage: {bool(verdict.all())}"
        f" ({int((~verdict).sum())} stage(s) over)\nwritten: {path}"
    )


if __name__ == "__main__":
    main()
