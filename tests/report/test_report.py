"""The sweep report: written by the summary, valid HTML, complete in a real browser, side by side.

One tiny 2-fold sweep with masking and saliency (through train.py, so the summary's hook writes
the page) serves every test here; the browser test opens it in Debian's headless Chromium through
Playwright (no browser download) and skips only when no Chromium can run (CI installs it: .ci/run).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from playwright.sync_api import Browser, ConsoleMessage, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from radiogenomics.report import page as report_module
from radiogenomics.report.blocks import Section, Text
from radiogenomics.report.page import Builder, write_report, write_sweep_report
from tests.conftest import ROOT, TINY
from tests.helpers.html_check import html_errors


def _load_script():
    """scripts/report.py as a module (scripts are not a package)."""
    spec = importlib.util.spec_from_file_location("report_script", ROOT / "scripts" / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


report_script = _load_script()
FAST_INTERPRET = [
    "+interpret=[masking,saliency]",
    "interpret.masking.collections=[verhaak]",
    "interpret.masking.n_random=20",
    "interpret.saliency.collections=[verhaak]",
    "interpret.saliency.method=input_x_gradient",
    "interpret.saliency.n_jobs=1",
    "interpret.saliency.gsea_method=permutation",
    "interpret.saliency.permutation_num=20",
]
SECTIONS = ["run", "performance", "interpretation", "model_card"]  # what this sweep has
MAX_REPORT_BYTES = 10 * (1 << 20)
SCREENSHOT_ENV = "RG_REPORT_SCREENSHOT"  # copy the browser screenshot here when set
REQUIRED_ENV = "RG_CHROMIUM_REQUIRED"  # set by .ci/run: no Chromium is a failure there
CHROMIUM = ("chromium", "chromium-browser", "google-chrome", "chrome")  # Debian's name first
PAGE_FACTS = """() => ({
  images: Array.from(document.images).map(i => ({
    src: i.currentSrc.slice(0, 40), complete: i.complete, width: i.naturalWidth,
    height: i.naturalHeight})),
  sections: Array.from(document.querySelectorAll('main > section[id]')).map(s => s.id),
  scripts: document.scripts.length,
  title: document.title,
})"""


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, cache_dir) -> Path:
    """A 2-fold sweep with masking and saliency, summarized (and reported) by train.py -m."""
    sweep_dir = tmp_path_factory.mktemp("report") / "sweep"
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        "n_folds=2",
        *TINY,
        *FAST_INTERPRET,
        f"hydra.sweep.dir={sweep_dir}",
    ]
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return sweep_dir


def _page(sweep: Path) -> str:
    return (sweep / "summary" / "report.html").read_text()


def _section_ids(html: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)">', html)


def test_the_summary_writes_report_and_model_card(sweep):
    summary = sweep / "summary"
    page, card = summary / "report.html", summary / "model_card.md"
    assert page.is_file() and card.is_file()
    assert page.stat().st_size < MAX_REPORT_BYTES
    html = page.read_text()
    assert _section_ids(html) == SECTIONS
    assert "could not be built" not in html
    for text in (
        "Cross-validation",
        "Calibration",
        "Masking, verhaak",
        "Associations",
        "Stability of attributions",
        "Overrides vs defaults",
        "Data files",
        "Patients per class",
    ):
        assert text in html, text
    assert list(summary.glob("calibration_*.png"))
    # self-contained: every image inline, no script, nothing fetched
    assert "<script" not in html and 'src="http' not in html
    assert html.count("<img ") == html.count('src="data:image/png;base64,')


def test_model_card_states_cohort_auroc_with_ci_and_limitations(sweep):
    card = (sweep / "summary" / "model_card.md").read_text()
    cv = pd.read_csv(sweep / "summary" / "cv_summary.csv").iloc[0]
    cohort = json.loads(next(sweep.glob("*/cohort.json")).read_text())
    assert f"Trait cohort ({cohort['trait']}): {cohort['n_patients']} patients" in card
    auroc = f"pooled AUROC {cv.pooled_auroc:.3f} [95% CI {cv.pooled_auroc_ci_low:.3f}, "
    assert auroc in card
    for heading in (
        "## Intended use",
        "## Known limitations",
        "## Ethical considerations",
        "## Calibration",
        "## Evaluation protocol",
    ):
        assert heading in card
    assert "Not for diagnosis" in card and "Brier score" in card


def test_the_page_is_valid_html(sweep):
    assert html_errors(_page(sweep)) == []


def test_the_html_check_catches_broken_markup(sweep):
    html = _page(sweep)
    broken = {
        "unclosed element": html.replace("</table>", "", 1),
        "cell outside a row": html.replace("<tr>", "", 1),
        "duplicate id": html.replace('<section id="performance">', '<section id="run">'),
        "image without alt": re.sub(r' alt="[^"]*"', "", html, count=1),
        "remote image": html.replace('src="data:', 'src="https://example.org/x.png?', 1),
    }
    for what, page in broken.items():
        assert html_errors(page), what


def _skip_or_fail(reason: str) -> None:
    """Skip, unless CI requires the browser (.ci/run sets RG_CHROMIUM_REQUIRED=1): then fail."""
    if os.environ.get(REQUIRED_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRED_ENV}=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium from PATH driven by Playwright; skip or fail where none can run."""
    chromium = next((p for name in CHROMIUM if (p := shutil.which(name))), None)
    if chromium is None:
        _skip_or_fail("no chromium on PATH (.ci/run installs Debian's chromium package)")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=chromium, args=["--disable-dev-shm-usage"]
            )
        except PlaywrightError as err:
            _skip_or_fail(f"chromium cannot run here: {err.message.splitlines()[0]}")
        yield browser
        browser.close()


@dataclass
class Seen:
    """What the browser saw on a page."""

    console_errors: list[str]  # console.error/assert, uncaught exceptions, failed loads
    requests: list[str]  # every URL the page asked for (only file:// is let through)
    facts: dict[str, Any]  # PAGE_FACTS
    screenshot: bytes  # full page, PNG
    pdf: bytes


def _inspect(browser: Browser, path: Path) -> Seen:
    """Load ``path`` in a fresh page; nothing outside file:// is fetched (such requests fail)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors, requests = [], []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "assert"):
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requests.append(request.url[:80]))
    page.route(re.compile(r"^(?!file:|data:)"), lambda route: route.abort())
    page.goto(path.resolve().as_uri(), wait_until="load", timeout=60_000)
    seen = Seen(
        errors, requests, page.evaluate(PAGE_FACTS), page.screenshot(full_page=True), page.pdf()
    )
    page.close()
    return seen


def test_headless_chromium_shows_every_section_and_image(sweep, browser, tmp_path):
    seen = _inspect(browser, sweep / "summary" / "report.html")
    assert seen.console_errors == []
    images = seen.facts["images"]
    assert len(images) >= 5  # ROC, calibration, two masking heatmaps, saliency plots
    assert all(i["complete"] and i["width"] > 0 and i["height"] > 0 for i in images), images
    assert seen.facts["sections"] == SECTIONS
    assert seen.facts["scripts"] == 0
    assert all(url.startswith(("file://", "data:")) for url in seen.requests), seen.requests
    assert seen.screenshot.startswith(b"\x89PNG") and seen.pdf.startswith(b"%PDF")
    shot = tmp_path / "report.png"
    shot.write_bytes(seen.screenshot)
    if os.environ.get(SCREENSHOT_ENV):
        shutil.copy(shot, os.environ[SCREENSHOT_ENV])


def test_the_browser_check_catches_a_broken_page(browser, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(
        '<html><body><main><section id="run"></section></main>'
        '<img src="missing.png" alt=""><img src="https://example.org/x.png" alt="">'
        '<script>console.error("logged"); undefined_function();</script></body></html>'
    )
    seen = _inspect(browser, page)
    errors = " ".join(seen.console_errors)
    assert "logged" in errors and "undefined_function" in errors
    assert "ERR_FILE_NOT_FOUND" in errors  # the missing image
    assert not any(i["complete"] and i["width"] > 0 for i in seen.facts["images"])
    assert seen.facts["sections"] == ["run"] and seen.facts["scripts"] == 1
    assert "https://example.org/x.png" in seen.requests


def _permuted_copy(sweep: Path, dest: Path) -> Path:
    """The sweep as if its labels had been permuted (for the side-by-side page, not the numbers)."""
    twin = dest / "twin"
    shutil.copytree(sweep, twin, ignore=shutil.ignore_patterns("model", "*.parquet"))
    shutil.copytree(sweep / "summary", twin / "summary", dirs_exist_ok=True)
    for path in [*twin.glob("*/metrics.json"), *twin.glob("*/cohort.json")]:
        record = json.loads(path.read_text())
        path.write_text(json.dumps({**record, "permuted_labels": True}))
    folds = pd.read_csv(twin / "summary" / "folds.csv").assign(permuted_labels=True)
    folds.to_csv(twin / "summary" / "folds.csv", index=False)
    return twin


def test_two_sweeps_side_by_side_with_null_verdicts(sweep, tmp_path, capsys):
    twin = _permuted_copy(sweep, tmp_path)
    out = tmp_path / "side.html"
    assert report_script.main([str(sweep), str(twin), "--out", str(out)]) == 0
    html = out.read_text()
    assert html_errors(html) == []
    assert _section_ids(html) == [*SECTIONS[:3], "null_twin", SECTIONS[3]]
    assert html.count('class="sweep-name"') >= 2 * len(SECTIONS)
    verdicts = html[html.index('id="null_twin"') :]
    for stage in ("auroc", "masking_verhaak", "associations", "paper_rule_only"):
        assert f"<td>{stage}</td>" in verdicts, stage
    assert "within FDR" in verdicts or "OVER" in verdicts
    assert "written:" in capsys.readouterr().out


def test_a_sweep_without_interpretation_has_no_interpretation_section(sweep, tmp_path):
    plain = tmp_path / "plain"
    shutil.copytree(sweep, plain, ignore=shutil.ignore_patterns("model", "masking", "saliency"))
    for pattern in ("masking_*", "saliency_*", "associations.csv", "stability.json"):
        for path in (plain / "summary").glob(pattern):
            path.unlink()
    write_sweep_report(plain)
    assert _section_ids(_page(plain)) == ["run", "performance", "model_card"]


def test_a_failing_section_is_reported_and_the_page_still_written(sweep, tmp_path, monkeypatch):
    def broken(data):
        raise KeyError("no such column")

    def extra(data):
        return Section("extra", "Extra table", [Text("provided by a new builder")])

    sections = [*report_module.SECTIONS, Builder(broken), Builder(extra)]
    monkeypatch.setattr(report_module, "SECTIONS", sections)
    out = tmp_path / "page.html"
    write_report([sweep], out=out)
    html = out.read_text()
    assert "This section could not be built: KeyError" in html
    assert "provided by a new builder" in html and html_errors(html) == []


@pytest.mark.parametrize("make", [lambda p: p, lambda p: p / "missing", lambda p: p / "f.txt"])
def test_report_py_refuses_a_non_sweep_dir_in_one_line(make, tmp_path, capsys):
    (tmp_path / "f.txt").write_text("x")
    assert report_script.main([str(make(tmp_path))]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("report: ") and len(err.splitlines()) == 1


def test_comparators_show_fig2_and_paired_tests(tmp_path):
    """A sweep of the network and two comparators (hand-made job files, no Hydra record)."""
    from radiogenomics.pipelines.sweep_summary import summarize
    from tests.evaluation.test_comparison import write_sweeps

    cv, _ = write_sweeps(tmp_path)
    summarize(cv, n_boot=200)
    html = _page(cv)
    assert _section_ids(html) == ["run", "performance", "model_card"]
    for text in (
        "AUROC per model (Fig. 2a style)",
        "Paired differences (Fig. 2b style)",
        "nn minus comparator over CV folds",
        "could not be built",
    ):
        assert (text in html) == (text != "could not be built"), text
    assert html.count("<img ") == 2 * 3 + 2  # ROC and calibration per model, Fig 2a and 2b
    assert html_errors(html) == []


@pytest.mark.slow
def test_a_real_permuted_twin_side_by_side(sweep, tmp_path, cache_dir):
    """The README's null-control pair at tiny size: train the twin, then scripts/report.py."""
    twin = tmp_path / "twin"
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        "n_folds=2",
        *TINY,
        *FAST_INTERPRET,
        "trait.permute_labels=true",
        f"hydra.sweep.dir={twin}",
    ]
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "PERMUTED" in _page(twin)
    out = tmp_path / "side.html"
    assert report_script.main([str(sweep), str(twin), "--out", str(out)]) == 0
    html = out.read_text()
    assert html_errors(html) == [] and 'id="null_twin"' in html
    verdicts = re.findall(r"<td>(within FDR|OVER|not judged)</td>", html)
    assert len(verdicts) >= 4
