"""The house rules, checked on the source: imports point down the layers, file names live once."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "src" / "radiogenomics"

# lowest first: a module may import its own layer and the layers before it, never one after it
LAYERS = [
    {
        "errors",
        "interpreters",
        "utils",
        "hydra_resolvers",
        "config_schema",
        "cli",
        "progress",
        "environment",
        "lock",
        "sweep_state",
    },
    {"data"},
    {"results"},
    {"evaluation"},
    {"models"},
    {"interpret"},
    {"callbacks"},
    {"analysis"},
    {"figures"},
    {"summaries"},
    {"report"},
    {"exports"},
    {"pipelines"},
    {"launch"},
    {"tuning"},
    {"tasks"},
    {"reproduce", "panel", "script_args"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
LAYOUT = PACKAGE / "results" / "layout.py"


def _layer(module: str) -> str:
    """``radiogenomics.data.cohort`` -> ``data``."""
    return module.split(".")[1]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every ``radiogenomics.*`` import, also those inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "radiogenomics":
                names = [f"radiogenomics.{a.name}" for a in node.names]
            found += [(node.lineno, n) for n in names if n.startswith("radiogenomics.")]
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, a.name) for a in node.names if a.name.startswith("radiogenomics.")
            ]
    return found


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "resources" not in p.parts)


def test_every_module_has_a_layer():
    unknown = {
        _layer(_module_name(p)) for p in _sources() if p.parent != PACKAGE or p.stem != "__init__"
    }
    assert unknown <= set(RANK), f"give these a layer in LAYERS: {sorted(unknown - set(RANK))}"


def test_imports_point_down_the_layers():
    upward = []
    for path in _sources():
        name = _module_name(path)
        if name == "radiogenomics":
            continue
        for line, target in _imports(path):
            if RANK[_layer(target)] > RANK[_layer(name)]:
                upward.append(f"{path.relative_to(ROOT)}:{line} {name} imports {target}")
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_results_and_evaluation_depend_on_data_only():
    allowed = {"utils", "hydra_resolvers", "progress", "environment", "data", "results"}
    allowed |= {"evaluation"}
    for layer in ("results", "evaluation"):
        for path in (PACKAGE / layer).rglob("*.py"):
            targets = {_layer(t) for _, t in _imports(path)}
            assert targets <= allowed, f"{path.name} imports {sorted(targets - allowed)}"


def test_the_layer_check_catches_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from radiogenomics.pipelines.sweep_summary import summarize\n")
    assert _imports(bad) == [(2, "radiogenomics.pipelines.sweep_summary")]
    assert RANK["pipelines"] > RANK["models"]


# reading a table, JSON or YAML file; the page embeds figures (bytes) but reads data elsewhere
FILE_READS = {"read_csv", "read_parquet", "read_json", "read_text", "loads", "load", "safe_load"}


def test_the_page_reads_sweep_files_through_sweep_data_only():
    """results/sweep.SweepData reads a finished sweep; report/ only gets data from it."""
    reads = []
    for path in sorted((PACKAGE / "report").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in FILE_READS:
                    reads.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    assert not reads, "read sweep files in results/sweep.SweepData:\n" + "\n".join(reads)


def test_summary_files_are_read_through_sweep_data_only():
    """Outside results/, no module reads a ``summary/`` file itself (a read whose path names the
    summary) or lists the pooled masking tables (``masking_table("*")``): SweepData does."""
    reads = []
    for path in _sources():
        if path.is_relative_to(PACKAGE / "results"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", None))
            text = ast.unparse(node)
            star = [a.value for a in node.args if isinstance(a, ast.Constant)] == ["*"]
            glob = name == "masking_table" and star
            if glob or (name in FILE_READS and "summary" in text.lower()):
                reads.append(f"{path.relative_to(ROOT)}:{node.lineno} {text}")
    assert not reads, "read summary/ in results/sweep.SweepData:\n" + "\n".join(reads)


NUMERIC = {"numpy", "scipy", "sklearn"}


def test_pipelines_compute_nothing():
    """pipelines/ reads the jobs, runs summaries/ in order and writes: no numeric library, and
    from evaluation/ (the statistics) only its constants."""
    computing = []
    for path in sorted((PACKAGE / "pipelines").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [(a.name, "") for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [(node.module, a.name) for a in node.names]
            else:
                continue
            for module, name in modules:
                statistic = module.startswith("radiogenomics.evaluation") and not name.isupper()
                if module.split(".")[0] in NUMERIC or statistic:
                    computing.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    assert not computing, "compute in summaries/, not in pipelines/:\n" + "\n".join(computing)


def _file_names() -> set[str]:
    """Job and sweep file names (and name fragments like ``_scores.csv``) that layout.py spells."""
    names = set()
    for node in ast.walk(ast.parse(LAYOUT.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            stem, dot, ext = text.rpartition(".")
            # a name with an extension and something before it; bare extensions are generic
            if dot and stem and ext.isalnum() and " " not in text and "/" not in text:
                names.add(text)
    return names


def _strings(path: Path) -> list[tuple[int, str]]:
    """Every string literal of a file except docstrings (f-string parts included)."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in docstrings
    ]


def test_layout_names_files_that_exist_in_the_contract():
    names = _file_names()
    for expected in ("metrics.json", "predictions.csv", "cv_summary.csv", "associations.csv"):
        assert expected in names


@pytest.mark.parametrize("folder", ["src", "scripts", "benchmarks"])
def test_every_job_and_sweep_file_name_is_spelled_once(folder):
    names = _file_names()
    repeated = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        if path == LAYOUT:
            continue
        for line, text in _strings(path):
            repeated += [f"{path.relative_to(ROOT)}:{line} {n!r}" for n in names if n in text]
    assert not repeated, "use radiogenomics.results.layout instead of:\n" + "\n".join(repeated)
    spelled = [text for _, text in _strings(LAYOUT) if text in names]
    assert sorted(spelled) == sorted(set(spelled)), "layout.py spells a name twice"


def _import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (inside functions too)."""
    modules = {_module_name(p): p for p in _sources()}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for _, target in _imports(path):
            while target not in modules and "." in target:  # `from pkg import name`
                target = target.rsplit(".", 1)[0]
            if target in modules and target != name:
                targets.add(target)
        graph[name] = targets
    return graph


def test_no_import_cycles():
    graph, cycles = _import_graph(), []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles (break them by moving the shared piece down):\n" + "\n".join(
        cycles
    )


def test_statistics_are_computed_in_evaluation():
    """AUROC, Brier score, BH q-values, tail fits and permutation p-values have one definition
    each, in evaluation/: no other layer calls the library function or writes the formula."""
    library = re.compile(r"\b(roc_auc_score|brier_score_loss|false_discovery_control|genpareto)\b")
    permutation_p = re.compile(r"\(1 \+ .*\) / \(1 \+ ")  # (1 + #exceed) / (1 + #draws)
    found = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in _sources()
        if "evaluation" not in p.relative_to(PACKAGE).parts
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if library.search(line) or permutation_p.search(line)
    ]
    assert not found, f"statistics outside evaluation/ (call evaluation's): {found}"


def _code_and_configs() -> list[Path]:
    return [
        *(ROOT / "src").rglob("*.py"),
        *(ROOT / "configs").rglob("*.yaml"),
        *(ROOT / "scripts").glob("*.py"),
        *(ROOT / "benchmarks").glob("*.py"),
        ROOT / "train.py",
    ]


def test_the_formatter_is_not_fought():
    """No ``# fmt: skip``: ruff format's output is the house style (pyproject's [tool.ruff])."""
    marker = "fmt: " + "skip"
    found = [str(p.relative_to(ROOT)) for p in _code_and_configs() if marker in p.read_text()]
    assert not found, f"{marker} in {found}"


def test_code_says_what_not_which_ticket():
    """Comments and docstrings name the concept, not the issue that asked for it."""
    ticket = re.compile(r"\bissues? #?\d+", re.IGNORECASE)
    found = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in _code_and_configs()
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if ticket.search(line)
    ]
    assert not found, f"issue numbers in {found}"


REGISTRY = PACKAGE / "interpreters.py"
# the Captum attribution method called "saliency" (the plain input gradient) shares the saliency
# interpreter's name; its method list is the one place that may spell it
CAPTUM_METHODS = PACKAGE / "interpret" / "saliency.py"


def _interpreter_names() -> list[str]:
    from radiogenomics import interpreters

    return interpreters.names()


def _spells_an_interpreter(text: str, names: list[str]) -> bool:
    """``text`` is an interpreter's name, or names one as config (``interpret.x``,
    ``+interpret=x``, ``interpret=[...,x]``)."""
    alternatives = "|".join(map(re.escape, names))
    config = re.compile(rf"interpret(\.|=\[?([\w,]*,)?)({alternatives})\b")
    return text in names or bool(config.search(text))


def test_the_registry_is_the_only_place_that_names_an_interpreter():
    """Interpreter names as string literals live in radiogenomics/interpreters.py only (the
    YAML configs and results/layout.py's folder names aside)."""
    names, found = _interpreter_names(), []
    for path in _sources():
        if path in (REGISTRY, LAYOUT):
            continue
        for line, text in _strings(path):
            if path == CAPTUM_METHODS and text == "saliency":
                continue
            if _spells_an_interpreter(text, names):
                found.append(f"{path.relative_to(ROOT)}:{line} {text!r}")
    assert not found, "read the name from radiogenomics.interpreters instead:\n" + "\n".join(found)


def test_the_name_check_catches_a_spelled_interpreter():
    names = ["masking", "saliency"]
    for text in (
        "masking",
        "interpret.saliency.method",
        "+interpret=masking",
        "interpret=[a,masking]",
    ):
        assert _spells_an_interpreter(text, names), text
    for text in ("saliency_mean", "masking_auroc", "gene masking scores", "interpret.sweep"):
        assert not _spells_an_interpreter(text, names), text


def test_every_registry_piece_loads_from_a_layer_its_readers_may_import():
    """Import paths of the registry load; options and writers lie at or below ``callbacks`` (the
    network's callback reads them), summaries at or below ``summaries``, report blocks at or below ``report``."""
    from radiogenomics import interpreters

    readers = {
        "options": "callbacks",
        "network_writer": "callbacks",
        "comparator_writer": "tasks",
        "folder": "callbacks",
        "summary": "summaries",
        "report": "report",
    }
    for entry in interpreters.entries():
        for piece, reader in readers.items():
            path = getattr(entry, piece)
            if path is None:
                continue
            assert entry.resolve(piece) is not None, f"{entry.name}.{piece}: {path}"
            module = path.partition(":")[0]
            assert RANK[_layer(module)] <= RANK[reader], f"{entry.name}.{piece} in {module}"


def _schema_keys() -> set[str]:
    """Every option the config schemas type (``n_folds``, ``model.ensemble``, ...)."""
    import dataclasses

    from radiogenomics.config_schema import SCHEMAS, field_kind, schema_fields

    def keys(schema: type, prefix: str) -> set[str]:
        found = set()
        for name in schema_fields(schema):
            key = f"{prefix}.{name}" if prefix else name
            found.add(key)
            kind, _ = field_kind(schema, name)
            if dataclasses.is_dataclass(kind):
                found |= keys(kind, key)
        return found

    return {
        k for group, found in SCHEMAS.items() for s in found.values() for k in keys(s, group or "")
    }


def test_the_schemas_hold_no_defaults():
    """Defaults live in the YAML files only: a schema field states a type and a range."""
    import dataclasses

    from radiogenomics.config_schema import SCHEMAS, schema_fields

    with_default = [
        f"{schema.__name__}.{f.name}"
        for found in SCHEMAS.values()
        for schema in found.values()
        for f in schema_fields(schema).values()
        if f.default is not dataclasses.MISSING
        and str(f.default) != "???"
        or f.default_factory is not dataclasses.MISSING
    ]
    assert not with_default, f"defaults belong in configs/: {with_default}"


def test_no_literal_default_for_a_typed_option():
    """A typed option is read as the config holds it, never with a literal fallback that could
    disagree with its YAML default (``OmegaConf.select(cfg, "model.ensemble", default=1)``,
    ``cfg.get("resume", True)``): the off value of an option a saved config predates is
    ``config_schema.OFF``'s, read with ``value_or_off``."""
    typed = _schema_keys()
    found = []
    for path in _sources():
        if path.name == "config_schema.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            keys = [a.value for a in node.args if isinstance(a, ast.Constant) and a.value in typed]
            if not keys:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            fallbacks = [k.value for k in node.keywords if k.arg == "default"]
            if name == "_get" and len(node.args) == 3:
                fallbacks.append(node.args[2])
            if name == "get" and len(node.args) == 2 and ast.unparse(func.value).startswith("cfg"):
                fallbacks.append(node.args[1])
            if any(isinstance(f, ast.Constant) and f.value is not None for f in fallbacks):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {keys[0]}")
    assert not found, f"literal defaults of typed options (the YAML holds them): {found}"
