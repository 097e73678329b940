import gzip
import json
import time

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from radiogenomics.data.cohort import load_cohort, trait_cohort
from radiogenomics.data.synthetic import SyntheticConfig, ensure_synthetic
from radiogenomics.data.traits import TraitSpec
from radiogenomics.tasks.pretrain import load_or_pretrain


def test_autoencoder_and_trait_cohorts_are_disjoint(make_cfg):
    cfg = make_cfg()
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    ae = set(cohort.pretrain_patients)
    for trait in ("enhancement", "subtype"):
        tc = trait_cohort(cohort, TraitSpec.from_config(make_cfg(f"trait={trait}").trait))
        assert ae.isdisjoint(tc.patient_ids)
    assert len(ae) == cfg.data.synthetic.n_pretrain


def test_pretraining_refuses_an_overlapping_cohort(make_cfg):
    cfg = make_cfg()
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    leaked = {cohort.pretrain_patients[0]}
    with pytest.raises(RuntimeError, match="overlap"):
        load_or_pretrain(cfg, cohort, exclude=leaked)


def test_synthetic_cohort_is_deterministic_and_in_real_formats(tmp_path):
    cfg = SyntheticConfig(seed=3, n_pretrain=20, n_annotated=40, n_genes=1600)
    a = ensure_synthetic(cfg, tmp_path / "a")
    b = ensure_synthetic(cfg, tmp_path / "b")
    assert gzip.decompress(a.expression.read_bytes()) == gzip.decompress(b.expression.read_bytes())
    header = a.vasari.read_text().splitlines()[0]
    assert header.startswith(",research.id,scan.type,f9.multifocal.or.multicentric")
    truth = json.loads(a.truth.read_text())
    assert truth["traits"]["edema"]["driver_set"] == "HALLMARK_EPITHELIAL_MESENCHYMAL_TRANSITION"
    assert "n/a" in a.vasari.read_text()


def test_planted_driver_correlates_with_trait(make_cfg):
    """The driver program's mean expression separates the classes: the planted answer exists."""
    cfg = make_cfg()
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    files = ensure_synthetic(SyntheticConfig.from_config(cfg.data.synthetic), cfg.paths.cache_dir)
    truth = json.loads(files.truth.read_text())["traits"]["enhancement"]
    tc = trait_cohort(cohort, TraitSpec.from_config(cfg.trait))
    cols = [tc.genes.index(g) for g in truth["driver_genes"]]
    z = (tc.X - tc.X.mean(0)) / tc.X.std(0)
    score = z[:, cols].mean(1)
    assert roc_auc_score(tc.y, score) > 0.8
    other = [j for j in range(len(tc.genes)) if j not in set(cols)][:200]
    assert abs(roc_auc_score(tc.y, z[:, other].mean(1)) - 0.5) < 0.2
    assert np.isfinite(tc.X).all()


def test_planted_survival_effect_follows_its_driver_program(make_cfg):
    """The synthetic clinical table reads as TCGA BCR, and survival shortens with the planted
    pair's driver program (edema x EMT) but not with another trait's driver."""
    from lifelines import CoxPHFitter

    from radiogenomics.data.clinical import read_clinical

    cfg = make_cfg()
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    files = ensure_synthetic(SyntheticConfig.from_config(cfg.data.synthetic), cfg.paths.cache_dir)
    truth = json.loads(files.truth.read_text())
    planted = truth["survival"]
    assert (planted["trait"], planted["driver_set"]) == (
        "edema",
        truth["traits"]["edema"]["driver_set"],
    )
    clinical = read_clinical(files.clinical)
    assert clinical.issues.empty and 0.5 < clinical.patients["os_event"].mean() < 0.95
    patients = clinical.patients.index.intersection(cohort.expression.index)
    assert len(patients) == len(cohort.expression)  # every patient has a clinical row
    x = cohort.expression.loc[patients]
    z = (x - x.mean()) / x.std()
    data = clinical.patients.loc[patients, ["os_time", "os_event"]].assign(
        emt=z[truth["traits"]["edema"]["driver_genes"]].mean(axis=1),
        hypoxia=z[truth["traits"]["enhancement"]["driver_genes"]].mean(axis=1),
    )
    fit = CoxPHFitter().fit(data, "os_time", "os_event")
    assert fit.summary.loc["emt", "coef"] > 0.3 and fit.summary.loc["emt", "p"] < 1e-4
    assert fit.summary.loc["hypoxia", "p"] > 0.001


def test_regenerating_the_synthetic_cohort_gives_the_same_bytes(tmp_path):
    """Issue 27: the gzip header's timestamp made every regeneration a new autoencoder cache key."""
    from radiogenomics.data.synthetic import generate
    from radiogenomics.utils import file_digest

    cfg = SyntheticConfig(seed=3, n_pretrain=10, n_annotated=20, n_genes=1600)
    first = generate(cfg, tmp_path / "first")
    time.sleep(1.1)  # gzip's header time has a resolution of one second
    second = generate(cfg, tmp_path / "second")
    assert first.expression.read_bytes()[4:8] == b"\0\0\0\0"  # no timestamp in the header
    assert file_digest(first.expression) == file_digest(second.expression)
