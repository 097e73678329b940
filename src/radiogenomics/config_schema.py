"""The type and range of every option, in one place: Hydra structured configs.

Each dataclass is the schema of a config group (``model``, ``pretrain``, ``trainer``,
``callbacks``) or of the top-level train options; :func:`register` stores them in Hydra's
ConfigStore and each YAML of the group names its schema first in its defaults list
(``defaults: [nn_schema, _self_]``), so Hydra types the options when it composes: a value of the
wrong type (``seed=abc``) fails there, and :func:`compose_error_line` turns that into the same
one line the job's check gives.

Defaults live in the YAML files only (what a user reads and edits): a schema field has no
default (``MISSING``), its metadata holds the range (``ge``, ``gt``, ``le``, ``lt``), the allowed
values (``choices``: a ``module:NAME`` constant of the package, read when checked, or a tuple),
an example and why the range is what it is. ``tasks.validation`` walks these fields
(:func:`option_problem` for a value) and keeps only the rules that relate several options.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

# numpy's and scikit-learn's seeds are 32-bit (torch's and Lightning's too): a seed outside
# 0..2**32-1 fails deep inside a fit with a traceback
MAX_SEED = 2**32 - 1
SEED_WHY = "numpy, scikit-learn and torch take 32-bit seeds"
# torch builds optimizers in float32 and overflows with a traceback far below float32's max;
# 1e30 still trains (and diverges cleanly, which the numerics guard reports)
MAX_LEARNING_RATE = 1e30


def option(
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: str | tuple | None = None,
    lower: bool = False,
    sizes: bool = False,
    example: object = None,
    why: str = "",
) -> Any:
    """A schema field without a default (the YAML holds it) and with its checks as metadata."""
    meta = {"ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices, "example": example}
    meta = {k: v for k, v in meta.items() if v is not None}
    meta.update({k: v for k, v in {"lower": lower, "sizes": sizes, "why": why}.items() if v})
    return field(default=MISSING, metadata=meta)


def seed_option() -> Any:
    """A seed: 0..MAX_SEED."""
    return option(ge=0, le=MAX_SEED, example=0, why=SEED_WHY)


def section() -> Any:
    """A nested group of options (its own dataclass; no default: the YAML holds it)."""
    return field(default=MISSING)


TASKS = ("finetune", "pretrain", "predict", "interpret", "refit")

# ------------------------------------------------------------------------------ the schemas


@dataclass
class OptimizerOptions:
    """``pretrain.optimizer`` (an upper bound on lr: torch overflows; other torch arguments
    take a '+')."""

    name: str = option(choices="models.blocks:OPTIMIZERS", lower=True)
    lr: float = option(gt=0, le=MAX_LEARNING_RATE, example=0.001)


@dataclass
class NetworkOptimizerOptions(OptimizerOptions):
    """``model.optimizer``: also the (L2 or decoupled) weight decay."""

    weight_decay: float | None = option(ge=0, le=MAX_LEARNING_RATE)


@dataclass
class CorruptionOptions:
    """``pretrain.corruption``: the denoising objective."""

    kind: str = option(choices="models.regularization:CORRUPTIONS")
    rate: float = option(ge=0, lt=1, example=0.15)


@dataclass
class PretrainOptions:
    """``pretrain``: the autoencoder (configs/pretrain/)."""

    patients: str = option(choices="models.autoencoder:PRETRAIN_PATIENTS")
    corruption: CorruptionOptions | None = section()
    hidden_dims: list[int] = option(sizes=True)
    activation: str = option(choices="models.blocks:ACTIVATIONS")
    batchnorm: bool = option()
    dropout: float = option(ge=0, lt=1, example=0.0)
    loss: str = option(choices="models.autoencoder:LOSSES")
    batch_size: int = option(ge=1, example=32)
    max_epochs: int = option(ge=1, example=30)
    val_fraction: float = option(ge=0, lt=1, example=0.1)
    seed: int = seed_option()
    optimizer: OptimizerOptions = section()


@dataclass
class GeneFilterOptions:
    """``model.gene_filter``: the input gene filter."""

    method: str = option(choices="models.classifier:GENE_FILTERS")
    top_k: int = option(ge=1, example=2000)


@dataclass
class PenaltyOptions:
    """``model.penalty``: the first layer's sparsity penalty."""

    kind: str = option(choices="models.classifier:PENALTIES")
    weight: float = option(ge=0, example=1e-4)


@dataclass
class SwaOptions:
    """``model.swa``: stochastic weight averaging seen by epoch selection."""

    enabled: bool = option()
    start_fraction: float = option(gt=0, lt=1, example=0.5)
    lr: float | None = option(gt=0, le=MAX_LEARNING_RATE)


@dataclass
class NetworkOptions:
    """``model`` of the network family (configs/model/nn.yaml).

    ``input`` is checked by ``tasks.validation`` against :class:`InputOptions` (its unknown keys
    get a "did you mean"), ``without_pretraining`` (a mapping of these options; ``~`` deletes it) is
    left untyped.
    """

    family: str = option(choices=("nn", "baseline"))
    name: str = option()
    hidden_dims: list[int] = option(sizes=True)
    activation: str = option(choices="models.blocks:ACTIVATIONS")
    batchnorm: bool = option()
    dropout: float = option(ge=0, lt=1, example=0.2)
    input_dropout: float = option(ge=0, lt=1, example=0.2)
    transfer_layers: int = option()  # 0..len(hidden_dims): checked with hidden_dims
    freeze_layers: int = option(ge=0)
    class_balanced: bool = option()
    batch_size: int = option(ge=1, example=16)
    optimizer: NetworkOptimizerOptions = section()
    gene_filter: GeneFilterOptions | None = section()
    penalty: PenaltyOptions | None = section()
    ensemble: int | None = option(ge=1, example=4, why="members of the fold's network")
    ensemble_style: str | None = option(choices="models.ensemble:ENSEMBLE_STYLES")
    member_split: str | None = option(choices="models.ensemble:MEMBER_SPLITS")
    input: Any = option()
    mixup: float | None = option(ge=0, example=0.2)
    label_smoothing: float | None = option(ge=0, lt=1, example=0.1)
    swa: SwaOptions | None = section()


@dataclass
class SearchOptions:
    """``model.search`` of a comparator (its ``default_search`` or experiment=paper_grids')."""

    method: str = option(choices=("grid", "random"))
    n_iter: int | None = option(ge=1)
    select_k: int | None = option(ge=1, example=1000)
    grid: Any = option()


@dataclass
class ComparatorSearchOptions(SearchOptions):
    """``default_search`` of a comparator that also fits continuous traits."""

    regression_grid: Any = option()


@dataclass
class OrdinalComparatorOptions:
    """``model`` of a native ordinal comparator (configs/model/ordinal_logit.yaml)."""

    family: str = option(choices=("nn", "baseline"))
    name: str = option(
        choices=("models.baselines:COMPARATORS", "models.baselines:ORDINAL_COMPARATORS")
    )
    n_jobs: int | None = option()
    inner_folds: int = option(ge=2, example=3)
    params: dict[str, Any] = option()
    search: Any = option()
    default_search: SearchOptions = section()


@dataclass
class ComparatorOptions(OrdinalComparatorOptions):
    """``model`` of the other comparators (configs/model/: logit_l1, rf, svm, xgboost, ...)."""

    ordinal: str | None = option(choices="models.baselines:ORDINAL_MODES")
    default_search: ComparatorSearchOptions = section()


@dataclass
class TrainerOptions:
    """``trainer``: Lightning's Trainer arguments (more: ``+trainer.gradient_clip_val=1``)."""

    _target_: str = option()
    max_epochs: int = option(ge=1, example=100)
    min_epochs: int | None = option(ge=0)
    accelerator: str = option()
    devices: Any = option()
    deterministic: Any = option()
    enable_checkpointing: bool = option()
    enable_progress_bar: bool = option()
    enable_model_summary: bool = option()
    num_sanity_val_steps: int = option()
    log_every_n_steps: int = option()
    default_root_dir: str = option()


@dataclass
class EarlyStoppingOptions:
    """``callbacks.early_stopping`` (Lightning's EarlyStopping)."""

    _target_: str = option()
    monitor: str = option()
    mode: str = option()
    patience: int = option(ge=0, example=20)
    min_delta: float | None = option(ge=0)


@dataclass
class CallbacksOptions:
    """``callbacks``: the Lightning callbacks of a job (more: ``+callbacks.<name>={...}``)."""

    model_checkpoint: Any = option()
    early_stopping: EarlyStoppingOptions | None = section()
    progress: Any = option()


@dataclass
class ThresholdOptions:
    """``thresholds``: radiogenomic traits and associations in the sweep summary."""

    fdr: float = option(gt=0, le=1, example=0.05)
    min_patients: int = option(ge=1, example=5)


@dataclass
class PredictOptions:
    """``predict``: task=predict."""

    sweep: str | None = option()
    max_missing_fraction: float = option(ge=0, le=1, example=0.2)
    n_boot: int = option(ge=1, example=2000, why="bootstrap replicates of the CIs")
    calibration_bins: int = option(ge=1, example=10)


@dataclass
class RefitOptions:
    """``refit``: task=refit."""

    sweep: str | None = option()


@dataclass
class TrainOptions:
    """The top-level options of configs/train.yaml (the groups have their own schemas)."""

    task: str = option(choices=TASKS)
    seed: int = seed_option()
    n_folds: int = option(ge=2, example=10, why="outer CV needs at least 2 folds")
    fold: Any = option()  # 0 <= fold < n_folds: checked with n_folds
    split_seed: int = option(  # and split_seed + repeats - 1 <= MAX_SEED: checked with repeats
        ge=0,
        le=MAX_SEED,
        example=0,
        why="repeat r splits with split_seed + r; numpy and scikit-learn take 32-bit seeds",
    )
    repeats: int = option(ge=1, example=5, why="how often the outer CV is repeated")
    repeat: Any = option()  # 0 <= repeat < repeats: checked with repeats
    val_fraction: float = option(gt=0, lt=1, example=0.15)
    bootstrap: int | None = option(ge=0, example=0, why="a replicate id, or null for plain CV")
    null_permutation: int | None = option(
        ge=0, example=0, why="a permutation-null model id, or null for the real model"
    )
    resume: bool = option()
    overwrite: bool = option()
    save_model: bool = option()
    torch_threads: int | None = option(ge=0, example=1, why="0 or null: torch's default")
    thresholds: ThresholdOptions | None = section()
    predict: PredictOptions = section()
    refit: RefitOptions = section()


# Checked when the job starts only (their groups' YAMLs hold more keys than these: the label
# specs of configs/trait/, the readers' options of configs/data/, the network's input section)


@dataclass
class TraitOptions:
    """The scalar options of ``trait`` (the label spec itself: ``data.traits.TraitSpec``)."""

    kind: str | None = option(choices="data.traits:TRAIT_KINDS")
    min_class_size: int | None = option(ge=0, example=10)
    permute_labels: bool | None = option()
    permute_seed: int | None = seed_option()


@dataclass
class InputOptions:
    """``model.input``: the network's input representation (read by ``models.inputs``)."""

    kind: str = option(choices="models.inputs:INPUT_KINDS")
    pca_components: int = option(ge=1, example=64)
    pca_unlabelled: bool = option()
    collections: Any = option()
    units_per_set: int = option(ge=1, example=1)
    random_mask: bool = option()
    random_seed: int = seed_option()


@dataclass
class SyntheticOptions:
    """``data.synthetic``: the embedded synthetic cohort's sizes and seed."""

    seed: int = seed_option()
    n_pretrain: int = option(ge=0)
    n_annotated: int = option(ge=2)
    n_genes: int | None = option(ge=1)


@dataclass
class DataOptions:
    """The enumerated options of a real-data ``data`` config (the paths: tasks.validation)."""

    orientation: str = option(choices="data.io:ORIENTATIONS")
    format: str = option(choices="data.io:FORMATS")
    impute: str | None = option(choices="data.io:IMPUTE")
    transform: str | None = option(choices="data.io:TRANSFORMS")


@dataclass
class MultitaskOptions:
    """``multitask``: one weight per trait of ``loss_weights``."""

    loss_weight: float = option(ge=0, example=1.0)


# The value an option has in a saved config that predates it (or sets it to null): the option off.
# Not a default (the YAML holds those, and may change them); read with value_or_off.
OFF: dict[str, object] = {
    "model.ensemble": 1,
    "model.ensemble_style": "packed",
    "model.member_split": "shared",
    "model.input.kind": "genes",
    "model.gene_filter.method": "none",
    "model.penalty.weight": 0.0,
    "model.mixup": 0.0,
    "model.label_smoothing": 0.0,
    "model.swa.enabled": False,
    "pretrain.patients": "unlabelled",
}


def value_or_off(cfg: Any, key: str) -> Any:
    """The value of the option ``key`` of ``cfg`` (one of :data:`OFF`'s), or its off value when
    the config lacks it or sets it to null."""
    from omegaconf import OmegaConf

    value = OmegaConf.select(cfg, key, default=None)
    return OFF[key] if value is None else value


# group -> {schema name: schema}; a YAML of the group names its schema in its defaults list
SCHEMAS: dict[str | None, dict[str, type]] = {
    None: {"train_schema": TrainOptions},
    "model": {
        "nn_schema": NetworkOptions,
        "comparator_schema": ComparatorOptions,
        "ordinal_comparator_schema": OrdinalComparatorOptions,
    },
    "pretrain": {"pretrain_schema": PretrainOptions},
    "trainer": {"trainer_schema": TrainerOptions},
    "callbacks": {"callbacks_schema": CallbacksOptions},
}
# schemas whose config takes keys they do not declare (the root: the groups; the network:
# model.without_pretraining, which `~model.without_pretraining` deletes; the comparators: the
# network options a data config such as data=verhaak840, or a mixed sweep's overrides, set for
# the network); unknown keys are refused by tasks.validation instead, with a "did you mean"
OPEN_SCHEMAS = (TrainOptions, NetworkOptions, OrdinalComparatorOptions, ComparatorOptions)


def typed(schema: type, node: Any) -> Any:
    """``node``'s options as a ``schema`` instance (typed values, nested sections as their
    dataclasses). A nullable option or section that ``node`` lacks (a saved config predating it)
    is None: off; keys the schema does not declare are left out (read them from ``node``)."""
    from omegaconf import OmegaConf

    return OmegaConf.to_object(
        OmegaConf.merge(OmegaConf.structured(schema), _declared(schema, node))
    )


def _declared(schema: type, node: Any) -> dict:
    values = {}
    for name in schema_fields(schema):
        kind, null = field_kind(schema, name)
        if name not in node:
            if null:
                values[name] = None
            continue
        value = node[name]
        if dataclasses.is_dataclass(kind) and value is not None:
            value = _declared(kind, value)  # type: ignore[arg-type]
        values[name] = value
    return values


def register() -> None:
    """Store every schema in Hydra's ConfigStore (before Hydra composes ``train``)."""
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    store = ConfigStore.instance()
    for group, schemas in SCHEMAS.items():
        for name, schema in schemas.items():
            node = OmegaConf.structured(schema)
            if schema in OPEN_SCHEMAS:
                OmegaConf.set_struct(node, False)
            store.store(group=group, name=name, node=node)


# ------------------------------------------------------------------------------- one value


def show(value: object) -> str:
    """A value as written on the command line: lists in brackets, strings quoted when odd (a
    number option arrives typed: ``val_fraction=0`` shows as 0.0)."""
    if isinstance(value, list | tuple):
        return "[" + ",".join(show(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, str) and (not value or value != value.strip() or " " in value):
        return repr(value)
    return str(value)


def is_int(value: object) -> bool:
    """An integer, not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """An int or float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


@functools.cache
def _hints(schema: type) -> dict[str, Any]:
    return typing.get_type_hints(schema)


def field_kind(schema: type, name: str) -> tuple[type | None, bool]:
    """(the value type of ``schema.name``: int, float, bool, str, list, a dataclass or None for
    Any; whether null is allowed)."""
    hint = _hints(schema)[name]
    null = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        null, hint = len(args) < len(typing.get_args(hint)), args[0]
    if hint is Any:
        return None, True
    return (typing.get_origin(hint) or hint), null


def schema_fields(schema: type) -> dict[str, dataclasses.Field]:
    """The fields of a schema by name."""
    return {f.name: f for f in dataclasses.fields(schema)}


def _bounds(key: str, meta: dict, integer: bool) -> str:
    low = meta.get("ge", meta.get("gt"))
    high = meta.get("le", meta.get("lt"))
    if integer:  # as the integer options have always been written: inclusive bounds
        if low is not None and high is not None:
            return f"{low} <= {key} <= {high}"
        return f"{key} >= {low}" if low is not None else ""
    parts = []
    if low is not None:
        parts.append(f"{low:g} {'<' if 'gt' in meta else '<='} ")
    parts.append(key)
    if high is not None:
        parts.append(f" {'<' if 'lt' in meta else '<='} {high:g}")
    return "".join(parts)


def option_problem(key: str, value: object, schema: type, name: str) -> str | None:
    """The one-line message for ``key=value`` against ``schema``'s field ``name``, or None
    when it fits.

    Checks the type and the range; allowed values (``choices``) are checked by the caller,
    which knows them (``tasks.validation``).
    """
    kind, null = field_kind(schema, name)
    meta = dict(schema_fields(schema)[name].metadata)
    if value is None and (null or kind is None):
        return None
    if kind is bool:
        return None if isinstance(value, bool) else f"{key}={show(value)}: expected true or false"
    if kind is list and meta.get("sizes"):
        if isinstance(value, list) and value and all(is_int(v) and v >= 1 for v in value):
            return None
        return (
            f"{key}={show(value)}: expected a non-empty list of layer sizes >= 1, "
            f"e.g. {key}=[256,128,64]"
        )
    if kind is int:
        bounds = _bounds(key, meta, integer=True)
        notes = [meta["why"]] if meta.get("why") else []
        notes += [f"e.g. {key}={meta['example']}"] if "example" in meta else []
        hint = f" ({'; '.join(notes)})" if notes else ""
        if not is_int(value):
            what = (
                "an integer" + (f" with {bounds}" if bounds else "") + (" or null" if null else "")
            )
            return f"{key}={show(value)}: expected {what}{hint}"
        assert isinstance(value, int)
        if ("ge" in meta and value < meta["ge"]) or ("le" in meta and value > meta["le"]):
            return f"{key}={value}: expected {bounds}{hint}"
        return None
    if kind is float:
        bounds = _bounds(key, meta, integer=False)
        hint = f" (e.g. {key}={meta['example']})" if "example" in meta else ""
        if not is_number(value) or math.isnan(value):  # type: ignore[arg-type]
            return f"{key}={show(value)}: expected a number with {bounds}{hint}"
        x = float(value)  # type: ignore[arg-type]
        too_low = ("ge" in meta and x < meta["ge"]) or ("gt" in meta and x <= meta["gt"])
        too_high = ("le" in meta and x > meta["le"]) or ("lt" in meta and x >= meta["lt"])
        if too_low or too_high:
            return f"{key}={show(value)}: expected {bounds}{hint}"
    return None


def compose_error_line(err: BaseException) -> str | None:
    """The ``config error`` line for a value Hydra refused while composing (a schema's type:
    ``seed=abc``), as the job's own check words it; None for any other failure."""
    from omegaconf.errors import ValidationError

    cause = err.__cause__ if err.__cause__ is not None else err
    if not isinstance(cause, ValidationError):
        return None
    key = str(getattr(cause, "full_key", "") or "")
    value = getattr(cause, "value", None)
    owner = getattr(cause, "object_type", None)
    name = key.rsplit(".", 1)[-1]
    fields = schema_fields(owner) if dataclasses.is_dataclass(owner) else {}
    if "[" in name:  # an item of a list option: model.hidden_dims[1]
        key = key.split("[", 1)[0]
        return (
            f"config error: {key}: item {show(value)} is not an integer; expected a non-empty "
            f"list of layer sizes >= 1, e.g. {key}=[256,128,64]"
        )
    if name in fields:
        problem = option_problem(key, value, owner, name)
        if problem is not None:
            return f"config error: {problem}"
    if key:
        return f"config error: {key}={show(value)}: {str(cause).splitlines()[0]}"
    return None
