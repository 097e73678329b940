"""The bad-input corpus: every config mistake and bad input ends in ONE line and exit status 2.

Each case of CASES runs ``tasks.run(cfg)`` (``debug=tiny``) and checks: ``SystemExit(2)``, exactly
one error line from ``radiogenomics.tasks`` naming the problem, no metrics.json, and no cached
autoencoder with non-finite weights. Most cases stop before any data is read; the two divergence
cases train a few tiny steps. ``docs/real_data.md``'s error table lists every case (tested below).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hydra.errors import ConfigCompositionException
from omegaconf import DictConfig, open_dict

from radiogenomics.cli import entry_error_line
from radiogenomics.data.cohort import load_cohort
from radiogenomics.data.genesets import load_collection
from radiogenomics.errors import ConfigError
from radiogenomics.models.autoencoder import NonFiniteLossError
from radiogenomics.tasks import pretrain as pretrain_task
from radiogenomics.tasks import run
from radiogenomics.tasks.validation import validate_config

from ..conftest import ROOT
from .test_validation import CASES as READER_CASES

DOC = ROOT / "docs" / "real_data.md"
COLUMN = "f5.proportion.enhancing"
GENES = load_collection("hallmark")["HALLMARK_HYPOXIA"][:40]
LABELLED = [f"TCGA-02-{i:04d}" for i in range(1, 31)]
UNLABELLED = [f"TCGA-06-{i:04d}" for i in range(1, 11)]
LABELS = ["Minimal", "More than 2/3"] * 15


# ------------------------------------------------------------------------------- real files


def write_expression(tmp: Path, name: str = "expr.tsv", **cells) -> Path:
    """Patients x genes, log2-like values; ``cells`` = {"r,c": value} edits."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        rng.normal(8, 1, size=(40, len(GENES))).round(3),
        index=LABELLED + UNLABELLED,
        columns=GENES,
    ).astype(object)
    for where, value in cells.get("cells", {}).items():
        frame.iat[where] = value
    path = tmp / name
    frame.to_csv(path, sep="\t")
    return path


def write_labels(tmp: Path, values=LABELS, name: str = "vasari.csv") -> Path:
    path = tmp / name
    pd.DataFrame({COLUMN: values}, index=LABELLED).to_csv(path)
    return path


def real(tmp: Path, *extra: str, expression: Path | None = None, labels: Path | None = None):
    """Overrides of a small real-data cohort (30 labelled, 10 expression-only patients)."""
    return [
        "data=tcga_gbm",
        f"data.expression_file={expression or write_expression(tmp)}",
        f"data.traits_file={labels or write_labels(tmp)}",
        "n_folds=3",
        *extra,
    ]


def write_gct(tmp: Path, declared_rows: int, col_meta: int = 0, version: str = "#1.3") -> Path:
    """A genes x samples GCT of 40 genes; line 2 declares ``declared_rows`` rows."""
    samples = LABELLED + UNLABELLED
    rng = np.random.default_rng(1)
    if version == "#1.3":
        lines = [version, f"{declared_rows}\t{len(samples)}\t1\t{col_meta}"]
    else:
        lines = [version, f"{declared_rows}\t{len(samples)}"]
    lines.append("Name\tDescription\t" + "\t".join(samples))
    for gene in GENES:
        values = "\t".join(f"{v:.3f}" for v in rng.normal(8, 1, len(samples)))
        lines.append(f"{gene}\tna\t{values}")
    path = tmp / "expr.gct"
    path.write_text("\n".join(lines) + "\n")
    return path


def mislabelled_table(tmp: Path) -> list[str]:
    """A VASARI table whose first column is scan.type (the barcodes come second)."""
    path = tmp / "vasari.csv"
    pd.DataFrame({"scan.type": ["pre-operative"] * 30, "patient": LABELLED, COLUMN: LABELS}).to_csv(
        path, index=False
    )
    return real(tmp, labels=path)


def blank_trait_column(tmp: Path) -> list[str]:
    path = tmp / "vasari.csv"
    pd.DataFrame({COLUMN: [""] * 30, "f6.proportion.ncet": LABELS}, index=LABELLED).to_csv(path)
    return real(tmp, labels=path)


def disjoint_gmt(tmp: Path) -> Path:
    path = tmp / "custom.gmt"
    path.write_text("SET_A\tna\tFOO1\tBAR2\tBAZ3\nSET_B\tna\tQUX4\tQUUX5\n")
    return path


def repeated_label_column(tmp: Path) -> list[str]:
    """The trait's column twice (a pasted copy): pandas would silently rename one ``.1``."""
    path = tmp / "vasari.csv"
    pd.DataFrame([[v, v] for v in LABELS], index=LABELLED, columns=[COLUMN, COLUMN]).to_csv(path)
    return real(tmp, labels=path)


def fifo_expression(tmp: Path) -> list[str]:
    """A named pipe where the matrix should be: opening it would block the job."""
    path = tmp / "expr.tsv"
    os.mkfifo(path)
    return real(tmp, expression=path)


def unwritable_cache(cfg: DictConfig, tmp: Path) -> None:
    blocker = tmp / "a_file"
    blocker.write_text("not a directory")
    cfg.paths.cache_dir = str(blocker / "cache")


def fresh_cache(cfg: DictConfig, tmp: Path) -> None:
    cfg.paths.cache_dir = str(tmp / "cache")


# ----------------------------------------------------------------------------------- corpus


@dataclass
class Case:
    """Overrides (or a function of the tmp dir giving them), the expected line, a cfg edit."""

    overrides: list[str] | Callable[[Path], list[str]]
    message: str  # regex searched in the one error line
    edit: Callable[[DictConfig, Path], None] | None = None
    kind: str = "config error"
    compose: bool = False  # refused by the schema's type when Hydra composes (train.py: cli)


CASES: dict[str, Case] = {
    # --- config mistakes (before anything is read)
    "n_folds=1": Case(["n_folds=1"], r"n_folds=1: expected n_folds >= 2"),
    "n_folds=0": Case(["n_folds=0"], r"n_folds=0: expected n_folds >= 2"),
    "val_fraction=0": Case(["val_fraction=0"], r"val_fraction=0\.0: expected 0 < val_fraction < 1"),
    "val_fraction=1.5": Case(["val_fraction=1.5"], r"val_fraction=1\.5: expected 0 < val_frac"),
    "val_fraction=0.01": Case(
        ["val_fraction=0.01"],
        r"val_fraction=0\.01: the inner validation set would hold 1 of the \d+ training patients "
        r"\(class 0: \d+, class 1: \d+\), fewer than one patient per class",
        kind="data error",
    ),
    "val_fraction=0.99": Case(
        ["val_fraction=0.99"],
        r"val_fraction=0\.99: the fit set would hold 1 of the \d+ training patients .*fewer than "
        r"2 per class",
        kind="data error",
    ),
    "seed=-1": Case(["seed=-1"], r"seed=-1: expected 0 <= seed <= 4294967295 \(numpy"),
    "seed=2**32": Case(["seed=4294967296"], r"seed=4294967296: expected 0 <= seed <= 4294967295"),
    "kfold members sharing weights": Case(
        ["model.ensemble=4", "model.member_split=kfold", "model.ensemble_style=batch"],
        r"model\.member_split=kfold keeps each member's own best epoch, which needs its own "
        r"weights: model\.ensemble_style=batch shares them",
    ),
    "split_seed=-1": Case(["split_seed=-1"], r"split_seed=-1: expected 0 <= split_seed <= 42949"),
    "split_seed too large for the repeats": Case(
        ["split_seed=4294967295", "repeats=5"],
        r"split_seed=4294967295: expected 0 <= split_seed <= 4294967291 \(repeat r splits",
    ),
    "pretrain.seed=-5": Case(
        ["task=pretrain", "pretrain.seed=-5"], r"pretrain\.seed=-5: expected 0 <= pretrain\.seed"
    ),
    "data.synthetic.seed=2**63": Case(
        ["data.synthetic.seed=9223372036854775808"],
        r"data\.synthetic\.seed=9223372036854775808: expected 0 <= data\.synthetic\.seed <= 42",
    ),
    "trait.permute_seed=-1": Case(
        ["trait.permute_seed=-1"], r"trait\.permute_seed=-1: expected 0 <= trait\.permute_seed"
    ),
    "predict.n_boot=0": Case(
        ["task=predict", "predict.n_boot=0"],
        r"predict\.n_boot=0: expected predict\.n_boot >= 1 \(bootstrap replicates",
    ),
    "trait.drop not a list": Case(
        ["trait.drop=n/a"], r"trait\.drop='?n/a'?: expected a list of label values to drop"
    ),
    "fold=-1": Case(["fold=-1"], r"fold=-1: expected .*0 <= fold < n_folds=10"),
    "fold=10": Case(["fold=10"], r"fold=10: expected .*0 <= fold < n_folds=10.*0\.\.9"),
    "freeze_layers > transfer_layers": Case(
        ["model.freeze_layers=3"],
        r"model\.freeze_layers=3 exceeds model\.transfer_layers=2.*set model\.freeze_layers to",
    ),
    "seed=abc": Case(["seed=abc"], r"seed=abc: expected an integer", compose=True),
    "model.dropout=high": Case(
        ["model.dropout=high"],
        r"model\.dropout=high: expected a number with 0 <= model\.dropout < 1 \(e\.g\. model",
        compose=True,
    ),
    "layer size not a number": Case(
        ["pretrain.hidden_dims=[32,a,8]"],
        r"pretrain\.hidden_dims: item a is not an integer; expected a non-empty list of layer "
        r"sizes >= 1, e\.g\. pretrain\.hidden_dims=\[256,128,64\]",
        compose=True,
    ),
    "model.batchnorm=null": Case(
        ["model.batchnorm=null"], r"model\.batchnorm=null: expected true or false", compose=True
    ),
    "misspelt network option": Case(
        ["+model.dropuot=0.1"],
        r"model\.dropuot is not an option of model; did you mean 'dropout'\?",
    ),
    "bootstrap=-1": Case(["bootstrap=-1"], r"bootstrap=-1: expected bootstrap >= 0"),
    "task=pretrian": Case(["task=pretrian"], r"task=pretrian is not one of .*'pretrain'\?"),
    "positive_class not a class": Case(
        ["trait.positive_class=hi"],
        r"trait\.positive_class=hi is not a class of trait 'enhancement' \(classes: low, high\)"
        r"; did you mean 'high'\?",
    ),
    "model.batch_size=0": Case(["model.batch_size=0"], r"model\.batch_size=0: expected .* >= 1"),
    "model.optimizer.lr=1e38": Case(
        ["model.optimizer.lr=1e38"],
        r"model\.optimizer\.lr=1e\+38: expected 0 < model\.optimizer\.lr <= 1e\+30",
    ),
    "model.optimizer.lr=-1": Case(
        ["model.optimizer.lr=-1"], r"model\.optimizer\.lr=-1\.0: expected 0 < model\.optimizer\.lr"
    ),
    "unknown activation": Case(
        ["model.activation=tahn"], r"model\.activation=tahn is not one of .*'tanh'\?"
    ),
    "unknown data.format": Case(
        lambda t: real(t, "data.format=gtc"), r"data\.format=gtc is not one of .*'gct'\?"
    ),
    "transferred layers of another size": Case(
        ["model.hidden_dims=[64,16,8]"],
        r"model\.transfer_layers=2 copies .* model\.hidden_dims=\[64,16,8\] and "
        r"pretrain\.hidden_dims=\[32,16,8\] differ",
    ),
    "data.expression_file not set": Case(["data=tcga_gbm"], r"data\.expression_file is not set"),
    "data.label_files without brackets": Case(
        lambda t: real(t, f"data.label_files={write_labels(t, name='subtypes.csv')}"),
        r"data\.label_files=.*subtypes\.csv is one string.*write data\.label_files=\[.*subtypes"
        r"\.csv\]",
    ),
    "data.traits_file as a list": Case(
        lambda t: real(t, f"data.traits_file=[{write_labels(t)}]"),
        r"data\.traits_file=\[.*vasari\.csv\] is a list; it takes one path: "
        r"data\.traits_file=.*vasari\.csv \(",
    ),
    "a directory given as a file": Case(
        lambda t: real(t, expression=t), r"data\.expression_file=.* is a directory"
    ),
    "expression file is a FIFO": Case(
        fifo_expression,
        r"data\.expression_file=.*expr\.tsv: is not a regular file \(a FIFO, device or socket\)",
    ),
    "expression file is a device": Case(
        lambda t: real(t, expression=Path("/dev/zero")),
        r"data\.expression_file=/dev/zero: is not a regular file \(a FIFO, device or socket\)",
    ),
    "label file not found": Case(
        lambda t: real(t, labels=t / "nope.csv"),
        r"file\(s\) not found: data\.traits_file=.*nope\.csv",
    ),
    "pretraining file not found": Case(
        lambda t: real(t, f"data.pretrain_expression_file={t / 'more.tsv'}"),
        r"file\(s\) not found: data\.pretrain_expression_file=.*more\.tsv",
    ),
    "unknown gene-set collection": Case(
        ["+interpret=masking", "interpret.masking.collections=[halmark]"],
        r"interpret\.masking\.collections: 'halmark' is not a shipped collection.*'hallmark'\?",
    ),
    "gene-set file not found": Case(
        ["+interpret=saliency", "interpret.saliency.collections=[/nonexistent/sets.gmt]"],
        r"interpret\.saliency\.collections: gene-set file not found: /nonexistent/sets\.gmt",
    ),
    "gene-set file without the data's genes": Case(
        lambda t: real(
            t, "+interpret=masking", f"interpret.masking.collections=[{disjoint_gmt(t)}]"
        ),
        r"interpret\.masking\.collections: gene-set file .*custom\.gmt has zero genes on the array",
        edit=fresh_cache,  # and nothing was pretrained: checked below
        kind="data error",
    ),
    "cache dir not writable": Case(
        [], r"paths\.cache_dir=.*a_file/cache: cannot write there", edit=unwritable_cache
    ),
    # --- bad data (read before any training)
    "value too large for float32": Case(
        lambda t: real(t, expression=write_expression(t, cells={(4, 7): "1e39"})),
        rf"expr\.tsv: value 1e\+39 at patient 'TCGA-02-0005', gene '{GENES[7]}' is too large for "
        r"float32",
        kind="data error",
    ),
    "NUL in an expression cell": Case(
        lambda t: real(t, expression=write_expression(t, cells={(4, 7): "1.5\x00"})),
        rf"expr\.tsv: non-numeric value '1\.5\\x00' at line 6, row 'TCGA-02-0005', column "
        rf"'{GENES[7]}'; expected a number",
        kind="data error",
    ),
    "label column repeated": Case(
        repeated_label_column,
        r"vasari\.csv: column 'f5\.proportion\.enhancing' appears more than once in the header",
        kind="data error",
    ),
    "GCT with fewer rows than declared": Case(
        lambda t: real(t, expression=write_gct(t, declared_rows=1500, version="#1.2")),
        r"expr\.gct: line 2 declares 1500 rows x 40 columns, but the file holds 40 data rows",
        kind="data error",
    ),
    "GCT 1.3 column-metadata rows missing": Case(
        lambda t: real(t, expression=write_gct(t, declared_rows=40, col_meta=2)),
        r"expr\.gct: line 2 declares 2 column-metadata row\(s\).*only 38 of the 40 declared"
        r".*would be skipped",
        kind="data error",
    ),
    "label table whose first column is not the patient id": Case(
        mislabelled_table,
        r"vasari\.csv: the first column \(scan\.type\) repeats .*'pre-operative'.*column "
        r"'patient' holds TCGA barcodes.*move 'patient' first",
        kind="data error",
    ),
    "trait column entirely blank": Case(
        blank_trait_column,
        r"vasari\.csv: column 'f5\.proportion\.enhancing' \(trait 'enhancement'\) is empty",
        kind="data error",
    ),
    # --- numerics: training diverges (a few tiny steps)
    "pretraining diverges": Case(
        lambda t: real(t, "pretrain.optimizer.lr=1e30"),
        r"autoencoder pretraining .* ended with non-finite .*nothing was cached.*"
        r"pretrain\.optimizer\.lr \(now 1e\+30\)",
        edit=fresh_cache,
        kind="data error",
    ),
    "fine-tuning diverges": Case(
        lambda t: real(
            t, "model.optimizer.lr=1e30", "model.transfer_layers=0", "model.freeze_layers=0"
        ),
        r"fine-tuning: the (training|validation) loss is nan .*lower model\.optimizer\.lr "
        r"\(now 1e\+30\)",
        kind="data error",
    ),
}


def _error_lines(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "radiogenomics.tasks" and r.levelno >= logging.ERROR
    ]


def _non_finite_cache_entries(cache: Path) -> list[Path]:
    bad = []
    for path in Path(cache).glob("autoencoders/ae-*.pt"):
        state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
        if not all(torch.isfinite(t).all() for t in state.values() if t.is_floating_point()):
            bad.append(path)
    return bad


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_ends_in_one_line_and_exit_status_2(name, make_cfg, tmp_path, caplog):
    case = CASES[name]
    overrides = case.overrides(tmp_path) if callable(case.overrides) else case.overrides
    out = tmp_path / "job"
    if case.compose:  # train.py prints this line (radiogenomics.cli.run_main), exit status 2
        with pytest.raises(ConfigCompositionException) as refused:
            make_cfg(*overrides, out=out)
        line = entry_error_line(refused.value)
        assert line is not None and "\n" not in line and line.startswith(f"{case.kind}: "), line
        assert re.search(case.message, line), line
        return
    cfg = make_cfg(*overrides, out=out)
    if case.edit is not None:
        with open_dict(cfg):
            case.edit(cfg, tmp_path)
    with caplog.at_level(logging.INFO), pytest.raises(SystemExit) as info:
        run(cfg)
    assert info.value.code == 2
    lines = _error_lines(caplog)
    assert len(lines) == 1, lines
    assert "\n" not in lines[0]
    assert lines[0].startswith(f"{case.kind}: "), lines[0]
    assert re.search(case.message, lines[0]), lines[0]
    assert not (out / "metrics.json").exists()
    assert not _non_finite_cache_entries(cfg.paths.cache_dir)
    if case.edit is fresh_cache:  # nothing cached: the check ran before pretraining
        assert not list((tmp_path / "cache").glob("autoencoders/*.pt"))


@pytest.mark.slow  # a Python start-up with torch and Lightning imports: ~10-20 s
def test_train_py_ends_a_config_mistake_in_one_line_without_a_traceback(tmp_path):
    """The one subprocess case: ``python train.py`` with ``data.label_files`` lacking brackets."""
    labels = write_labels(tmp_path, name="subtypes.csv")
    cmd = [
        sys.executable,
        "train.py",
        *real(tmp_path),
        f"data.label_files={labels}",
        "logger=none",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output[-2000:]
    assert "Traceback" not in output
    assert f"write data.label_files=[{labels}]" in output
    assert not (tmp_path / "run" / "metrics.json").exists()


# ------------------------------------------------------------------- warnings, not errors


def test_unreadable_label_file_says_permission_denied(make_cfg, tmp_path, caplog, monkeypatch):
    """chmod 000 (tests run as root, who reads anything: the permission check is mocked)."""
    labels = write_labels(tmp_path)
    if os.geteuid() == 0:
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != labels)
    else:
        labels.chmod(0)
    cfg = make_cfg(*real(tmp_path, labels=labels), out=tmp_path / "job")
    with caplog.at_level(logging.INFO), pytest.raises(SystemExit) as info:
        run(cfg)
    assert info.value.code == 2
    (line,) = _error_lines(caplog)
    assert re.fullmatch(
        r"config error: data\.traits_file=.*vasari\.csv: cannot read \(permission denied\)", line
    ), line


def test_missing_clinical_file_warns_at_job_start(make_cfg, tmp_path, caplog):
    cfg = make_cfg(*real(tmp_path, f"data.clinical_file={tmp_path / 'clinical.txt'}"))
    with caplog.at_level(logging.WARNING):
        validate_config(cfg)  # no error: training may go on
    assert any(
        "data.clinical_file=" in r.getMessage() and "scripts/survival.py" in r.getMessage()
        for r in caplog.records
    )


def test_valid_shipped_configs_pass(make_cfg):
    for overrides in (
        [],
        ["trait=subtype"],
        ["data=verhaak840", "trait=subtype"],
        ["model=xgboost"],
        ["model=svm", "experiment=paper_grids"],
        ["experiment=paper", "trait=subtype"],  # (edema: tiny autoencoder, paper-size net)
        ["experiment=hparams_search"],
        ["+interpret=masking"],
        ["+interpret=saliency", "interpret.saliency.collections=[hallmark,verhaak]"],
        ["task=pretrain"],
    ):
        validate_config(make_cfg(*overrides))


def test_config_error_is_a_data_error():
    from radiogenomics.errors import DataError

    assert issubclass(ConfigError, DataError)


# ------------------------------------------------------------------------ autoencoder cache


def _small_cohort(tmp_path: Path, make_cfg):
    cfg = make_cfg(*real(tmp_path))
    with open_dict(cfg):
        cfg.paths.cache_dir = str(tmp_path / "cache")
    return cfg, load_cohort(cfg.data, cfg.paths.cache_dir)


def test_a_damaged_cache_entry_is_rebuilt_with_a_warning(make_cfg, tmp_path, caplog):
    cfg, cohort = _small_cohort(tmp_path, make_cfg)
    first, path = pretrain_task.load_or_pretrain(cfg, cohort, exclude=set())
    path.write_bytes(b"not a torch file")  # truncated / damaged
    with caplog.at_level(logging.WARNING):
        again, same = pretrain_task.load_or_pretrain(cfg, cohort, exclude=set())
    assert same == path
    assert any("pretraining it again" in r.getMessage() for r in caplog.records)
    for key, value in first.state_dict().items():  # the same seed and data: the same weights
        torch.testing.assert_close(again.state_dict()[key], value)
    payload = torch.load(path, map_location="cpu", weights_only=True)
    payload["state_dict"]["output.weight"][0, 0] = float("nan")  # an entry with NaN weights
    torch.save(payload, path)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        pretrain_task.load_or_pretrain(cfg, cohort, exclude=set())
    assert any("non-finite weights" in r.getMessage() for r in caplog.records)
    assert not _non_finite_cache_entries(tmp_path / "cache")


def test_no_cache_entry_is_written_for_non_finite_weights(make_cfg, tmp_path, monkeypatch):
    cfg, cohort = _small_cohort(tmp_path, make_cfg)
    fit = pretrain_task.fit_autoencoder

    def diverged(*args, **kwargs):
        module, report = fit(*args, **kwargs)
        with torch.no_grad():
            module.output.weight.fill_(float("nan"))
        return module, report

    monkeypatch.setattr(pretrain_task, "fit_autoencoder", diverged)
    with pytest.raises(NonFiniteLossError, match="non-finite weights.*nothing was cached"):
        pretrain_task.load_or_pretrain(cfg, cohort, exclude=set())
    assert not list((tmp_path / "cache").glob("autoencoders/*.pt"))


# ------------------------------------------------------------------------------ the docs


def _doc_cases() -> set[str]:
    """First-column names of the error table in docs/real_data.md."""
    text = DOC.read_text()
    table = text[text.index("| case | example message") :].split("\n\n")[0]
    rows = [line.split("|")[1].strip() for line in table.splitlines()[2:]]
    return {row.strip("`") for row in rows}


def test_docs_error_table_lists_every_case():
    listed = _doc_cases()
    missing = sorted((set(CASES) | set(READER_CASES)) - listed)
    assert not missing, f"add these cases to the error table of {DOC.name}: {missing}"


def test_trait_drop_null_drops_nothing(make_cfg):
    """``trait.drop=null`` is an empty list, not a traceback."""
    from radiogenomics.data.traits import TraitSpec
    from radiogenomics.tasks.validation import validate_config

    cfg = make_cfg("trait.drop=null")
    validate_config(cfg)
    assert TraitSpec.from_config(cfg.trait).drop == ()
