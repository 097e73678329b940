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
