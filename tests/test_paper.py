"""The manuscript and the Snakemake report: built from results/, opened in a real browser.

The browser checks need Chromium. CI installs it with

    apt-get update && apt-get install -y --no-install-recommends chromium

and without it those tests are skipped with that command as the reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO
from ecgrepro.aggregate.paper import build_paper, format_reference, parse_bibtex
from ecgrepro.aggregate.paper import render_markdown
from ecgrepro.aggregate.paper_views import Results
from ecgrepro.aggregate.pilots import plot_pilots, read_pilots
from ecgrepro.errors import EcgreproError
from test_aggregate import EXPERIMENTS, KNN_VARIANTS, N_FOLDS, built, make_results  # noqa: F401

BIN = Path(sys.executable).parent
CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
TEMPLATE = REPO / "paper" / "paper.md.j2"
BIB = REPO / "paper" / "references.bib"
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium not installed: apt-get update && apt-get install -y "
           "--no-install-recommends chromium",
)

# Collects script errors from the first moment, and, once the page has loaded, writes
# what it found into <pre id="ecgrepro-check"> for --dump-dom to print.
PROBE = """<script>
window.__errors = [];
window.addEventListener("error", function (e) { window.__errors.push(String(e.message || e.type)); }, true);
</script>"""
CHECK = """<script>
window.addEventListener("load", function () {
  var entries = (typeof results === "object" && results) ? results : {};
  var keys = Object.keys(entries).filter(function (k) {
    return String(entries[k].mime_type || "").indexOf("image/") === 0; });
  var embedded = keys.map(function (k) { return new Promise(function (resolve) {
    var img = new Image();
    img.onload = function () { resolve([k, img.naturalWidth > 0]); };
    img.onerror = function () { resolve([k, false]); };
    img.src = entries[k].data_uri; }); });
  Promise.all(embedded).then(function (res) {
    var imgs = Array.prototype.slice.call(document.images);
    var out = document.createElement("pre");
    out.id = "ecgrepro-check";
    out.textContent = JSON.stringify({
      images: imgs.length,
      broken: imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                  .map(function (i) { return i.src.slice(0, 80); }),
      embedded: res.filter(function (r) { return r[1]; }).map(function (r) { return r[0]; }),
      embedded_broken: res.filter(function (r) { return !r[1]; }).map(function (r) { return r[0]; }),
      text: document.body.innerText.length,
      errors: window.__errors });
    document.body.appendChild(out);
  });
});
</script>"""


def open_in_chromium(page: Path, tmp_path: Path) -> dict:
    """Load a copy of ``page`` with the probe in headless Chromium; what the probe saw."""
    html = page.read_text(encoding="utf-8")
    html = html.replace("<head>", "<head>" + PROBE, 1)
    end = html.rfind("</body>")
    probe = tmp_path / f"probe-{page.name}"
    probe.write_text(html[:end] + CHECK + html[end:], encoding="utf-8")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'chrome'}",
           "--virtual-time-budget=15000", "--dump-dom", probe.as_uri()]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    m = re.search(r'<pre id="ecgrepro-check">(.*?)</pre>', res.stdout, re.S)
    assert m, f"no probe result; chromium said:\n{res.stderr[-3000:]}"
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@pytest.fixture(scope="session")
def paper(built, tmp_path_factory):
    root = built[0]
    out = tmp_path_factory.mktemp("paper") / "paper"
    figures = root / "results/figures"  # the pilot_figure rule's, from the committed pilots
    plot_pilots(read_pilots(REPO / "results/reference/pilots"), figures / "pilot_curves.png",
                figures / "pilot_curves.pdf")
    build_paper(template=TEMPLATE, bibliography=BIB, tables_dir=root / "results/tables",
                figures_dir=root / "results/figures", config=CONFIG,
                out_md=out / "paper.md", out_html=out / "paper.html",
                pdf_log=out / "pdf.log")
    return root, out


# -- bibliography and template -----------------------------------------------------------


def test_bibliography_has_every_required_work():
    bib = parse_bibtex(BIB.read_text())
    for key in ("karim2018", "oh2018", "dechazal2004", "dau2019", "moody2001",
                "goldberger2000", "fawaz2019", "middlehurst2024", "mitdb", "ucr2018"):
        assert key in bib, key
    ref = format_reference(bib["middlehurst2024"])
    assert ref.startswith("Middlehurst M, Schäfer P, Bagnall A (2024).")
    assert "doi:10.1007/s10618-024-01022-1" in ref


def test_template_types_no_result():
    """Numbers in the manuscript come from results/ or config: the template has none."""
    text = re.sub(r"\{#.*?#\}", "", TEMPLATE.read_text(), flags=re.S)
    text = re.sub(r"^#+ .*$", "", text, flags=re.M)  # headings carry section numbers
    text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", text, flags=re.S)
    assert not re.findall(r"\d+\.\d+|\d+\s*%", text)


def test_citations_are_numbered_in_order_and_checked(tmp_path):
    bib = parse_bibtex(BIB.read_text())
    results = Results(tmp_path, tmp_path, CONFIG, tmp_path)
    md = render_markdown("See [@oh2018; @karim2018] and [@oh2018].", results, bib)
    assert "[[1](#ref-oh2018), [2](#ref-karim2018)]" in md and md.count("[1](#ref-oh2018)") == 2
    assert md.index('id="ref-oh2018"') < md.index('id="ref-karim2018"')
    with pytest.raises(EcgreproError, match="not in the bibliography"):
        render_markdown("[@nobody2020]", results, bib)


def test_undefined_placeholder_fails_loudly(tmp_path):
    import jinja2

    results = Results(tmp_path, tmp_path, CONFIG, tmp_path)
    with pytest.raises(jinja2.UndefinedError):
        render_markdown("{{ config.no_such_key.value }}", results, {})
    with pytest.raises(EcgreproError, match="claims.csv is missing"):
        render_markdown("{{ r.claim('C1') }}", results, {})


# -- the built paper --------------------------------------------------------------------


def test_paper_is_filled_from_the_tables(paper):
    root, out = paper
    md = (out / "paper.md").read_text()
    claims = pd.read_csv(root / "results/tables/claims.csv")
    for c in claims.itertuples():
        block = md.split(f"**{c.claim_id}: ", 1)[1].split("\n\n", 1)[0]
        assert f"Verdict: **{c.verdict}**" in block, c.claim_id
    assert "{{" not in md and "{%" not in md
    assert "## References" in md and "Karim F, Majumdar S" in md
    html = (out / "paper.html").read_text()
    srcs = re.findall(r'<img[^>]+src="([^"]+)"', html)
    assert len(srcs) == 8 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "PDF" in (out / "pdf.log").read_text()


def test_paper_rebuilds_byte_for_byte(paper, tmp_path):
    root, out = paper
    again = tmp_path / "paper"
    build_paper(template=TEMPLATE, bibliography=BIB, tables_dir=root / "results/tables",
                figures_dir=root / "results/figures", config=CONFIG,
                out_md=again / "paper.md", out_html=again / "paper.html",
                pdf_log=again / "pdf.log")
    for name in ("paper.md", "paper.html"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


@needs_chromium
def test_paper_opens_in_a_browser_with_every_figure(paper, tmp_path):
    _, out = paper
    seen = open_in_chromium(out / "paper.html", tmp_path)
    assert seen["errors"] == [] and seen["broken"] == []
    assert seen["images"] == 8 and seen["text"] > 1000


# -- the workflow: aggregate, paper and report through Snakemake ---------------------------


def snakemake(*args, cwd):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), *args]
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
    return res.stdout + res.stderr


def _to_store_layout(work: Path, cfg: dict) -> None:
    """Move the synthetic runs to the settings-keyed paths the workflow plans."""
    from snakemake.utils import update_config, validate

    from ecgrepro import store

    full = yaml.safe_load((REPO / "config/config.yaml").read_text())
    update_config(full, cfg)
    validate(full, str(REPO / "workflow/schemas/config.schema.yaml"))
    for metrics in sorted((work / "results").glob("*/**/metrics.json")):
        run = store.parse_run_dir(metrics.parent)
        if run.kind == "knn":
            settings = store.knn_settings(full, run.dataset, run.model)
        else:
            settings = store.train_settings(full, run.dataset, run.model, run.framework,
                                            run.protocol, run.split, run.seed)
        new = work / store.run_dir(settings)
        new.parent.mkdir(parents=True, exist_ok=True)
        metrics.parent.rename(new)
        store.write_settings(new, settings)


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory):
    """Synthetic runs aggregated by Snakemake in report mode (two runs missing)."""
    work = tmp_path_factory.mktemp("wf")
    make_results(work, skip=("cnn_gru/keras/oh2018/fold1/seed1",))
    cfg = {
        "ucr_datasets": ["TwoLeadECG"], "experiments": EXPERIMENTS,
        "training": {"device": "cpu", "n_folds": N_FOLDS, "fold_seed": 0},
        "knn": {"variants": KNN_VARIANTS, "ks": list(range(1, 11))},
        "claims": {"missing_runs": "report"},
    }
    (work / "test.yaml").write_text(yaml.safe_dump(cfg))
    _to_store_layout(work, cfg)
    args = ("--configfile", "test.yaml", "--cores", "1")
    plan = snakemake(*args, "-n", "aggregate", "paper", cwd=work)
    # knn_table too: the report holds knn.csv and its figure (marked report())
    snakemake(*args, "aggregate", "paper", "knn_table", cwd=work)
    snakemake(*args, "--report", "results/report.html", cwd=work)
    return work, plan


@pytest.mark.slow
def test_snakemake_aggregates_what_exists_and_lists_the_rest(workflow_run):
    work, plan = workflow_run
    assert re.search(r"aggregate\s+1", plan) and re.search(r"paper\s+1", plan)
    stats = plan.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    # nothing is (re)trained or fetched (notes about rules' metadata may name them)
    assert not re.search(r"^(train|fetch_\w+|knn_(?:block|run|window\w*))\s+\d+\s*$", stats,
                         re.M), stats
    missing = (work / "results/tables/missing.csv").read_text()
    assert re.search(r"runs/mitdb/cnn_gru/keras/oh2018/fold1/seed1-[0-9a-f]{10},train,missing",
                     missing)
    claims = (work / "results/tables/claims.csv").read_text()
    assert claims.count("\nC") == 12  # C1-C11 and C3b
    assert (work / "results/paper/paper.html").is_file()


@pytest.mark.slow
@needs_chromium
def test_report_opens_in_a_browser_with_every_figure(workflow_run, tmp_path):
    work, _ = workflow_run
    seen = open_in_chromium(work / "results/report.html", tmp_path)
    assert seen["errors"] == [] and seen["broken"] == [] and seen["embedded_broken"] == []
    figures = {f"results/figures/{p.name}" for p in (work / "results/figures").glob("*.png")}
    # 5 + the k-NN one + the MIT-BIH pilot curves + C11's accuracy and CD diagram
    assert len(figures) == 9 and figures <= set(seen["embedded"])
    assert seen["text"] > 100  # the app rendered, not its loading screen


def test_class_table_counts_undefined_ppv_as_zero_like_the_macro(tmp_path):
    tables = tmp_path / "tables"
    tables.mkdir()
    rows = [{"model": "m", "framework": "torch", "protocol": "dechazal2004",
             "checkpoint": "last", "seed": s, "split": "ds2", "class": "A",
             "support": 10, "sensitivity": 0.0 if s else 0.5, "specificity": 1.0,
             "ppv": "" if s else 0.8, "f1": 0.0, "accuracy": 0.9,
             "ppv_undefined": 1 if s else 0} for s in (0, 1)]
    pd.DataFrame(rows).to_csv(tables / "mitdb_metrics.csv", index=False)
    text = Results(tables, tmp_path, {}, tmp_path).mitdb_class_table()
    # seed 1 never predicted A: PPV 0 in the mean (0.4), not skipped (0.8)
    assert "| 0.4000 |" in text and "0.8000" not in text
    assert "ppv undefined" in text.splitlines()[0]


def test_claims_are_counted_by_source_class(tmp_path):
    tables = tmp_path / "tables"
    tables.mkdir()
    pd.DataFrame({"claim_id": ["C1", "C2", "C9"], "source_class": ["blog", "paper",
                                                                   "implicit"],
                  "verdict_rests_on": ["training runs"] * 3}).to_csv(
        tables / "claims.csv", index=False)
    r = Results(tables, tmp_path, {}, tmp_path)
    assert r.source_counts() == {"paper": 1, "blog": 1, "implicit": 1, "project": 0}
    assert r.evidence_counts() == {"training runs": 3}
