"""Job dir names: the overrides themselves, or a readable prefix plus a hash when too long."""

from radiogenomics.hydra_resolvers import MAX_DIRNAME, job_dirname


def test_short_names_are_kept_and_long_ones_fit_a_file_name():
    assert job_dirname("fold=3,trait=enhancement") == "fold=3,trait=enhancement"
    long_a = ",".join(f"interpret.saliency.option_{k}=value" for k in range(20)) + ",fold=0"
    long_b = long_a.replace("fold=0", "fold=1")  # differs only at the end, past the prefix
    a, b = job_dirname(long_a), job_dirname(long_b)
    assert len(a) == MAX_DIRNAME and len(a.encode()) < 255
    assert a != b and a[:100] == long_a[:100]  # distinct jobs, readable prefix
    assert job_dirname(long_a) == a  # stable across calls and processes (reruns find the dir)


def test_path_values_become_one_readable_component():
    name = job_dirname("data.expression_file=../../../x.tsv,fold=0")
    assert name.startswith("data.expression_file=x.tsv~") and name.endswith(",fold=0")
    assert "/" not in name and ".." not in name
    long_path = "data.expression_file=/" + "/".join(["deep"] * 80) + "/x.tsv,fold=0"
    assert len(job_dirname(long_path)) <= MAX_DIRNAME and "/" not in job_dirname(long_path)


def test_planned_job_names_match_the_dirs_hydra_makes():
    """results.sweep names planned jobs with the same function as hydra.sweep.subdir."""
    from omegaconf import OmegaConf

    from radiogenomics.results.sweep import sweep_jobs

    naming = {"exclude_keys": [], "item_sep": ",", "kv_sep": "="}
    cfg = OmegaConf.create(
        {
            "hydra": {
                "sweeper": {"params": {"fold": "0,1"}},
                "overrides": {"task": ["data.expression_file=../../x.tsv"]},
                "job": {"config": {"override_dirname": naming}},
            }
        }
    )
    jobs = sweep_jobs(cfg)
    assert sorted(jobs) == sorted(
        job_dirname(f"data.expression_file=../../x.tsv,fold={k}") for k in (0, 1)
    )
    assert all("/" not in name for name in jobs)
    assert all("data.expression_file=../../x.tsv" in job for job in jobs.values())


def test_first_repeat_keeps_the_plain_cv_dir_name():
    """repeat=0 and repeats=R stay out of job dir names; later repeats are named."""
    from radiogenomics.hydra_resolvers import repeat_ids

    assert job_dirname("fold=3,repeat=0,trait=enhancement") == "fold=3,trait=enhancement"
    assert job_dirname("fold=3,repeat=0,repeats=5") == "fold=3"
    assert job_dirname("repeat=0,repeats=5,fold=3") == "fold=3"
    assert job_dirname("fold=3,repeat=2,repeats=5") == "fold=3,repeat=2"
    assert job_dirname("fold=3,repeat=10") == "fold=3,repeat=10"
    assert repeat_ids(1) == "0" and repeat_ids(3) == "0,1,2"
