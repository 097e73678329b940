"""OmegaConf resolvers the configs use; registered when this module is imported.

``${rg_job_dirname:${hydra.job.override_dirname}}`` names a sweep's job dirs by their overrides
(``fold=3,trait=enhancement``) so that reruns find them, but keeps each name short enough for a
file system (255 bytes per path component): a long one keeps a readable prefix plus a hash of the
whole. Every job's full overrides stay in its ``.hydra/overrides.yaml``.
"""

from __future__ import annotations

from omegaconf import OmegaConf

from radiogenomics.utils import stable_hash

MAX_DIRNAME = 200  # characters of a job dir name; longer ones are cut and hashed
HASH_LENGTH = 12


def job_dirname(override_dirname: str, max_len: int = MAX_DIRNAME) -> str:
    """The job dir name: ``override_dirname`` itself, or a prefix + hash when it is too long."""
    if len(override_dirname) <= max_len:
        return override_dirname
    digest = stable_hash(override_dirname, length=HASH_LENGTH)
    return f"{override_dirname[: max_len - HASH_LENGTH - 1]}-{digest}"


def register() -> None:
    """Register the resolvers once (idempotent: safe in every process that imports this)."""
    if not OmegaConf.has_resolver("rg_job_dirname"):
        OmegaConf.register_new_resolver("rg_job_dirname", job_dirname)


register()
