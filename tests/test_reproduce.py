"""scripts/reproduce.py: claims read from fake sweeps, tolerance, exit statuses; and the CI check
that the default sweep still gives the README's pooled AUROC (benchmarks/claims.yaml)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
import time

import pytest

from radiogenomics.environment import machine_kind
from radiogenomics.reproduce import ReproduceError, check, load_runs, reproduce, select
from radiogenomics.results import layout

from .conftest import ROOT

# a stand-in for train.py: writes <sweep>/summary/cv_summary.csv with one row per model
FAKE_SWEEP = """
import csv, sys
from pathlib import Path
sweep, values = Path(sys.argv[1]), sys.argv[2:]
(sweep / "summary").mkdir(parents=True, exist_ok=True)
with open(sweep / "summary" / "cv_summary.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["trait", "model", "pooled_auroc", "mean_auroc"])
    for v in values:
        model, auroc = v.split(":")
        w.writerow(["enhancement", model, auroc, 0.7])
with open(sweep / "calls.txt", "a") as f:
    f.write("call\\n")
"""


def _registry(tmp_path, measured: str = "nn:0.801", expected: float = 0.803, **extra) -> str:
    (tmp_path / "fake_sweep.py").write_text(FAKE_SWEEP)
    claims = tmp_path / "claims.yaml"
    claims.write_text(
        textwrap.dedent(f"""
        default_tolerance: 0.005
        runs:
          fake:
            what: a fake sweep
            quick: true
            commands:
              - [{tmp_path / "fake_sweep.py"}, "{{sweep}}", "{measured}"]
            claims:
              pooled: {{table: cv_summary, column: pooled_auroc, where: {{model: nn}}, expected: {expected}}}
              mean: {{table: cv_summary, column: mean_auroc, where: {{model: nn}}, expected: 0.7, tolerance: 0}}
            result: "pooled {{pooled:.3f}}; {{wall}}"
          {extra.get("second", "")}
        """)
    )
    return str(claims)


def _script(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "scripts/reproduce.py", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_claims_within_tolerance_pass_and_the_table_is_written(tmp_path):
    out = tmp_path / "out"
    outcome = reproduce(ROOT, out, claims_file=tmp_path / _registry(tmp_path))
    assert outcome.ok
    assert [r["claim"] for r in outcome.rows] == ["fake.pooled", "fake.mean"]
    assert outcome.rows[0]["measured"] == pytest.approx(0.801)
    assert outcome.rows[0]["diff"] == pytest.approx(-0.002)
    with (out / layout.REPRODUCE_TABLE).open() as handle:
        table = list(csv.DictReader(handle))
    assert [r["ok"] for r in table] == ["True", "True"]
    assert table[0]["command"] == f"python {tmp_path / 'fake_sweep.py'} <sweep> nn:0.801"
    text = (out / layout.REPRODUCE_MARKDOWN).read_text()
    assert "| fake.pooled | 0.803 | 0.801 | 0.005 | yes |" in text
    assert (
        "| a fake sweep |" in outcome.readme_rows[0] and "pooled 0.801;" in outcome.readme_rows[0]
    )
    assert "python" in (out / layout.ENVIRONMENT).read_text()


def test_a_claim_outside_its_tolerance_exits_1(tmp_path):
    claims = _registry(tmp_path, measured="nn:0.786")
    proc = _script("--claims", claims, "--out", str(tmp_path / "out"))
    assert proc.returncode == 1, proc.stderr
    assert "| fake.pooled | 0.803 | 0.786 | 0.005 | **no** | outside tolerance |" in proc.stdout
    assert "1 of 2 claims off: fake.pooled" in proc.stdout


def test_a_rerun_into_the_same_out_reruns_the_commands_there(tmp_path):
    claims = _registry(tmp_path)
    out = tmp_path / "out"
    for _ in range(2):
        assert _script("--claims", claims, "--out", str(out), "--only", "fake").returncode == 0
    assert (out / "fake" / "calls.txt").read_text().count("call") == 2


def test_a_bad_claim_name_exits_2_with_one_line(tmp_path):
    proc = _script("--claims", _registry(tmp_path), "--only", "fake.poled", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "reproduce: error: --only fake.poled: no such run or claim; did you mean 'fake.pooled'?"
    ]
    assert _script("--quick", "--only", "x").stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("registry", "message"),
    [
        (
            "runs: {a: {commands: [[train.py]], claims: {x: {table: cv, column: c, expected: 1}}}}",
            "runs.a.claims.x.table='cv': expected one of",
        ),
        (
            "runs: {a: {commands: [[train.py]], claims: {x: {table: folds, column: c}}}}",
            "runs.a.claims.x: give exactly one of expected or at_most",
        ),
        (
            "runs: {a: {commands: [[train.py]], claims: {x: {table: folds, column: c, at_most: z}}}}",
            "runs.a.claims.x.at_most='z': expected a finite number",
        ),
        (
            "runs: {a: {commands: [[train.py]], claims: {x: {table: folds, column: c, dir: ../b,"
            " expected: 1}}}}",
            "runs.a.claims.x.dir='../b': expected a folder inside the run",
        ),
        ("runs: {a: {commands: [[nope.py]]}}", "runs.a.commands: no script"),
        ("runs: {a: {command: [[train.py]]}}", "runs.a: unknown keys ['command']"),
    ],
)
def test_a_bad_registry_entry_is_named(tmp_path, registry, message):
    path = tmp_path / "claims.yaml"
    path.write_text(registry)
    with pytest.raises(ReproduceError, match="^" + message.replace("[", r"\[").replace("(", r"\(")):
        load_runs(path, ROOT)


def test_a_failed_command_or_a_missing_row_fails_its_claims(tmp_path):
    second = "broken: {commands: [[train.py, --nope]], claims: {x: {table: cv_summary, column: c, expected: 1}}}"
    claims = _registry(tmp_path, measured="rf:0.9", second=second)
    outcome = reproduce(ROOT, tmp_path / "out", claims_file=tmp_path / claims)
    notes = {r["claim"]: r["note"] for r in outcome.rows}
    assert not outcome.ok
    assert notes["fake.pooled"].startswith("0 rows of cv_summary.csv match (model=nn)")
    assert notes["broken.x"].startswith("command failed (exit 2)")


def test_quick_and_only_select_runs_and_claims():
    runs = load_runs(ROOT / "benchmarks" / "claims.yaml", ROOT)
    assert [r.name for r in select(runs, True, None)] == ["default_sweep", "permuted_labels"]
    assert len(select(runs, False, None)) == len(runs) == 7
    picked = select(runs, False, ["comparators.rf", "default_sweep"])
    assert [(r.name, len(r.claims)) for r in picked] == [("default_sweep", 4), ("comparators", 1)]
    assert runs[2].shown() == (
        "python train.py -m trait=enhancement model=nn,logit_l2,svm,rf,xgboost repeats=5"
        " save_model=false then python scripts/compare.py <sweep>"
    )


def test_ci_default_sweep_gives_the_readme_pooled_auroc(tmp_path):
    """CI: `python scripts/reproduce.py --only default_sweep` (cold: ~2.5 min on 2 cores).

    Uses RADIOGENOMICS_CACHE or the repository's .cache (a warm cache skips cohort generation
    and pretraining; CI starts without one)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "scripts/reproduce.py", "--only", "default_sweep", "--out", str(tmp_path)],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    print(f"default sweep via reproduce.py: {time.perf_counter() - start:.0f} s")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


@pytest.mark.parametrize(
    ("kind", "expected", "tolerance", "ok"),
    [
        ("AuthenticAMD/AVX512", 0.803, 0.005, True),  # its own measured value
        ("GenuineIntel/AVX512", 0.786, 0.005, False),  # the reference kind: strict
        ("GenuineIntel/AVX2", 0.786, 0.03, True),  # no value for this kind: widened
    ],
)
def test_a_claim_is_checked_against_the_value_of_its_machine_kind(
    tmp_path, kind, expected, tolerance, ok
):
    """Seeded numbers repeat within one machine kind and move across kinds: a claim holds its
    value per measured kind, strict on each, and a kind with no value gets the wider tolerance
    with a note saying so."""
    claims = tmp_path / "claims.yaml"
    claims.write_text(
        textwrap.dedent("""
        reference_machine: GenuineIntel/AVX512
        other_machine_tolerance: 0.03
        runs:
          a:
            commands: [[train.py]]
            claims:
              pooled: {table: cv_summary, column: pooled_auroc, expected: 0.786,
                       by_machine: {AuthenticAMD/AVX512: 0.803}}
        """)
    )
    (run,) = load_runs(claims, ROOT)
    sweep = tmp_path / "a"
    (sweep / "summary").mkdir(parents=True)
    (sweep / "summary" / "cv_summary.csv").write_text("model,pooled_auroc\nnn,0.8026\n")
    (row,) = check(run, sweep, None, kind)
    assert (row["expected"], row["tolerance"], row["ok"]) == (expected, tolerance, ok)
    assert ("tolerance 0.03" in row["note"]) is (tolerance == 0.03)
    assert "/" in machine_kind()  # vendor/capability of this machine, as reproduce.py prints it


@pytest.mark.parametrize(("bound", "ok"), [(0.81, True), (0.8, False)])
def test_an_at_most_claim_is_a_bound_read_from_a_subfolder(tmp_path, bound, ok):
    (tmp_path / "fake_sweep.py").write_text(FAKE_SWEEP)
    claims = tmp_path / "claims.yaml"
    claims.write_text(
        textwrap.dedent(f"""
        runs:
          bounded:
            commands:
              - [{tmp_path / "fake_sweep.py"}, "{{sweep}}/real", "nn:0.801"]
            claims:
              q: {{table: cv_summary, dir: real, column: pooled_auroc, at_most: {bound}, tolerance: 0}}
        """)
    )
    outcome = reproduce(ROOT, tmp_path / "out", claims_file=claims)
    assert outcome.ok is ok
    assert outcome.rows[0]["expected"] == f"<= {bound:g}"
    assert outcome.rows[0]["measured"] == pytest.approx(0.801)
