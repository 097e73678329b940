"""The sweep summary keeps permutation-null jobs out of folds.csv, in a table of their own."""

from __future__ import annotations

import logging

import pandas as pd

from radiogenomics.pipelines.sweep_summary import summarize
from radiogenomics.results import layout
from radiogenomics.tasks import run


def test_null_jobs_are_set_aside_in_null_folds_and_said(make_cfg, tmp_path, caplog):
    sweep = tmp_path / "sweep"
    for fold in (0, 1):
        run(make_cfg("n_folds=2", f"fold={fold}", out=sweep / f"fold={fold}"))
    summary = layout.summary_dir(sweep)
    summarize(sweep, n_boot=50)
    real = {name: pd.read_csv(summary / name) for name in (layout.FOLDS, layout.CV_SUMMARY)}
    assert not (summary / layout.NULL_FOLDS).exists()  # no null jobs: no table

    null = sweep / "fold=0,null_permutation=0"
    run(make_cfg("n_folds=2", "fold=0", "null_permutation=0", out=null))
    with caplog.at_level(logging.INFO):
        summarize(sweep, n_boot=50)
    for name, table in real.items():  # the real jobs' rows as they were
        pd.testing.assert_frame_equal(pd.read_csv(summary / name)[table.columns], table)
    nulls = pd.read_csv(summary / layout.NULL_FOLDS)
    assert nulls["job"].tolist() == [null.name] and nulls["null_permutation"].tolist() == [0]
    assert set(real[layout.FOLDS].columns) <= set(nulls.columns)
    said = [r.getMessage() for r in caplog.records if "permutation-null jobs" in r.getMessage()]
    assert said == [
        f"1 permutation-null jobs (null_permutation set) are not in {layout.FOLDS}, "
        f"{layout.PREDICTIONS} or {layout.CV_SUMMARY}: their rows are in {layout.NULL_FOLDS}"
    ]
