"""Check a job's config before anything is read or trained: one function, one place.

:func:`validate_config` is the first thing :func:`radiogenomics.tasks.run` does, for every task.
It checks the options the task uses: the type, range and allowed values (with a "did you mean")
of every option, walking the schemas of :mod:`radiogenomics.config_schema` (one generic walk:
:func:`check_options`); then the rules that relate options (layer sizes against the autoencoder,
fold against n_folds, the multi-task and ensemble rules), the existence, kind (file or
directory) and shape (one path or a list) of every path, that the cache directory is writable,
and that the gene-set collections of enabled interpreters exist and parse. A mistake raises
:class:`ConfigError`, a :class:`~radiogenomics.data.io.DataError`: ``tasks.run`` prints its one
line and exits with status 2. Each message names the option, the bad value and the fix.

:func:`check_gene_sets_on_data` then checks, before any pretraining or training, that those
collections share genes with the data (it reads the cohort, which the job reuses).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import logging
import math
import tempfile
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from radiogenomics.config_schema import (
    MAX_SEED,
    OFF,
    ComparatorOptions,
    DataOptions,
    EarlyStoppingOptions,
    InputOptions,
    MultitaskOptions,
    NetworkOptions,
    OrdinalComparatorOptions,
    PredictOptions,
    PretrainOptions,
    SearchOptions,
    SyntheticOptions,
    ThresholdOptions,
    TrainerOptions,
    TrainOptions,
    TraitOptions,
    field_kind,
    is_int,
    is_number,
    option_problem,
    schema_fields,
    value_or_off,
)
from radiogenomics.config_schema import show as _show
from radiogenomics.data.files import file_problem
from radiogenomics.data.io import RESOURCE_PREFIX
from radiogenomics.data.traits import TraitSpec
from radiogenomics.errors import ConfigError, DataError
from radiogenomics.utils import error_line

log = logging.getLogger(__name__)

_ABSENT = object()


# --------------------------------------------------------------------------------- helpers


def did_you_mean(value: object, choices: Iterable[object]) -> str:
    """``; did you mean 'x'?`` for the closest choice (difflib), or ``''``."""
    match = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


def _get(cfg: DictConfig, key: str, default: Any = _ABSENT) -> Any:
    """The resolved value of ``key`` (containers as plain lists and dicts), or ``default``."""
    try:
        value = OmegaConf.select(cfg, key, default=_ABSENT, throw_on_resolution_failure=True)
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=True)
    except OmegaConfBaseException as err:
        raise ConfigError(f"{key}: cannot be resolved ({error_line(err, limit=None)})") from None
    return default if value is _ABSENT else value


def _choices(ref: str | tuple) -> list:
    """The allowed values of a schema's ``choices``: literal values, or ``module:NAME``
    constants of the package (a dict's keys, sorted), one or several."""
    refs = (ref,) if isinstance(ref, str) else ref
    found: list = []
    for item in refs:
        if not (isinstance(item, str) and ":" in item):
            found.append(item)
            continue
        module, name = item.split(":")
        values = getattr(importlib.import_module(f"radiogenomics.{module}"), name)
        found += sorted(values) if isinstance(values, dict) else list(values)
    return found


def _check_choice(key: str, value: object, choices: Sequence, lower: bool = False) -> None:
    """``value`` must be one of ``choices``; else a ConfigError with a "did you mean"."""
    probe = value.lower() if lower and isinstance(value, str) else value
    if probe in choices:
        return
    listed = ", ".join(_show(c) for c in choices)
    raise ConfigError(f"{key}={_show(value)} is not one of {listed}{did_you_mean(value, choices)}")


def check_option(cfg: DictConfig, key: str, schema: type, name: str | None = None) -> Any:
    """The value of ``key``, checked against ``schema``'s field ``name`` (the key's last part):
    its type, range and allowed values (ConfigError on a mistake)."""
    name = name or key.rsplit(".", 1)[-1]
    value = _get(cfg, key, None)
    problem = option_problem(key, value, schema, name)
    if problem is not None:
        raise ConfigError(problem)
    meta = schema_fields(schema)[name].metadata
    if "choices" in meta and not (value is None and field_kind(schema, name)[1]):
        _check_choice(key, value, _choices(meta["choices"]), lower=meta.get("lower", False))
    return value


def check_options(cfg: DictConfig, prefix: str, schema: type, *, nested: bool = True) -> None:
    """Every option of ``schema`` under ``prefix`` (``""``: the top level), in field order, and
    the sections it holds (``nested``; a section set to null is skipped): the generic walk."""
    for name in schema_fields(schema):
        if name.startswith("_"):
            continue
        key = f"{prefix}.{name}" if prefix else name
        kind, _ = field_kind(schema, name)
        if dataclasses.is_dataclass(kind):
            if nested and _get(cfg, key, None) is not None:
                check_options(cfg, key, kind)  # type: ignore[arg-type]
            continue
        check_option(cfg, key, schema, name)


def _refuse_unknown(cfg: DictConfig, prefix: str, schema: type, extra: Sequence[str]) -> None:
    """Keys of ``prefix`` that ``schema`` (an open one) does not declare: a typo, one line."""
    section = _get(cfg, prefix, None)
    known = [*schema_fields(schema), *extra]
    for key in section if isinstance(section, dict) else ():
        if key not in known:
            raise ConfigError(
                f"{prefix}.{key} is not an option of {prefix}{did_you_mean(key, known)}"
            )


def _seed_with_offsets(cfg: DictConfig, key: str, offsets: int) -> None:
    """A seed whose later seeds are ``seed + k``, k < offsets: all of them 32-bit."""
    value = check_option(cfg, key, TrainOptions, key)
    high = MAX_SEED - max(offsets - 1, 0)
    why = schema_fields(TrainOptions)[key].metadata["why"]
    if value > high:
        raise ConfigError(f"{key}={value}: expected 0 <= {key} <= {high} ({why}; e.g. {key}=0)")


def validate_config(cfg: DictConfig) -> None:
    """Check every option ``cfg.task`` uses; a :class:`ConfigError` names the first mistake."""
    check_options(cfg, "", TrainOptions, nested=False)  # the top-level options
    task = _get(cfg, "task")
    if task in ("predict", "interpret", "refit"):
        _not_a_file(cfg, f"{task}.sweep")  # unset or missing: the task says so itself
    if task == "finetune":
        _check_folds(cfg)
        _check_thresholds(cfg)
        _check_trait(cfg)
        _check_model(cfg)
        _check_multitask(cfg)
        _check_trainer(cfg)
        _check_data(cfg)
        _check_interpreters(cfg)
    elif task == "pretrain":
        _check_pretrain(cfg)
        if _get(cfg, "pretrain.patients") != "unlabelled":
            raise ConfigError(
                f"pretrain.patients={_get(cfg, 'pretrain.patients')}: in-fold autoencoders are "
                "pretrained by each task=finetune job on its fold's fit patients; task=pretrain "
                "builds the expression-only one (pretrain.patients=unlabelled)"
            )
        _check_trainer(cfg)
        _check_data(cfg)
    elif task == "predict":
        _check_trait(cfg)
        check_options(cfg, "predict", PredictOptions)
        _check_data(cfg)
    elif task == "interpret":
        _check_thresholds(cfg)
        if _get(cfg, "interpret.patients", "held_out") == "data":
            _check_data(cfg)
    if _needs_cache(cfg, task):
        _check_cache_dir(cfg)


def _check_folds(cfg: DictConfig) -> None:
    """The fold and repeat this job scores, against n_folds and repeats (one line each)."""
    n_folds = _get(cfg, "n_folds")
    fold = _get(cfg, "fold", None)
    if not is_int(fold) or not 0 <= fold < n_folds:
        raise ConfigError(
            f"fold={_show(fold)}: expected an integer with 0 <= fold < n_folds={n_folds} "
            f"(the outer folds are numbered 0..{n_folds - 1}; -m sweeps them all)"
        )
    repeats = _get(cfg, "repeats")
    _seed_with_offsets(cfg, "split_seed", repeats)
    repeat = _get(cfg, "repeat")
    if not is_int(repeat) or not 0 <= repeat < repeats:
        raise ConfigError(
            f"repeat={_show(repeat)}: expected an integer with 0 <= repeat < repeats={repeats} "
            f"(the CV repeats are numbered 0..{repeats - 1}; -m sweeps them all)"
        )


def _check_thresholds(cfg: DictConfig) -> None:
    if _get(cfg, "thresholds", None) is not None:
        check_options(cfg, "thresholds", ThresholdOptions)


def _check_trait(cfg: DictConfig) -> None:
    trait = _get(cfg, "trait", None)
    if not isinstance(trait, dict):
        raise ConfigError("trait is not set: choose one, e.g. trait=enhancement")
    name = trait.get("name")
    column = trait.get("column")
    if column is None or (isinstance(column, str) and not column.strip()):
        raise ConfigError(
            f"trait.column is not set for trait {name!r}: name the label column, e.g. "
            "trait=column trait.column=f5.proportion.enhancing"
        )
    classes = trait.get("classes")
    if classes is None:  # trait=column: classes inferred from the column's values
        threshold = trait.get("threshold")
        if (
            threshold is not None
            and threshold != "median"
            and not (is_number(threshold) and math.isfinite(threshold))
        ):
            raise ConfigError(
                f"trait.threshold={_show(threshold)}: expected a number or median "
                "(e.g. trait.threshold=median)"
            )
        positive = trait.get("positive_class")
        if (
            threshold is not None
            and positive is not None
            and str(positive)
            not in (
                "low",
                "high",
            )
        ):
            raise ConfigError(
                f"trait.positive_class={_show(positive)}: a thresholded trait has classes low "
                "and high"
            )
    elif not isinstance(classes, list) or not all(
        isinstance(c, dict) and "name" in c and isinstance(c.get("values"), list) for c in classes
    ):
        raise ConfigError(
            f"trait.classes of trait {name!r}: expected a list of {{name: ..., values: [...]}}"
        )
    class_names = [str(c["name"]) for c in classes or ()]
    positive = trait.get("positive_class")
    if classes is not None and positive is not None and str(positive) not in class_names:
        raise ConfigError(
            f"trait.positive_class={_show(positive)} is not a class of trait {name!r} (classes: "
            f"{', '.join(class_names)}){did_you_mean(positive, class_names)}"
        )
    drop = trait.get("drop")
    if drop is not None and not (
        isinstance(drop, list) and all(isinstance(v, str | int | float) for v in drop)
    ):
        raise ConfigError(
            f"trait.drop={_show(drop)}: expected a list of label values to drop (or null: none), "
            "e.g. trait.drop='[n/a]'"
        )
    check_options(cfg, "trait", TraitOptions)
    try:
        TraitSpec.from_config(trait)
    except (ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"trait config: {err}") from None


def _check_labelled_recipe(cfg: DictConfig) -> None:
    """``model.without_pretraining``: a mapping of network option names (whether it fits the
    configured network is decided when it applies: tasks.pretrain.labelled_cohort_recipe)."""
    recipe = _get(cfg, "model.without_pretraining", None)
    if recipe is None:
        return
    if not isinstance(recipe, (dict, DictConfig)):
        raise ConfigError(
            f"model.without_pretraining={recipe}: expected a mapping of network options (e.g. "
            "{ensemble: 4}), or {} to train the pretrained network's settings without pretraining"
        )
    known = [k for k in cfg.model if k not in ("without_pretraining", "family", "name")]
    for key in recipe:
        if key not in known:
            raise ConfigError(
                f"model.without_pretraining.{key}: not a network option{did_you_mean(key, known)}"
            )


# model options the multi-task network does not have (each must be off: config_schema.OFF)
MULTITASK_OFF = (
    "model.ensemble",
    "model.input.kind",
    "model.gene_filter.method",
    "model.penalty.weight",
    "model.mixup",
    "model.label_smoothing",
    "model.swa.enabled",
)


def check_multitask_model(cfg: DictConfig) -> None:
    """The multi-task network's model options: a network, none of those it lacks (one line)."""
    if _get(cfg, "model.family", None) != "nn":
        raise ConfigError(
            f"model={_get(cfg, 'model.name', None)}: multitask=... trains one network; comparators "
            "are single-trait: run them per trait (trait=<name> model=<comparator>)"
        )
    for key in MULTITASK_OFF:
        value, off = value_or_off(cfg, key), OFF[key]
        if value != off:
            raise ConfigError(
                f"{key}={_show(value)}: not available with multitask=... (only {key}={_show(off)})"
            )
    for key in ("bootstrap", "null_permutation"):  # one real model per fold
        value = _get(cfg, key, None)
        if value is not None:
            raise ConfigError(
                f"{key}={_show(value)}: not available with multitask=... (only {key}=null)"
            )


def _check_multitask(cfg: DictConfig) -> None:
    """``multitask.*``: the traits' configs, stratification and loss weights."""
    traits = _get(cfg, "multitask", None)
    if traits is None:
        return
    traits = traits.get("traits")
    if not isinstance(traits, dict) or not traits:
        raise ConfigError(
            f"multitask.traits={_show(traits)}: expected trait configs by name, e.g. "
            "multitask=vasari or +trait@multitask.traits.edema=edema"
        )
    names = []
    for key, trait in traits.items():
        try:
            spec = TraitSpec.from_config(trait)
        except (TypeError, ValueError, KeyError, AttributeError) as err:
            raise ConfigError(f"multitask.traits.{key}: {error_line(err)}") from None
        if spec.kind != "categorical":
            raise ConfigError(
                f"multitask.traits.{key}.kind={spec.kind}: the multi-task network has categorical "
                "heads only (binary or multiclass)"
            )
        if spec.name in names:
            raise ConfigError(f"multitask.traits.{key}: trait name {spec.name!r} appears twice")
        names.append(spec.name)
    stratify = _get(cfg, "multitask.stratify", None)
    _check_choice("multitask.stratify", stratify, ["combination", *names])
    weights = _get(cfg, "multitask.loss_weights", None) or {}
    if not isinstance(weights, dict):
        raise ConfigError(
            f"multitask.loss_weights={_show(weights)}: expected {{trait: weight}}, e.g. "
            "'multitask.loss_weights={edema: 2.0}'"
        )
    for name in weights:
        if name not in names:
            raise ConfigError(
                f"multitask.loss_weights.{name}: not one of the traits {names}"
                f"{did_you_mean(name, names)}"
            )
        check_option(cfg, f"multitask.loss_weights.{name}", MultitaskOptions, "loss_weight")
    if sum(float(weights.get(n, 1.0)) for n in names) <= 0:
        raise ConfigError("multitask.loss_weights: every trait's weight is 0; nothing to train")
    check_multitask_model(cfg)


def check_network(cfg: DictConfig) -> None:
    """The network options of ``cfg`` (ConfigError on the first bad one)."""
    _check_model(cfg)


def _check_model(cfg: DictConfig) -> None:
    """``model``: the schema of its family, then the rules between its options."""
    family = check_option(cfg, "model.family", NetworkOptions)
    if family == "baseline":
        from radiogenomics.models.baselines import ORDINAL_COMPARATORS

        ordinal = "ordinal" in (_get(cfg, "model", None) or {})  # native ordinal ones have none
        schema = ComparatorOptions if ordinal else OrdinalComparatorOptions
        # the network's options are no typo (a data config or a mixed sweep sets them): ignored
        network = (*schema_fields(NetworkOptions), "without_pretraining")
        _refuse_unknown(cfg, "model", schema, extra=network)
        check_options(cfg, "model", schema)
        check_options(cfg, "model.search", SearchOptions)
        name = _get(cfg, "model.name")
        if name in ORDINAL_COMPARATORS and _get(cfg, "trait.kind", None) != "ordinal":
            raise ConfigError(
                f"model={name} fits ordinal traits only, but trait.kind="
                f"{_show(_get(cfg, 'trait.kind', None))}: set trait.kind=ordinal or pick another model"
            )
        return
    _check_labelled_recipe(cfg)
    _refuse_unknown(cfg, "model", NetworkOptions, extra=("without_pretraining",))
    check_options(cfg, "model", NetworkOptions)
    hidden = _get(cfg, "model.hidden_dims")
    transfer = _get(cfg, "model.transfer_layers")
    if not 0 <= transfer <= len(hidden):
        raise ConfigError(
            f"model.transfer_layers={_show(transfer)}: expected 0..{len(hidden)}, the network's "
            f"{len(hidden)} hidden layers (model.hidden_dims={_show(hidden)})"
        )
    freeze = _get(cfg, "model.freeze_layers")
    if freeze > transfer:
        raise ConfigError(
            f"model.freeze_layers={freeze} exceeds model.transfer_layers={transfer}: only "
            f"transferred layers can be frozen; set model.freeze_layers to 0..{transfer}"
        )
    _check_input(cfg, transfer)
    _check_p_much_larger_than_n(cfg, freeze)
    _check_cocktail(cfg)
    patients = _get(cfg, "pretrain.patients")
    if patients != "unlabelled" and transfer == 0:
        check_option(cfg, "pretrain.patients", PretrainOptions)
        raise ConfigError(
            f"pretrain.patients={patients} pretrains an autoencoder in each fold, but "
            "model.transfer_layers=0 transfers none of its layers (nothing to transfer; "
            "data=verhaak840 sets 0): add model.transfer_layers=2 (and model.freeze_layers), or "
            "drop pretrain.patients"
        )
    if transfer > 0:
        encoder = _check_pretrain(cfg)
        if encoder[:transfer] != hidden[:transfer]:
            raise ConfigError(
                f"model.transfer_layers={transfer} copies the first {transfer} autoencoder "
                f"layer(s), but model.hidden_dims={_show(hidden)} and pretrain.hidden_dims="
                f"{_show(encoder)} differ there; use the same sizes or model.transfer_layers=0 "
                "model.freeze_layers=0"
            )


def _check_input(cfg: DictConfig, transfer: int) -> None:
    """``model.input``: the input representation (PCA size against the data: when it is read)."""
    section = _get(cfg, "model.input", None)
    if section is None:
        return
    fields = list(schema_fields(InputOptions))
    if not isinstance(section, dict):
        raise ConfigError(
            f"model.input={_show(section)}: expected a mapping of {', '.join(fields)}"
        )
    unknown = sorted(set(section) - set(fields))
    if unknown:
        raise ConfigError(
            f"model.input.{unknown[0]} is not an input option ({', '.join(fields)})"
            f"{did_you_mean(unknown[0], fields)}"
        )
    check_options(cfg, "model.input", InputOptions)
    kind = _get(cfg, "model.input.kind")
    if kind == "genes":
        return
    if transfer > 0:
        raise ConfigError(
            f"model.input.kind={kind} replaces the first layer the autoencoder's encoder would "
            f"fill (model.transfer_layers={transfer}); add model.transfer_layers=0 "
            "model.freeze_layers=0"
        )
    if kind == "pca":
        if value_or_off(cfg, "model.gene_filter.method") != "none":
            raise ConfigError(
                "model.input.kind=pca already reduces the genes: drop model.gene_filter.method="
                f"{_get(cfg, 'model.gene_filter.method')} (use none)"
            )
        if value_or_off(cfg, "model.penalty.weight") > 0:
            raise ConfigError(
                "model.penalty acts on the first layer's gene columns, which model.input.kind=pca "
                "replaces by frozen components: set model.penalty.weight=0"
            )
        return
    collections = _get(cfg, "model.input.collections", None)
    if not isinstance(collections, list) or not collections:
        raise ConfigError(
            f"model.input.collections={_show(collections)}: expected a non-empty list, e.g. "
            "model.input.collections=[hallmark]"
        )
    for collection in collections:
        _check_collection("", str(collection), key="model.input.collections")


def _check_p_much_larger_than_n(cfg: DictConfig, freeze: int) -> None:
    """The network's p >> n options: a penalised first layer must train; the seed ensemble."""
    if _get(cfg, "model.penalty", None) is not None:
        weight = _get(cfg, "model.penalty.weight")
        if weight > 0 and freeze > 0:
            raise ConfigError(
                f"model.penalty.weight={weight:g} penalises the first layer, but "
                f"model.freeze_layers={freeze} freezes it; set model.freeze_layers=0 or "
                "model.penalty.weight=0"
            )
    _check_ensemble(cfg)


def _check_ensemble(cfg: DictConfig) -> None:
    """``model.ensemble`` (members >= 1), ``ensemble_style``, ``member_split``.

    Whether the trait's smallest class has a training patient for every kfold member is checked
    when the fold is built (:func:`radiogenomics.data.splits.member_folds`), also one line.
    """
    k = _get(cfg, "model.ensemble", None)
    style = _get(cfg, "model.ensemble_style", None) or "packed"
    if k is not None and k > 1:  # the batched layers take the genes input, plain training
        kind = value_or_off(cfg, "model.input.kind")
        if kind != "genes":
            raise ConfigError(
                f"model.ensemble={k} builds batched gene-input members, but model.input.kind="
                f"{kind}; use model.input.kind=genes or model.ensemble=1"
            )
        for key in ("model.mixup", "model.label_smoothing", "model.swa.enabled"):
            value = value_or_off(cfg, key)
            if value != OFF[key]:
                raise ConfigError(
                    f"model.ensemble={k} trains its members with the plain mean loss, but "
                    f"{key}={_show(value)}; turn it off or use model.ensemble=1"
                )
    if _get(cfg, "model.member_split", None) != "kfold":
        return
    if k is None or k < 2:
        raise ConfigError(
            f"model.member_split=kfold cross-fits the members on model.ensemble inner folds, but "
            f"model.ensemble={_show(k)}; use model.ensemble >= 2 (e.g. 4)"
        )
    if style != "packed":
        raise ConfigError(
            f"model.member_split=kfold keeps each member's own best epoch, which needs its own "
            f"weights: model.ensemble_style={style} shares them; use model.ensemble_style=packed"
        )


def _check_cocktail(cfg: DictConfig) -> None:
    """The regularization cocktail: a finite mixup alpha; no soft targets for ordinal traits."""
    mixup = _get(cfg, "model.mixup", None)
    if mixup is not None and not math.isfinite(mixup):
        raise ConfigError(f"model.mixup={mixup}: expected a finite alpha")
    if _get(cfg, "trait.kind", None) == "ordinal":  # the ordinal head trains on the CORAL loss
        for key in ("model.mixup", "model.label_smoothing"):
            if _get(cfg, key, 0) not in (None, 0, 0.0):
                raise ConfigError(
                    f"{key}={_show(_get(cfg, key))} mixes one-hot class targets, but "
                    "trait.kind=ordinal trains on cumulative cut targets; turn it off"
                )


def _check_pretrain(cfg: DictConfig) -> list[int]:
    """``pretrain``: the autoencoder's options; its layer sizes."""
    check_options(cfg, "pretrain", PretrainOptions)
    return _get(cfg, "pretrain.hidden_dims")


def _check_trainer(cfg: DictConfig) -> None:
    """``trainer`` and, when it is on, ``callbacks.early_stopping``."""
    check_options(cfg, "trainer", TrainerOptions)
    stopping = _get(cfg, "callbacks.early_stopping", None)
    if isinstance(stopping, dict) and stopping.get("enabled", True):
        check_options(cfg, "callbacks.early_stopping", EarlyStoppingOptions)


# ----------------------------------------------------------------------------------- data


def _shipped_names() -> list[str]:
    folder = resources.files("radiogenomics.data") / "resources"
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != "SOURCES.md")


def _path_problem(key: str, value: object) -> str | None:
    """Why the file option ``key`` cannot be read: None (a file), ``"missing"`` or a message."""
    text = str(value)
    if text.startswith(RESOURCE_PREFIX):
        name = text[len(RESOURCE_PREFIX) :]
        names = _shipped_names()
        if name in names:
            return None
        return (
            f"{key}={text}: no shipped file {name!r} (shipped: {', '.join(names)})"
            f"{did_you_mean(name, names)}"
        )
    path = Path(text).expanduser()
    if path.is_dir():
        return f"{key}={text} is a directory; expected a file"
    problem = file_problem(path)  # a FIFO or device (never opened), an unreadable file
    return problem and ("missing" if problem == "file not found" else f"{key}={text}: {problem}")


def _data_paths(cfg: DictConfig) -> list[tuple[str, object]]:
    """(option, path) of every data file a real-data config names, shapes checked."""
    expression = _get(cfg, "data.expression_file", None)
    if expression in (None, ""):
        raise ConfigError(
            "data.expression_file is not set: point it at your expression matrix, e.g. "
            "data=tcga_gbm data.expression_file=/path/to/expression.tsv.gz"
        )
    found: list[tuple[str, object]] = []
    for key in ("data.expression_file", "data.traits_file", "data.pretrain_expression_file"):
        value = _get(cfg, key, None)
        if value in (None, ""):
            continue
        if isinstance(value, list):
            more = (
                " (further label tables go in data.label_files=[...])"
                if key == "data.traits_file"
                else ""
            )
            one = _show(value[0]) if len(value) == 1 else "<one path>"
            raise ConfigError(
                f"{key}={_show(value)} is a list; it takes one path: {key}={one}{more}"
            )
        if not isinstance(value, str):
            raise ConfigError(f"{key}={_show(value)}: expected a file path")
        found.append((key, value))
    labels = _get(cfg, "data.label_files", None)
    if isinstance(labels, str):
        raise ConfigError(
            f"data.label_files={_show(labels)} is one string, but the option takes a list of "
            f"paths: write data.label_files=[{labels}]"
        )
    if labels is not None and not isinstance(labels, list):
        raise ConfigError(
            f"data.label_files={_show(labels)}: expected a list of paths, e.g. "
            "data.label_files=[/data/subtypes.csv]"
        )
    for i, item in enumerate(labels or []):
        if not isinstance(item, str) or not item:
            raise ConfigError(f"data.label_files[{i}]={_show(item)}: expected a file path")
        found.append((f"data.label_files[{i}]", item))
    return found


def _check_data(cfg: DictConfig) -> None:
    """Enumerated data options, and every data file: set, one path or a list, exists, a file."""
    check_option(cfg, "data.orientation", DataOptions)
    if _get(cfg, "data.synthetic", None) is not None:
        check_options(cfg, "data.synthetic", SyntheticOptions)
        return
    check_options(cfg, "data", DataOptions)
    for key in ("data.layer", "data.var_names_column"):
        value = _get(cfg, key, None)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(f"{key}={_show(value)}: expected a name (a string) or null")
    sample_type = _get(cfg, "data.sample_type", None)
    if sample_type is not None and not (
        (is_int(sample_type) and 0 <= sample_type <= 99)
        or (isinstance(sample_type, str) and sample_type.isdigit() and len(sample_type) <= 2)
    ):
        raise ConfigError(
            f"data.sample_type={_show(sample_type)}: expected a two-digit TCGA sample-type code "
            "such as 01 (primary solid tumour), or null"
        )
    files = _data_paths(cfg)
    for key, value in files:
        problem = _path_problem(key, value)
        if problem not in (None, "missing"):
            raise ConfigError(problem)
    missing = [f"{k}={v}" for k, v in files if _path_problem(k, v) == "missing"]
    if missing:  # every missing file at once, before the big matrix is read
        raise ConfigError(f"file(s) not found: {', '.join(missing)}")
    clinical = _get(cfg, "data.clinical_file", None)
    if clinical not in (None, ""):
        problem = _path_problem("data.clinical_file", clinical)
        if problem is not None:
            log.warning(
                "%s: training goes on, but scripts/survival.py needs this clinical table (point "
                "data.clinical_file at the TCGA clinical patient table, or set it to null)",
                f"data.clinical_file={clinical}: file not found"
                if problem == "missing"
                else problem,
            )


def refuse_overlap(task: str, key: str, source: str | Path, output_dir: str | Path) -> None:
    """A task that reads ``source`` (``key``: predict.sweep, ...) never writes into it, nor above it.

    ``hydra.run.dir=<sweep>/summary predict.sweep=<sweep>`` would overwrite the sweep's pooled
    predictions.csv and figures, a run dir inside a job dir its model's files.
    """
    src = Path(str(source)).expanduser().resolve()
    out = Path(str(output_dir)).expanduser().resolve()
    if out == src or src in out.parents or out in src.parents:
        raise DataError(
            f"the output dir {out} and {key}={src} overlap: task={task} never writes into the "
            f"sweep it reads (choose another hydra.run.dir)"
        )


def _not_a_file(cfg: DictConfig, key: str) -> None:
    """A directory option (a sweep dir) must not name a file."""
    value = _get(cfg, key, None)
    if isinstance(value, str) and value and Path(value).expanduser().is_file():
        raise ConfigError(f"{key}={value} is a file; expected a directory (a sweep dir)")


def _needs_cache(cfg: DictConfig, task: str) -> bool:
    """Whether the job writes to ``paths.cache_dir`` (synthetic cohort, autoencoder)."""
    if task not in ("finetune", "pretrain", "predict", "interpret"):
        return False
    if task == "interpret" and _get(cfg, "interpret.patients", "held_out") != "data":
        return False
    if _get(cfg, "data.synthetic", None) is not None or task == "pretrain":
        return True
    return (
        task == "finetune"
        and _get(cfg, "model.family", None) == "nn"
        and _get(cfg, "model.transfer_layers", None) > 0
    )


def _check_cache_dir(cfg: DictConfig) -> None:
    raw = _get(cfg, "paths.cache_dir", None)
    if raw in (None, ""):
        raise ConfigError("paths.cache_dir is not set: point it at a writable directory")
    path = Path(str(raw)).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as err:
        reason = err.strerror or str(err)
        raise ConfigError(
            f"paths.cache_dir={raw}: cannot write there ({type(err).__name__}: {reason}); the "
            "synthetic cohort and pretrained autoencoders are cached there: point "
            "paths.cache_dir (or the RADIOGENOMICS_CACHE variable) at a writable directory"
        ) from None


# ------------------------------------------------------------------------------ gene sets


def _interpreters(cfg: DictConfig) -> dict[str, Any]:
    """Options of each enabled interpreter (``+interpret=...``) that reads gene-set collections."""
    found = {}
    for name, options in _interpreter_options(cfg).items():
        if getattr(options, "uses_gene_sets", False):
            found[name] = options
    return found


def _interpreter_options(cfg: DictConfig) -> dict[str, Any]:
    """name -> options of each enabled interpreter of the registry that has options."""
    from radiogenomics.interpreters import enabled

    found = {}
    for entry, section in enabled(_get(cfg, "interpret", None)).items():
        if entry.options is None:
            continue
        try:
            found[entry.name] = entry.options_from(section)
        except (TypeError, ValueError) as err:  # an unknown key or a bad value
            raise ConfigError(f"interpret.{entry.name}: {err}") from None
    return found


def _check_collection(name: str, collection: str, key: str | None = None) -> None:
    from radiogenomics.data.genesets import SHIPPED_COLLECTIONS, load_collection

    key = key or f"interpret.{name}.collections"
    path = Path(collection).expanduser()
    if path.is_dir():
        raise ConfigError(f"{key}: {collection} is a directory; expected a .gmt or .csv file")
    looks_like_path = path.suffix != "" or len(path.parts) > 1
    if not looks_like_path and collection.strip().lower() not in SHIPPED_COLLECTIONS:
        raise ConfigError(
            f"{key}: {collection!r} is not a shipped collection ({', '.join(SHIPPED_COLLECTIONS)})"
            f" nor a .gmt/.csv path{did_you_mean(collection.lower(), SHIPPED_COLLECTIONS)}"
        )
    try:
        load_collection(collection)
    except FileNotFoundError:
        raise ConfigError(f"{key}: gene-set file not found: {collection}") from None
    except (OSError, ValueError) as err:
        raise ConfigError(f"{key}: {collection}: {err}") from None


def _check_interpreters(cfg: DictConfig) -> None:
    _check_interpreter_families(cfg)
    for name, options in _interpreters(cfg).items():
        for collection in options.collections:
            _check_collection(name, str(collection))


def _check_interpreter_families(cfg: DictConfig) -> None:
    """A single job whose model family an enabled interpreter cannot explain (its ``needs``) is
    refused; in a sweep the jobs of that family skip it with a warning."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from radiogenomics.interpreters import enabled

    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return
    family = _get(cfg, "model.family", None)
    for entry in enabled(_get(cfg, "interpret", None)):
        if entry.needs and family is not None and not entry.explains(family):
            raise ConfigError(entry.refusal())


def _job_complete(cfg: DictConfig) -> bool:
    """Whether ``task=finetune`` will skip this job (its metrics.json, same config and data)."""
    from radiogenomics.results import layout
    from radiogenomics.tasks.jobs import job_complete

    try:
        out_dir = Path(str(_get(cfg, "paths.output_dir", ".")))
        return job_complete(cfg, out_dir / layout.METRICS) is not None
    except (OSError, ValueError, AttributeError):  # ConfigError is a ValueError
        return False


def check_gene_sets_on_data(cfg: DictConfig) -> None:
    """``task=finetune``: the collections of enabled interpreters must share genes with the data.

    Runs before any pretraining or training (the interpretation callbacks would find out only
    when the fit starts). The cohort read here is the one the job uses (``load_cohort`` keeps it).
    """
    if cfg.get("task") != "finetune":
        return
    interpreters = _interpreters(cfg)
    input_sets = _get(cfg, "model.input.kind", "genes") == "gene_sets"
    if not (interpreters or input_sets) or _job_complete(cfg):
        return
    from radiogenomics.data.cohort import load_cohort
    from radiogenomics.data.genesets import index_gene_sets, load_collection
    from radiogenomics.interpret.gene_set_options import index_collections

    genes = load_cohort(cfg.data, cfg.paths.cache_dir).genes
    for collection in _get(cfg, "model.input.collections", []) if input_sets else []:
        try:
            index_gene_sets(load_collection(collection), genes, collection=str(collection))
        except ValueError as err:
            raise ConfigError(f"model.input.collections: {str(err).splitlines()[0]}") from None
    for name, options in interpreters.items():
        try:
            index_collections(options.collections, genes, **options.filters)
        except ValueError as err:
            raise DataError(f"interpret.{name}.collections: {err}") from None
