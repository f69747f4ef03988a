"""Issue 12, "Finished work": bad inputs are named with what to do, and nothing finished
is removed because of them. One test (or group) per observed line:

1. a truncated prepared file: a message naming it (not a bare BadZipFile), and the
   finished runs survive a rerun that fails on it (Snakemake, train outputs update());
2. a truncated metrics.json: named in missing.csv with what to do, and the claims built
   on that run set say "incomplete" (column ``unreadable``, reason, Markdown verdict);
3. tables and figures: a figure failure leaves the tables; one framework, one seed, one
   epoch give non-empty panels; identical lines both show;
4. the report declares every table and figure the README lists, k-NN included;
5. stopping: tests/test_resume.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, snapshot_workflow
from ecgrepro.errors import DataError, EcgreproError

sys.path.insert(0, str(Path(__file__).parent))
import test_aggregate as ta  # noqa: E402  (the synthetic run directories)

BIN = Path(sys.executable).parent


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# -- 1. corrupt prepared files --------------------------------------------------------


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_truncated_prepared_ucr_file_is_named_with_what_to_do(tmp_path):
    from ecgrepro.data.ucr import UCRDataset, load_prepared, save_prepared

    X = np.zeros((4, 8))
    y = np.array(["1", "2", "1", "2"])
    path = tmp_path / "TwoLeadECG.npz"
    save_prepared(UCRDataset("TwoLeadECG", X, y, X, y, np.array(["1", "2"])), path)
    _truncate(path)
    with pytest.raises(DataError) as info:
        load_prepared(path)
    msg = str(info.value)
    assert str(path) in msg and "Delete it and rerun" in msg
    assert "truncated or damaged" in msg


def test_truncated_segments_file_is_named_with_what_to_do(tmp_path):
    from ecgrepro.data.segments import load_segments

    path = tmp_path / "segments.npz"
    np.savez(path, X=np.zeros((3, 4)), meta=json.dumps({"cfg": {}, "skipped": []}))
    _truncate(path, 0.3)
    with pytest.raises(DataError, match=re.escape(str(path))):
        load_segments(path)


def test_train_cli_reports_a_corrupt_prepared_file(tmp_path):
    bad = tmp_path / "TwoLeadECG.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    out = tmp_path / "run"
    res = subprocess.run(
        [sys.executable, "-m", "ecgrepro.cli", "train", "--data", str(bad), "--dataset",
         "TwoLeadECG", "--model", "lstm_fcn", "--model-json", "{}", "--framework", "torch",
         "--protocol", "blog2020", "--seed", "0", "--outdir", str(out)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO / "workflow")})
    assert res.returncode == 1
    assert str(bad) in res.stderr and "Delete it and rerun" in res.stderr
    assert "Traceback" not in res.stderr and not out.exists()


def test_train_rule_keeps_its_outputs_when_a_rerun_fails():
    """Snakemake deletes a job's outputs before it runs and after it fails, unless they
    are flagged update() (then it backs them up and restores them)."""
    smk = (REPO / "workflow/rules/train.smk").read_text()
    rule = smk.split("rule train:", 1)[1].split("\nrule ", 1)[0]
    outputs = rule.split("output:", 1)[1].split("log:", 1)[0]
    entries = [line.strip() for line in outputs.splitlines()
               if "=" in line and not line.strip().startswith("#")]
    assert entries and all("=update(" in e for e in entries), entries


@pytest.mark.slow
@pytest.mark.shared_data
def test_corrupt_prepared_file_never_deletes_finished_runs(tmp_path, shared_data):
    """Two finished runs, then the prepared file is truncated and the trainings rerun
    (mtime trigger or --forcerun): the jobs fail with a message naming the file, and
    both run directories are as they were."""
    code = snapshot_workflow(tmp_path / "code")
    work = tmp_path / "work"
    work.mkdir()
    (work / "c.yaml").write_text(
        "ucr_datasets: [TwoLeadECG]\nprotocols:\n  blog2020: {epochs: 1}\n"
        "experiments:\n  - datasets: [TwoLeadECG]\n    models: [lstm_fcn]\n"
        "    frameworks: [torch]\n    protocols: [blog2020]\n    seeds: 2\n")
    cmd = [str(BIN / "snakemake"), "-s", str(code / "Snakefile"), "--cores", "1",
           "train_all", "--configfile", str(code / "config/quick.yaml"),
           str(work / "c.yaml"), "--config", f"data_mirror={shared_data}"]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "OMP_NUM_THREADS": "1"}
    first = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True,
                           timeout=900)
    assert first.returncode == 0, (first.stdout + first.stderr)[-3000:]
    runs = sorted(p.parent for p in (work / "results/runs").rglob("metrics.json"))
    assert len(runs) == 2
    before = _digests(work / "results/runs")

    npz = work / "resources/prepared/ucr/TwoLeadECG.npz"
    _truncate(npz)
    again = subprocess.run(cmd + ["--forcerun", "train"], cwd=work, env=env,
                           capture_output=True, text=True, timeout=900)
    text = again.stdout + again.stderr
    assert again.returncode != 0, text[-3000:]
    assert "prepared data file is unreadable" in text and "TwoLeadECG.npz" in text, \
        text[-3000:]
    assert "Delete it and rerun" in text
    assert "BadZipFile" not in text.split("unreadable (", 1)[0]  # no bare traceback first
    assert _digests(work / "results/runs") == before, "a finished run was changed"
    assert not list((work / "results/runs").rglob("*.partial-*"))


# -- 2. unreadable run files -------------------------------------------------------------


@pytest.fixture(scope="module")
def truncated_metrics(tmp_path_factory):
    root = tmp_path_factory.mktemp("trunc")
    expected = ta.make_results(root)
    run = root / "results/runs/TwoLeadECG/lstm_fcn/torch/blog2020/test/seed1"
    metrics = run / "metrics.json"
    metrics.write_text(metrics.read_text()[:60])
    before = _digests(root / "results/runs")
    frames = ta._build(root, expected, draw=False)
    return root, run, frames, before


def test_truncated_metrics_is_named_with_what_to_do(truncated_metrics):
    root, run, frames, before = truncated_metrics
    missing = pd.read_csv(root / "results/tables/missing.csv")
    row = missing[missing["run"] == "runs/TwoLeadECG/lstm_fcn/torch/blog2020/test/seed1"]
    assert list(row["status"]) == ["unreadable"]
    reason = row["reason"].item()
    assert "seed1/metrics.json is unreadable" in reason
    assert "delete the run directory" in reason and "rerun" in reason
    assert str(root) not in reason  # tables hold relative names only
    assert _digests(root / "results/runs") == before  # nothing removed or rewritten
    assert (run / "metrics.json").is_file()


def test_claim_on_a_run_set_with_an_unreadable_run_says_incomplete(truncated_metrics):
    root, _, frames, _ = truncated_metrics
    claims = pd.read_csv(root / "results/tables/claims.csv").set_index("claim_id")
    c1 = claims.loc["C1"]  # blog2020 lstm_fcn torch/keras: 6 runs, one unreadable
    assert c1["unreadable"] == 1 and not c1["complete"]
    assert (c1["n_runs"], c1["n_expected"]) == (5, 6)
    assert c1["reason"].startswith("incomplete: 1 run(s) unreadable")
    assert "seed1/metrics.json is unreadable" in c1["reason"]
    md = (root / "results/tables/claims.md").read_text()
    line = next(x for x in md.splitlines() if x.startswith("| C1 "))
    assert "(incomplete)" in line
    others = claims[claims["unreadable"] == 0]
    assert not others["reason"].astype(str).str.startswith("incomplete").any()


@pytest.mark.parametrize("name, content", [
    ("predictions.csv", "checkpoint,case_id\n"),
    ("history.csv", ""),
    ("provenance.json", "[1, 2"),
])
def test_other_unreadable_run_files_are_named(tmp_path, name, content):
    expected = ta.make_results(tmp_path, skip=("mitdb", "knn"))
    run = tmp_path / "results/runs/TwoLeadECG/lstm_fcn/keras/karim2018/test/seed0"
    (run / name).write_text(content)
    from ecgrepro.aggregate.collect import collect

    col = collect([d for d in expected if "mitdb" not in d and "knn" not in d])
    bad = col.status[col.status["status"] == "unreadable"]
    assert list(bad["run"]) == ["runs/TwoLeadECG/lstm_fcn/keras/karim2018/test/seed0"]
    assert f"seed0/{name} is unreadable" in bad["reason"].item()
    assert (run / name).is_file()


# -- 3. tables before figures; figures for one framework / seed / epoch ---------------


def _small(root: Path, frameworks, seeds: int, epochs: int | None = None) -> list[str]:
    experiments = [
        {"datasets": [ta.UCR], "models": ["lstm_fcn"], "frameworks": frameworks,
         "protocols": ["blog2020"], "seeds": seeds},
        {"datasets": [ta.MITDB], "models": ["cnn_lstm"], "frameworks": frameworks,
         "protocols": ["oh2018", "dechazal2004"], "seeds": seeds},
    ]
    expected = [d for d in ta.expected_dirs(root, experiments) if "/knn/" not in d]
    for d in expected:
        run = ta.parse_run_dir(d)
        path = ta.write_train_run(root, (run.dataset, run.model, run.framework,
                                         run.protocol, run.split, run.seed))
        if epochs is not None:
            hist = pd.read_csv(path / "history.csv")
            hist.iloc[:epochs].to_csv(path / "history.csv", index=False)
    return expected


def _painted(png: Path) -> float:
    """Share of pixels that are not white (a panel with points or lines > 0)."""
    import matplotlib.image as mpimg

    img = mpimg.imread(png)[..., :3]
    return float((img.min(axis=2) < 0.9).mean())


def _panels_not_empty(png: Path, plot, data) -> None:
    """Draw with ``plot``; every visible panel holds lines or points, the PNG is not blank."""
    import matplotlib.pyplot as plt

    from ecgrepro.aggregate import figures

    captured = {}
    real_save = figures.save

    def spy(fig, png_path, pdf_path):
        axes = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
        captured["artists"] = [len(ax.lines) + len(ax.collections) for ax in axes]
        real_save(fig, png_path, pdf_path)

    figures.save = spy
    try:
        plot(data, png, png.with_suffix(".pdf"))
    finally:
        figures.save = real_save
        plt.close("all")
    assert captured["artists"], "no panel drawn"
    assert all(n > 0 for n in captured["artists"]), captured["artists"]
    assert _painted(png) > 0.01


@pytest.mark.parametrize("case", ["one framework", "one seed", "one epoch"])
def test_every_figure_draws_something_with_one_framework_seed_or_epoch(tmp_path, case):
    from ecgrepro.aggregate import figures
    from ecgrepro.aggregate.build import _histories, read_table

    frameworks = ["torch"] if case != "one seed" else ["torch", "keras"]
    seeds = 1 if case != "one framework" else 2
    expected = _small(tmp_path, frameworks, seeds, 1 if case == "one epoch" else None)
    ta.build(expected, benchmarks=None, scan_roots=[], claims_cfg=ta.CLAIMS, protocols={},
             tables_dir=tmp_path / "t", figures_dir=tmp_path / "f", draw=True,
             convergence_cfg=ta.CONVERGENCE)
    seeds_t = read_table(tmp_path / "t/seeds.csv")
    history = _histories(expected, read_table(tmp_path / "t/runs.csv"))
    confusion = read_table(tmp_path / "t/mitdb_confusion.csv")
    for name, plot, data in [("accuracy", figures.plot_accuracy, seeds_t),
                             ("curves", figures.plot_curves, history),
                             ("confusion", figures.plot_confusion, confusion),
                             ("intra", figures.plot_intra_inter, seeds_t)]:
        _panels_not_empty(tmp_path / f"{name}.png", plot, data)


def test_a_failing_figure_leaves_every_table(tmp_path, monkeypatch):
    from ecgrepro.aggregate import figures
    from ecgrepro.cli import main

    expected = _small(tmp_path, ["torch"], 1)
    claims = json.dumps(ta.CLAIMS)
    tables, figs = tmp_path / "results/tables", tmp_path / "results/figures"
    assert main(["aggregate", "--expected", *expected, "--claims-json", claims,
                 "--convergence-json", json.dumps(ta.CONVERGENCE),
                 "--tables", str(tables), "--no-figures", "--scan"]) == 0
    before = _digests(tables)

    def boom(*args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(figures, "plot_curves", boom)
    assert main(["figures", "--expected", *expected, "--tables", str(tables),
                 "--figures", str(figs)]) == 1
    assert _digests(tables) == before
    drawn = sorted(p.name for p in figs.iterdir())
    assert "accuracy_by_seed.png" in drawn and "intra_vs_inter.png" in drawn
    assert "training_curves.png" not in drawn


def test_aggregate_rule_holds_tables_and_figures_rule_the_figures():
    smk = (REPO / "workflow/rules/aggregate.smk").read_text()
    tables_rule, figures_rule = smk.split("\nrule figures:", 1)
    assert "results/figures/" not in tables_rule
    assert "results/tables/" not in figures_rule
    assert "rules.aggregate.output.seeds" in figures_rule
    paper = (REPO / "workflow/rules/paper.smk").read_text()
    assert "rules.figures.output" in paper


def test_identical_lines_both_show_and_are_named(tmp_path, monkeypatch):
    from ecgrepro.aggregate.knn import identical_variants, plot_knn

    rows = []
    for variant, acc in [("aeon-dtw", [0.9, 0.8]), ("sktime-dtw", [0.9, 0.8]),
                         ("euclidean", [0.7, 0.6])]:
        rows += [{"dataset": "TwoLeadECG", "variant": variant, "k": k, "accuracy": a}
                 for k, a in zip((1, 2), acc)]
    table = pd.DataFrame(rows)
    assert identical_variants(table) == [["aeon-dtw", "sktime-dtw"]]
    import matplotlib.pyplot as plt

    import ecgrepro.aggregate.knn as knn

    seen = {}
    real = knn.save

    def spy(fig, png, pdf):
        ax = fig.axes[0]
        seen["widths"] = sorted(line.get_linewidth() for line in ax.get_lines()
                                if len(line.get_xdata()) == 2)
        seen["texts"] = [t.get_text() for t in ax.texts]
        real(fig, png, pdf)

    monkeypatch.setattr(knn, "save", spy)
    try:
        plot_knn(table, tmp_path / "k.png", tmp_path / "k.pdf")
    finally:
        plt.close("all")
    assert seen["widths"][-1] > 1.5 * seen["widths"][0]  # the lower one is wider
    assert any("aeon-dtw = sktime-dtw" in t for t in seen["texts"])


def test_figures_carry_no_date_or_version(tmp_path):
    from ecgrepro.aggregate import figures

    expected = _small(tmp_path, ["torch"], 1)
    frames = ta.build(expected, benchmarks=None, scan_roots=[], claims_cfg=ta.CLAIMS,
                      protocols={}, tables_dir=tmp_path / "t", figures_dir=tmp_path / "f",
                      draw=False, convergence_cfg=ta.CONVERGENCE)
    figures.plot_accuracy(frames["seeds"], tmp_path / "a.png", tmp_path / "a.pdf")
    png, pdf = (tmp_path / "a.png").read_bytes(), (tmp_path / "a.pdf").read_bytes()
    assert b"matplotlib" not in png.lower() and b"CreationDate" not in pdf
    assert b"matplotlib" not in pdf.lower()


# -- 4. the report --------------------------------------------------------------------


def test_report_declares_every_table_and_figure_the_readme_lists():
    from ecgrepro.aggregate import outputs

    readme = (REPO / "README.md").read_text()
    row = next(x for x in readme.splitlines() if x.startswith("| `results/tables/` |"))
    tables = set(re.findall(r"`([\w]+\.csv)`", row))
    assert {"knn.csv", "runs.csv", "claims.csv", "missing.csv"} <= tables
    figures = {f"{f}.png" for f in outputs.FIGURES} | {"knn_accuracy_vs_k.png"}
    assert "k-NN accuracy vs k" in readme  # the README's figures row names it
    reported = set()
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        reported |= set(re.findall(
            r'report\(\s*"results/(?:tables|figures)/([^"]+)"', smk.read_text()))
    assert tables | figures <= reported, sorted((tables | figures) - reported)


def test_report_captions_exist():
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        for caption in re.findall(r'caption="\.\./report/([^"]+)"', smk.read_text()):
            assert (REPO / "workflow/report" / caption).is_file(), (smk.name, caption)


def test_errors_are_ecgrepro_errors():
    assert issubclass(DataError, EcgreproError)
