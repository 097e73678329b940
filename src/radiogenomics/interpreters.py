"""The interpreters, one entry each: the only place their names are spelled.

An interpreter is switched on by ``+interpret=<name>`` (``configs/interpret/<name>.yaml``, the one
home of its settings' defaults) and read from ``cfg.interpret.<name>`` by everything that runs
it: the network's Lightning callback (``tasks/finetune.instantiate_callbacks``), a comparator
job's hook (``tasks/comparator_interpret``), ``task=interpret``, config validation, the sweep
summary and the HTML report. Each of them loops over :func:`entries`.

An entry names its pieces by import path (``"package.module:attribute"``), loaded on first use, so
this module sits below every layer (``hydra_resolvers`` and ``tasks/jobs`` read the names) while
each piece lives in its own layer; ``tests/test_architecture.py`` checks that every path loads and
that each piece lies in a layer its readers may import. Adding an interpreter is one module with
its pieces and one entry in :data:`INTERPRETERS` (docs/architecture.md shows the recipe).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

NETWORK = "nn"  # model.family of the networks (trained by Lightning: callbacks run)
COMPARATOR = "baseline"  # model.family of the comparators (no trainer: a hook after the fit)
# keys of an interpreter's section that are not its options: the switch, and the keys (callback
# target, fold, output dir) that configs of older sweeps still carry
NOT_OPTIONS = ("enabled", "_target_", "fold", "out_dir")


@dataclass(frozen=True)
class Interpreter:
    """One interpreter: its config section, the families it explains and where each piece lives.

    Import paths (``"module:attribute"``), each optional:

    * ``options``: the frozen dataclass of its settings (types and checks; no defaults: those are
      the YAML's), built from the section by :meth:`options_from`;
    * ``network_writer``: ``(module, patients, options, indexed, fold, out_dir)``, run on a
      network's held-out patients after ``trainer.test`` (``indexed``: the gene-set collections
      indexed before training when ``options.uses_gene_sets``, else ``None``);
    * ``comparator_writer``: ``(pipeline, patients, options, fold, out_dir)``, after a comparator's
      fit;
    * ``folder``: the ``results.layout`` constant naming its folder in a job dir;
    * ``summary``: the sweep-summary step, ``(SweepJobs) -> None``; for an entry that
      ``adds_jobs``: ``(sweep_dir, metrics, predictions, fdr) -> (metrics, predictions)``, run
      first, taking its extra jobs out of the tables every other step reads;
    * ``report``: its blocks of the report's interpretation section (caveats first),
      ``(sweep, shown, settings) -> list`` (``settings``: the sweep's section, ``{}`` if none).

    ``needs``: why the other model families cannot run it; a single job of such a family asking
    for it is refused (ConfigError) and a mixed sweep's jobs of that family skip it with a
    warning. Without it, other families skip it quietly. ``needs_labels``: its scores compare
    classes (task=interpret refuses it on unlabelled data). ``null_job``: settings a permutation-null
    job overrides (work the null summary does not read). ``adds_jobs``: it adds jobs to the sweep
    (left out of job dir names and of the config hash, so the real jobs stay the same jobs).
    ``defaults_in_options``: the interpreter has no ``configs/interpret/<name>.yaml``; its options
    dataclass declares every default and :func:`register_configs` makes ``+interpret=<name>`` of
    them (a new interpreter is then one module and this one entry).
    """

    name: str
    options: str | None = None
    families: tuple[str, ...] = ()
    network_writer: str | None = None
    comparator_writer: str | None = None
    folder: str | None = None
    summary: str | None = None
    report: str | None = None
    needs: str | None = None
    needs_labels: bool = False
    null_job: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    adds_jobs: bool = False
    defaults_in_options: bool = False

    def resolve(self, piece: str) -> Any:
        """The object behind one of the import-path fields (``"options"``, ``"summary"``, ...)."""
        path = getattr(self, piece)
        if path is None:
            raise LookupError(f"interpreter {self.name!r} has no {piece}")
        return import_path(path)

    def options_from(self, section: Mapping[str, Any]) -> Any:
        """The options dataclass built from a config section (TypeError/ValueError if bad).

        Only the option keys are read (an older job config's ``out_dir`` interpolation is not
        resolved); lists come as lists.
        """
        settings = {key: section[key] for key in section if key not in NOT_OPTIONS}
        settings = {
            key: list(value)
            if isinstance(value, Sequence) and not isinstance(value, str)
            else value
            for key, value in settings.items()
        }
        return self.resolve("options")(**settings)

    def explains(self, family: str) -> bool:
        """Whether jobs of model ``family`` (``nn`` / ``baseline``) run it."""
        return family in self.families

    def refusal(self) -> str:
        """The one-line error of a job whose family cannot run it (see ``needs``)."""
        others = [
            f"+interpret={e.name}"
            for e in entries()
            if e.name != self.name and set(e.families) - set(self.families)
        ]
        alternative = f"; for this model use {' or '.join(others)}" if others else ""
        return f"interpret.{self.name}: {self.needs}{alternative}"


@cache
def import_path(path: str) -> Any:
    """The attribute ``attr`` of module ``module`` for ``"module:attr"``."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


INTERPRETERS: tuple[Interpreter, ...] = (
    Interpreter(
        "masking",
        options="radiogenomics.interpret.masking_tables:MaskingOptions",
        families=(NETWORK, COMPARATOR),
        network_writer="radiogenomics.interpret.masking_tables:write_masking",
        comparator_writer="radiogenomics.interpret.comparator_tables:write_comparator_masking",
        folder="radiogenomics.results.layout:MASKING_DIR",
        summary="radiogenomics.summaries.masking:masking_sweep_summary",
        report="radiogenomics.report.sections:masking_blocks",
        needs_labels=True,
        null_job=MappingProxyType({"n_random": 0}),
    ),
    Interpreter(
        "saliency",
        options="radiogenomics.interpret.saliency_tables:SaliencyOptions",
        families=(NETWORK,),
        network_writer="radiogenomics.interpret.saliency_tables:write_saliency",
        folder="radiogenomics.results.layout:SALIENCY_DIR",
        summary="radiogenomics.summaries.saliency:saliency_sweep_summary",
        report="radiogenomics.report.sections:saliency_blocks",
        needs="input-gradient saliency needs the network (model=nn)",
        null_job=MappingProxyType({"gsea_patients": False}),
    ),
    Interpreter(
        "attribution",
        options="radiogenomics.interpret.comparator_tables:AttributionOptions",
        families=(COMPARATOR,),
        comparator_writer="radiogenomics.interpret.comparator_tables:write_attribution",
        folder="radiogenomics.results.layout:ATTRIBUTION_DIR",
        summary="radiogenomics.summaries.model_agreement:attribution_sweep_summary",
    ),
    Interpreter(
        "permutation_null",
        summary="radiogenomics.summaries.importance_null:summarize_importance_null",
        adds_jobs=True,
    ),
)


def register_configs() -> None:
    """Store ``+interpret=<name>`` in Hydra's ConfigStore for every entry whose options dataclass
    holds its defaults (``defaults_in_options``): ``enabled: true`` and each field's default."""
    import dataclasses

    from hydra.core.config_store import ConfigStore

    for entry in entries():
        if not entry.defaults_in_options:
            continue
        node: dict[str, Any] = {"enabled": True}
        for option in dataclasses.fields(entry.resolve("options")):
            if option.default is not dataclasses.MISSING:
                node[option.name] = option.default
            elif option.default_factory is not dataclasses.MISSING:
                node[option.name] = option.default_factory()
            else:
                raise TypeError(f"interpreter {entry.name!r}: option {option.name} has no default")
        ConfigStore.instance().store(
            group="interpret", name=entry.name, node=node, package=f"interpret.{entry.name}"
        )


def entries() -> tuple[Interpreter, ...]:
    """Every interpreter, in the order they run and are summarized."""
    return INTERPRETERS


def names() -> list[str]:
    """Every interpreter's name (the options of ``+interpret=...``)."""
    return [e.name for e in entries()]


def get(name: str) -> Interpreter:
    """The entry called ``name`` (KeyError naming the known ones)."""
    for entry in entries():
        if entry.name == name:
            return entry
    raise KeyError(f"no interpreter {name!r}; known: {names()}")


def writing(folder: str) -> Interpreter:
    """The entry whose job folder is ``folder`` (a ``results.layout`` name), for the readers of
    another interpreter's tables (the permutation null reads saliency's)."""
    for entry in entries():
        if entry.folder is not None and entry.resolve("folder") == folder:
            return entry
    raise KeyError(f"no interpreter writes {folder!r}")


def job_adding() -> list[str]:
    """Names of the interpreters that add jobs to a sweep (``adds_jobs``)."""
    return [e.name for e in entries() if e.adds_jobs]


def enabled(sections: Mapping[str, Any] | None, among: Iterable[Interpreter] | None = None) -> dict:
    """{entry: section} of every interpreter of ``entries()`` (or ``among``) that ``sections``
    (``cfg.interpret`` as a mapping) switches on: a mapping without ``enabled: false``."""
    found = {}
    for entry in entries() if among is None else among:
        section = (sections or {}).get(entry.name)
        if isinstance(section, Mapping) and section.get("enabled", True):
            found[entry] = section
    return found


@dataclass(frozen=True)
class SweepJobs:
    """What a sweep-summary step reads: the sweep, its completed jobs and the thresholds.

    ``metrics``: one row per job of the first CV repeat (every held-out patient once), with its
    ``job`` dir, ``classes`` and the ``group_keys`` that identify a configuration.
    """

    sweep_dir: Path
    metrics: pd.DataFrame
    group_keys: tuple[str, ...]
    fdr: float
    min_patients: int
