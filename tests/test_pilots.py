"""The MIT-BIH pilot curves behind the presets, and the presets they justify."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO
from ecgrepro import store
from ecgrepro.aggregate.pilots import MANIFEST, patience_stop, plot_pilots, read_pilots
from ecgrepro.convergence import assess
from ecgrepro.training import get_protocol

PILOTS = REPO / "results/reference/pilots"
CONFIG = yaml.safe_load((REPO / "config/config.yaml").read_text())


def test_pilots_are_committed_with_how_they_were_made():
    manifest = json.loads((PILOTS / MANIFEST).read_text())
    pilots = read_pilots(PILOTS)
    assert {p["file"] for p in manifest["pilots"]} == {f.name for f in PILOTS.glob("*.csv")}
    splits = {(p["protocol"], p["split"]) for p in manifest["pilots"]
              if p["schedule"] == "constant lr"}
    assert splits == {("oh2018", "fold0"), ("oh2018", "fold1"), ("dechazal2004", "ds2")}
    for p in manifest["pilots"]:
        h = pilots[pilots["schedule"].eq(p["schedule"])
                   & pilots["panel"].eq(f"{p['protocol']} {p['split']}")]
        assert len(h) == p["epochs_run"] and p["model"] == "cnn_lstm" and p["seed"] == 0
        assert p["cut_short"] == (p["epochs_run"] < p["epochs_cap"] and not p["stopped_early"])
        assert p["git"]["commit"] and p["config_file"].startswith("config/pilots")
    # the constant-rate pilots ran without early stopping or a schedule
    const = pilots[pilots["schedule"] == "constant lr"]
    assert const.groupby("panel")["lr"].nunique().eq(1).all()


def test_patience_stop_is_the_early_stopping_rule():
    val = [1.0, 0.9, 0.95, 0.96, 0.97, 0.8, 0.85]
    assert patience_stop(val, 3) == 5 and patience_stop(val, 4) is None
    assert patience_stop(val, 1, start_epoch=5) == 7  # epoch 6 is the best after warm-up
    assert patience_stop(val, 1) == 3


def test_the_presets_wait_out_the_pilots_noise():
    # At a constant rate the pilots' validation loss went longer without a new best than
    # the old patience of 10 while still falling: each such stop lost a lower loss later.
    pilots = read_pilots(PILOTS)
    oh = get_protocol("oh2018")
    for panel, h in pilots[pilots["schedule"] == "constant lr"].groupby("panel"):
        stop = patience_stop(h["val_loss"], 10, oh.early_stopping_start_epoch)
        assert stop is not None, panel
        assert h["val_loss"].iloc[stop:].min() < 0.9 * h["val_loss"].iloc[:stop].min(), panel
    # the presets: a schedule on the validation loss, a patience that outlasts two of its
    # reductions, a cap the pilots' runs with it did not reach; config mirrors presets
    for name in ("oh2018", "dechazal2004"):
        p = get_protocol(name)
        assert p.plateau_monitor == "val_loss" and p.plateau_factor == 0.5
        assert p.early_stopping_patience >= 2 * p.plateau_patience + 10
        cfg = CONFIG["protocols"][name]
        assert all(getattr(p, k) == pytest.approx(v) if isinstance(v, float)
                   else getattr(p, k) == v for k, v in cfg.items()
                   if k != "validation_records")
    chosen = pilots[pilots["schedule"] == "chosen preset"]
    assert len(chosen) and (chosen.groupby("panel")["epoch"].max()
                            < get_protocol("oh2018").epochs).all()


def test_the_pilots_judged_by_the_convergence_rule():
    # What the rule makes of the pilots (a regression check of rule and data together):
    # constant rate, no early stopping: every training loss still falls at the cap. The
    # chosen preset stops both splits early, far below the cap, each after the schedule
    # halved the rate twice without a new validation best (converged). oh2018 fold 0 is
    # converged by that route alone: its training loss still fell ~9% over its last 31
    # epochs and the fitted validation trend over its last half (the descent before its
    # best epoch 123 included) still falls.
    pilots = read_pilots(PILOTS)
    manifest = {(p["protocol"], p["split"], p["schedule"]): p
                for p in json.loads((PILOTS / MANIFEST).read_text())["pilots"]}
    verdicts, judged = {}, {}
    for (panel, schedule), h in pilots.groupby(["panel", "schedule"]):
        protocol, split = panel.split()
        p = manifest[(protocol, split, schedule)]
        if p["cut_short"]:  # ended by the clock, not by its protocol: nothing to judge
            continue
        h = h.assign(stopped_early=[False] * (len(h) - 1) + [p["stopped_early"]])
        judged[(panel, schedule)] = a = assess(h, CONFIG["convergence"])
        verdicts[(panel, schedule)] = a["converged"]
    fold0 = judged[("oh2018 fold0", "chosen preset")]
    assert fold0["lr_reductions_after_best"] == 2 and fold0["lr_reduced"]
    assert not fold0["val_levelled"] and fold0["rel_improvement"] > 0.01
    assert judged[("dechazal2004 ds2", "chosen preset")]["lr_reductions_after_best"] == 2
    assert all(a["lr_reductions_after_best"] == 0 for (_, schedule), a in judged.items()
               if schedule == "constant lr")
    assert verdicts == {
        ("dechazal2004 ds2", "constant lr"): False, ("oh2018 fold0", "constant lr"): False,
        ("oh2018 fold1", "constant lr"): False, ("dechazal2004 ds2", "chosen preset"): True,
        ("oh2018 fold0", "chosen preset"): True}


def test_reference_config_still_names_the_v1_runs():
    # The presets gained a schedule; config/reference.yaml undoes it so the committed v1
    # MIT-BIH runs (20 epochs, no schedule) keep their digests.
    from snakemake.utils import update_config

    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    update_config(cfg, yaml.safe_load((REPO / "config/reference.yaml").read_text()))
    runs = sorted((REPO / "results/reference/runs/mitdb").glob("*/*/*/*/seed*-*"))
    assert runs
    for run in runs:
        model, framework, protocol, split = run.parts[-5:-1]
        seed = int(run.name.split("-")[0].removeprefix("seed"))
        s = store.train_settings(cfg, "mitdb", model, framework, protocol, split, seed)
        assert store.digest(s) == run.name.split("-")[1], run


def test_pilot_figure_is_drawn(tmp_path):
    plot_pilots(read_pilots(PILOTS), tmp_path / "p.png", tmp_path / "p.pdf")
    assert (tmp_path / "p.png").stat().st_size > 0 and (tmp_path / "p.pdf").stat().st_size > 0
    short = read_pilots(PILOTS).assign(cut_short=True)  # a cut pilot says so in its title
    plot_pilots(short.head(50), tmp_path / "s.png", tmp_path / "s.pdf")
    assert np.isfinite(pd.read_csv(PILOTS / "constant-lr_oh2018_fold0.csv")["val_loss"]).all()
