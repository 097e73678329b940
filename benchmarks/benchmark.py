"""Benchmarks: each section times our implementation against a reference run in the same process.

    python benchmarks/benchmark.py                 # every section
    python benchmarks/benchmark.py finetune --quick

Results are merged into outputs/benchmark/results.json (one entry per section) and printed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from radiogenomics.utils import write_json  # noqa: E402

# section name -> (module in benchmarks/, function taking quick: bool and returning a dict)
SECTIONS = {
    "finetune": ("bench_finetune", "bench_finetune"),
    "comparators": ("bench_comparators", "bench_comparators"),
    "masking": ("bench_masking", "bench_masking"),
    "saliency": ("bench_saliency", "bench_saliency"),
    "gpu_sweep": ("bench_gpu_sweep", "bench_gpu_sweep"),
    "importance_null": ("bench_importance_null", "bench_importance_null"),
    "tuning": ("bench_tuning", "bench_tuning"),
    "ensemble": ("bench_ensemble", "bench_ensemble"),
}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "sections", nargs="*", default=list(SECTIONS), help=f"any of {list(SECTIONS)}"
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (a smoke run, e.g. in tests)"
    )
    parser.add_argument("--out", default="outputs/benchmark/results.json")
    args = parser.parse_args(argv)
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}")
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    for name in args.sections:
        module, func = SECTIONS[name]
        try:
            bench = getattr(importlib.import_module(module), func)
        except (ImportError, AttributeError) as err:
            print(f"[{name}] not available: {err}")
            continue
        start = time.perf_counter()
        result = bench(quick=args.quick)
        result["wall_s"] = round(time.perf_counter() - start, 2)
        result["quick"] = args.quick
        result["machine"] = {"python": platform.python_version(), "cpu": platform.processor()}
        results[name] = result
        write_json(out, results)
        print(f"\n[{name}]")
        for key, value in result.items():
            if not isinstance(value, (dict, list)):
                print(f"  {key:<24} {value}")
    print(f"\nresults written to {out}")
    return results


if __name__ == "__main__":
    main()
