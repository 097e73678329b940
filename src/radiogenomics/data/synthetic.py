"""Embedded default cohort: synthetic TCGA-GBM-like files with planted, known gene-program drivers.

Expression is built from real gene symbols (the U133A universe) and real gene programs: every
hallmark set is a latent program with per-patient activity, each Verhaak subtype raises its
signature genes, and every VASARI trait and one continuous imaging feature (the enhancing tumour
volume, in ml) are each driven by one planted hallmark program. The files come out in the formats
of the real data and are read back through the same loaders; ``truth.json`` records the planted
answer (``synthetic_truth`` reads it).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict

import numpy as np
import pandas as pd
from filelock import FileLock

from radiogenomics.data.genesets import load_collection, load_gene_universe
from radiogenomics.utils import atomic_write, stable_hash, write_csv, write_json

SUBTYPES = ("Classical", "Mesenchymal", "Neural", "Proneural")
SUBTYPE_SIGNATURES = {
    "Classical": "VERHAAK_CLASSICAL",
    "Mesenchymal": "VERHAAK_MESENCHYMAL",
    "Neural": "VERHAAK_NEURAL",
    "Proneural": "VERHAAK_PRONEURAL",
}
PROPORTION_CATEGORIES = ("Minimal", "Less than 1/3", "Between 1/3 and 2/3", "More than 2/3")
VASARI_TRAITS: dict[str, dict] = {
    # trait: VASARI column, ordered categories, cumulative quantile cut points, planted driver
    "enhancement": {
        "column": "f5.proportion.enhancing",
        "categories": PROPORTION_CATEGORIES,
        "cuts": (0.15, 0.5, 0.75),
        "driver": "HALLMARK_HYPOXIA",
    },
    "ncet": {
        "column": "f6.proportion.ncet",
        "categories": PROPORTION_CATEGORIES,
        "cuts": (0.3, 0.6, 0.85),
        "driver": "HALLMARK_OXIDATIVE_PHOSPHORYLATION",
    },
    "necrosis": {
        "column": "f7.proportion.necrosis",
        "categories": PROPORTION_CATEGORIES,
        "cuts": (0.2, 0.55, 0.8),
        "driver": "HALLMARK_CHOLESTEROL_HOMEOSTASIS",
    },
    "edema": {
        "column": "f14.proportion.edema",
        "categories": PROPORTION_CATEGORIES,
        "cuts": (0.25, 0.55, 0.8),
        "driver": "HALLMARK_EPITHELIAL_MESENCHYMAL_TRANSITION",
    },
    "multifocal": {
        "column": "f9.multifocal.or.multicentric",
        "categories": ("Focal", "Multifocal or Multicentric"),
        "cuts": (0.65,),
        "driver": "HALLMARK_INTERFERON_GAMMA_RESPONSE",
    },
    "infiltration": {
        "column": "f10.t1.flair.ratio",
        "categories": (
            "expansive (T1~FLAIR)",
            "mixed (T1 less than FLAIR)",
            "infiltrative (T1 much smaller than FLAIR)",
        ),
        "cuts": (0.45, 0.8),
        "driver": "HALLMARK_E2F_TARGETS",
    },
}
# one continuous imaging feature, lognormal like tumour volumes: log(value) = log(median) +
# log_sd * (driver activity + noise); its own random stream, so every other draw is unchanged
CONTINUOUS_TRAITS: dict[str, dict] = {
    "enhancing_volume": {
        "column": "volume.enhancing_ml",
        "unit": "ml",
        "driver": "HALLMARK_E2F_TARGETS",  # proliferation; also infiltration's driver
        "decimals": 1,
    },
}
VASARI_COLUMNS = (
    "research.id",
    "scan.type",
    "f9.multifocal.or.multicentric",
    "f5.proportion.enhancing",
    "f6.proportion.ncet",
    "f7.proportion.necrosis",
    "f14.proportion.edema",
    "f10.t1.flair.ratio",
    "comments",
    "study.date",
    "volume.enhancing_ml",
)


@dataclass(frozen=True)
class SyntheticConfig:
    """Sizes and effect strengths of the synthetic cohort (the sizes and seed have no default
    here: configs/data/synthetic.yaml holds them, typed by config_schema.SyntheticOptions)."""

    seed: int
    n_pretrain: int  # expression-only patients (autoencoder cohort)
    n_annotated: int  # patients with expression and imaging traits
    n_genes: int | None  # None: the whole 12,042-gene universe; else a subset incl. drivers
    program_loading: tuple[float, float] = (0.4, 1.0)  # uniform range of gene loadings
    subtype_effect: float = 1.0  # signature genes' shift in their subtype, in noise sd units
    trait_noise: float = 0.4  # sd of noise on a trait's latent score (driver activity has sd 1)
    missing_rate: float = 0.03  # share of 'n/a' per VASARI column
    subtype_weights: tuple[float, ...] = (
        38,
        56,
        26,
        53,
    )  # Classical, Mesenchymal, Neural, Proneural
    drivers: dict[str, str] = field(default_factory=dict)  # trait -> hallmark set, overrides
    # the continuous feature (CONTINUOUS_TRAITS): lognormal around a median volume
    volume_noise: float = 0.4  # sd of noise on its latent score (driver activity has sd 1)
    volume_median_ml: float = 20.0  # median enhancing volume (GBM: ~20-30 ml)
    volume_log_sd: float = 0.6  # sd of log(volume) per unit of latent score
    # overall survival: hazard rises with the activity of one trait's driver program
    survival_trait: str = "edema"  # its (trait, driver set) pair is the planted survival answer
    survival_log_hr: float = 0.7  # log hazard ratio per sd of the driver's activity
    survival_median_days: float = 420.0  # baseline median overall survival (GBM: ~14 months)
    followup_days: tuple[float, float] = (300.0, 2500.0)  # uniform administrative censoring

    @classmethod
    def from_config(cls, cfg: Mapping) -> SyntheticConfig:
        """Build from the ``data.synthetic`` mapping of the Hydra config."""
        kw = dict(cfg)
        for key in ("program_loading", "subtype_weights", "followup_days"):
            if key in kw:
                kw[key] = tuple(kw[key])
        kw["drivers"] = dict(kw.get("drivers") or {})
        return cls(**kw)


@dataclass(frozen=True)
class SyntheticFiles:
    """Paths of one generated cohort."""

    directory: Path
    expression: Path
    vasari: Path
    subtypes: Path
    clinical: Path
    truth: Path

    @classmethod
    def at(cls, directory: Path) -> SyntheticFiles:
        """The file layout of a cohort generated into ``directory``."""
        return cls(
            directory=directory,
            expression=directory / "expression.tsv.gz",
            vasari=directory / "vasari_annotations.csv",
            subtypes=directory / "subtypes.csv",
            clinical=directory / "clinical_patient.txt",
            truth=directory / "truth.json",
        )


# bump when generate() writes other files for the same config (a new column, a new truth field):
# the cache key changes with it, so a cohort written by an older generator is not reused
FILES_VERSION = 2
TRAIT_KINDS = ("binary", "ordinal", "continuous")


class PlantedTrait(TypedDict):
    """One trait of ``truth.json``: its label column and the hallmark program planted behind it.

    Every trait's latent score is its driver's activity (sd 1) plus ``noise_sd`` times standard
    normal noise. Binary and ordinal traits are the latent cut at ``cut_points`` (its
    ``cut_quantiles`` in this cohort) into ``levels``, lowest first; the continuous feature is
    ``median * exp(log_sd * latent)`` in ``unit``. ``missing`` holds the cell value of a missing
    label and its rate.
    """

    kind: Literal["binary", "ordinal", "continuous"]
    column: str
    collection: str
    driver_set: str
    driver_genes: list[str]  # the driver's genes in the expression matrix
    latent: str
    noise_sd: float
    missing: dict[str, Any]
    direction: str


class CategoricalTrait(PlantedTrait):
    """A binary or ordinal trait of ``truth.json``."""

    levels: list[str]
    cut_quantiles: list[float]
    cut_points: list[float]


class ContinuousTrait(PlantedTrait):
    """The continuous feature of ``truth.json``."""

    unit: str
    value: str
    median: float
    log_sd: float


class SyntheticTruth(TypedDict):
    """``truth.json``: the planted answer of one synthetic cohort."""

    config: dict[str, Any]
    n_genes: int
    n_pretrain: int
    n_annotated: int
    traits: dict[str, CategoricalTrait | ContinuousTrait]
    subtype: dict[str, Any]
    survival: dict[str, Any]


def synthetic_truth(path: str | Path) -> SyntheticTruth:
    """Read ``truth.json`` (or the one in the cohort directory ``path``), checking each trait.

    ``synthetic_truth(d)["traits"]["enhancing_volume"]["driver_set"]`` is the planted driver of the
    continuous feature; ``levels`` and ``cut_points`` give an ordinal trait's order and cuts.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "truth.json"
    truth = json.loads(path.read_text())
    traits = truth.get("traits") if isinstance(truth, dict) else None
    if not isinstance(traits, dict) or not traits:
        raise ValueError(f"{path}: no 'traits' mapping; expected the truth file of a cohort")
    for name, trait in traits.items():
        kind = trait.get("kind")
        if kind not in TRAIT_KINDS:
            raise ValueError(
                f"{path}: trait {name!r} has kind {kind!r}, expected one of {list(TRAIT_KINDS)} "
                "(a cohort generated before kinds were recorded: delete its cache directory)"
            )
        schema = ContinuousTrait if kind == "continuous" else CategoricalTrait
        absent = sorted(schema.__required_keys__ - set(trait))
        if absent:
            raise ValueError(f"{path}: trait {name!r} lacks {absent}")
        if kind != "continuous" and len(trait["cut_points"]) != len(trait["levels"]) - 1:
            raise ValueError(
                f"{path}: trait {name!r} has {len(trait['levels'])} levels but "
                f"{len(trait['cut_points'])} cut points; expected one fewer cut than levels"
            )
    return truth


def _barcodes(n: int, rng: np.random.Generator) -> list[str]:
    """Unique TCGA-like sample barcodes (16 characters: patient + sample type/vial)."""
    sites = ["02", "06", "08", "12", "14", "19", "26", "27", "28", "32", "41", "76"]
    ids: set[str] = set()
    while len(ids) < n:
        ids.add(f"TCGA-{rng.choice(sites)}-{rng.integers(0, 10_000):04d}")
    return [f"{pid}-01A" for pid in sorted(ids)]


def generate(config: SyntheticConfig, directory: str | Path) -> SyntheticFiles:
    """Generate the cohort into ``directory``: expression, VASARI, subtypes, clinical, truth.json."""
    directory = Path(directory)
    rng = np.random.default_rng(config.seed)
    hallmark = load_collection("hallmark")
    verhaak = load_collection("verhaak")
    planted = VASARI_TRAITS | CONTINUOUS_TRAITS
    drivers = {t: spec["driver"] for t, spec in planted.items()} | config.drivers
    universe = load_gene_universe()
    genes = _choose_genes(universe, hallmark, verhaak, drivers, config.n_genes, rng)
    col = {g: i for i, g in enumerate(genes)}
    n = config.n_pretrain + config.n_annotated
    n_genes = len(genes)

    signal = rng.standard_normal((n, n_genes))  # independent gene noise, sd 1
    programs = list(hallmark)
    activity = rng.standard_normal((n, len(programs)))
    for p, name in enumerate(programs):
        idx = np.array([col[g] for g in hallmark[name] if g in col], dtype=np.int64)
        if len(idx):
            loading = rng.uniform(*config.program_loading, size=len(idx))
            signal[:, idx] += activity[:, [p]] * loading[None, :]
    weights = np.asarray(config.subtype_weights, dtype=float)
    subtype = rng.choice(len(SUBTYPES), size=n, p=weights / weights.sum())
    for s, name in enumerate(SUBTYPES):
        idx = np.array(
            [col[g] for g in verhaak[SUBTYPE_SIGNATURES[name]] if g in col], dtype=np.int64
        )
        signal[np.ix_(subtype == s, idx)] += config.subtype_effect
    mean = rng.normal(7.0, 1.5, size=n_genes)  # log2 microarray scale
    scale = rng.uniform(0.3, 1.2, size=n_genes)
    expression = (mean + scale * signal).astype(np.float32)

    barcodes = _barcodes(n, rng)
    order = rng.permutation(n)
    annotated = np.sort(order[: config.n_annotated])
    vasari = pd.DataFrame(index=[b[:12] for b in np.asarray(barcodes)[annotated]])
    vasari["research.id"] = [b[5:12] for b in vasari.index]
    vasari["scan.type"] = "pre-operative"
    truth_traits = {}
    for trait, spec in VASARI_TRAITS.items():
        driver = drivers[trait]
        score = activity[annotated, programs.index(driver)]
        score = score + config.trait_noise * rng.standard_normal(len(annotated))
        cuts = np.quantile(score, spec["cuts"])
        values = np.asarray(spec["categories"], dtype=object)[np.searchsorted(cuts, score)]
        values[rng.random(len(values)) < config.missing_rate] = "n/a"
        vasari[spec["column"]] = values
        truth_traits[trait] = {
            "kind": "binary" if len(spec["categories"]) == 2 else "ordinal",
            "column": spec["column"],
            "levels": list(spec["categories"]),
            "collection": "hallmark",
            "driver_set": driver,
            "driver_genes": [g for g in hallmark[driver] if g in col],
            "latent": "driver activity + noise_sd * N(0, 1)",
            "noise_sd": config.trait_noise,
            "cut_quantiles": list(spec["cuts"]),
            "cut_points": cuts.tolist(),
            "missing": {"value": "n/a", "rate": config.missing_rate},
            "direction": "higher driver activity -> later category",
        }
    vasari["comments"] = ""
    vasari["study.date"] = ""
    # the continuous feature draws from its own stream: expression and the columns above unchanged
    volume_rng = np.random.default_rng([config.seed, 2])
    for trait, spec in CONTINUOUS_TRAITS.items():
        driver = drivers[trait]
        latent = activity[annotated, programs.index(driver)]
        latent = latent + config.volume_noise * volume_rng.standard_normal(len(annotated))
        volume = config.volume_median_ml * np.exp(config.volume_log_sd * latent)
        volume = np.round(volume, spec["decimals"])
        volume[volume_rng.random(len(volume)) < config.missing_rate] = np.nan  # an empty cell
        vasari[spec["column"]] = volume
        truth_traits[trait] = {
            "kind": "continuous",
            "column": spec["column"],
            "unit": spec["unit"],
            "collection": "hallmark",
            "driver_set": driver,
            "driver_genes": [g for g in hallmark[driver] if g in col],
            "latent": "driver activity + noise_sd * N(0, 1)",
            "noise_sd": config.volume_noise,
            "value": f"median * exp(log_sd * latent), rounded to {spec['decimals']} decimal(s)",
            "median": config.volume_median_ml,
            "log_sd": config.volume_log_sd,
            "missing": {"value": "", "rate": config.missing_rate},
            "direction": "higher driver activity -> larger value",
        }
    vasari = vasari[list(VASARI_COLUMNS)]

    directory.mkdir(parents=True, exist_ok=True)
    files = SyntheticFiles.at(directory)
    frame = pd.DataFrame(expression, index=pd.Index(barcodes, name="sample"), columns=genes)
    # a deterministic gzip (no timestamp, no file name in its header): regenerating the cohort
    # gives the same bytes, so the same data digest and the same cached autoencoder
    text = frame.to_csv(sep="\t", float_format="%.4f").encode()
    atomic_write(files.expression, lambda p: Path(p).write_bytes(gzip.compress(text, 1, mtime=0)))
    write_csv(files.vasari, vasari.rename_axis(""), index=True)
    subtypes = pd.DataFrame(
        {"patient_id": [b[:12] for b in barcodes], "subtype": np.asarray(SUBTYPES)[subtype]}
    )
    write_csv(files.subtypes, subtypes.iloc[annotated])
    if config.survival_trait not in drivers:
        raise ValueError(
            f"data.synthetic.survival_trait={config.survival_trait!r} is not one of {list(drivers)}"
        )
    survival_set = drivers[config.survival_trait]
    clinical = synthetic_clinical(
        config,
        [b[:12] for b in barcodes],
        activity[:, programs.index(survival_set)],
        np.random.default_rng([config.seed, 1]),  # own stream: expression and traits unchanged
    )
    atomic_write(files.clinical, lambda p: write_bcr_clinical(clinical, p))
    write_json(
        files.truth,
        {
            "config": asdict(config),
            "n_genes": n_genes,
            "n_pretrain": config.n_pretrain,
            "n_annotated": config.n_annotated,
            "traits": truth_traits,
            "subtype": {
                "column": "subtype",
                "collection": "verhaak",
                "signature_sets": SUBTYPE_SIGNATURES,
            },
            "survival": {
                "file": files.clinical.name,
                "trait": config.survival_trait,
                "collection": "hallmark",
                "driver_set": survival_set,
                "log_hr_per_sd": config.survival_log_hr,
                "direction": "higher driver activity -> shorter overall survival",
                "covariates": "age, gender, race drawn independently of survival",
            },
        },
    )
    return files


def synthetic_clinical(
    config: SyntheticConfig,
    patients: list[str],
    activity: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Overall survival with hazard ``exp(survival_log_hr * activity)``, censored by follow-up."""
    rate = np.log(2) / config.survival_median_days * np.exp(config.survival_log_hr * activity)
    death = rng.exponential(1 / rate)
    follow_up = rng.uniform(*config.followup_days, size=len(patients))
    dead = death <= follow_up
    days = np.ceil(np.minimum(death, follow_up)).astype(int)
    return pd.DataFrame(
        {
            "bcr_patient_barcode": patients,
            "gender": rng.choice(["MALE", "FEMALE"], size=len(patients), p=[0.6, 0.4]),
            "race": rng.choice(
                ["WHITE", "BLACK OR AFRICAN AMERICAN", "ASIAN"],
                size=len(patients),
                p=[0.9, 0.07, 0.03],
            ),
            "vital_status": np.where(dead, "Dead", "Alive"),
            "last_contact_days_to": np.where(dead, "[Not Available]", days.astype(str)),
            "death_days_to": np.where(dead, days.astype(str), "[Not Applicable]"),
            "age_at_initial_pathologic_diagnosis": np.clip(
                np.round(rng.normal(58, 13, size=len(patients))), 18, 90
            ).astype(int),
        }
    )


def write_bcr_clinical(table: pd.DataFrame, path: str | Path) -> None:
    """Write ``table`` as a TCGA BCR clinical patient file: names, two descriptor rows, data."""
    header = "\t".join(table.columns)
    descriptor = "\t".join(f"CDE_ID:{k}" for k in range(len(table.columns)))
    with open(path, "w") as handle:
        handle.write(f"{header}\n{header}\n{descriptor}\n")
        table.to_csv(handle, sep="\t", index=False, header=False)


def _choose_genes(
    universe: list[str],
    hallmark: dict[str, list[str]],
    verhaak: dict[str, list[str]],
    drivers: Mapping[str, str],
    n_genes: int | None,
    rng: np.random.Generator,
) -> list[str]:
    """The whole universe, or a subset of it that keeps every driver and signature gene."""
    unique = list(dict.fromkeys(universe))
    if n_genes is None or n_genes >= len(unique):
        return unique
    on_array = set(unique)
    required = {g for d in drivers.values() for g in hallmark[d]} | {
        g for s in verhaak.values() for g in s
    }
    required &= on_array
    if n_genes < len(required):
        raise ValueError(
            f"data.synthetic.n_genes={n_genes} is below the {len(required)} planted genes"
        )
    others = [g for g in unique if g not in required]
    extra = rng.choice(len(others), size=n_genes - len(required), replace=False)
    keep = required | {others[i] for i in extra}
    return [g for g in unique if g in keep]


def ensure_synthetic(config: SyntheticConfig, cache_dir: str | Path) -> SyntheticFiles:
    """Generate the cohort into ``cache_dir`` once (keyed by its config, under a file lock)."""
    directory = Path(cache_dir) / f"synthetic-{stable_hash([FILES_VERSION, asdict(config)])}"
    directory.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(directory) + ".lock"):
        files = SyntheticFiles.at(directory)
        if not files.truth.exists():  # truth.json is written last: its presence means complete
            files = generate(config, directory)
    return files


def export_h5ad(files: SyntheticFiles, path: str | Path, sparse: bool = False) -> Path:
    """The cohort as one AnnData file: expression as X (dense or CSR), label columns as obs.

    The same numbers and labels as the TSV + CSV files (expression-only patients have no obs
    value), so training on either gives the same results.
    """
    from radiogenomics.data.anndata_io import cohort_to_anndata, write_h5ad
    from radiogenomics.data.io import read_expression, read_label_table

    expression = read_expression(files.expression)
    labels = read_label_table(files.vasari).join(read_label_table(files.subtypes), how="outer")
    return write_h5ad(path, cohort_to_anndata(expression, labels, sparse=sparse))
