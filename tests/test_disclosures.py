"""The paper discloses from the run files: changed trees, runs cut short, device and
threads, training budget, MIT-BIH caveats, excluded records, the provenance line
(ecgrepro.aggregate.disclosure, paper_disclosures)."""

import json

import pandas as pd

from ecgrepro.aggregate.disclosure import disclosure_table, excluded_records
from ecgrepro.aggregate.paper_views import Results
from ecgrepro.store import parse_run_dir

CLAIMS_ITEMS = {"C7": {"rule": "value", "dataset": "mitdb", "model": "cnn_lstm",
                       "protocol": "oh2018"}}


def _run(root, seed, *, dirty, epochs, diff=""):
    path = root / f"runs/mitdb/cnn_lstm/torch/oh2018/fold0/seed{seed}"
    path.mkdir(parents=True)
    (path / "provenance.json").write_text(json.dumps({
        "timestamp_utc": "2026-01-01T00:00:00+00:00",
        "git": {"commit": "c" * 40, "dirty": dirty, "diff_sha256": diff},
        "extra": {"threads": 1}}))
    (path / "metrics.json").write_text(json.dumps({
        "epochs": epochs, "n_train": 130, "device": "cpu",
        # v1 runs wrote the protocol's repr, newer ones a mapping: both are read
        "protocol_params": "{'batch_size': 64}" if seed else {"batch_size": 64}}))
    return parse_run_dir(path)


def test_disclosure_table_reads_the_run_files(tmp_path):
    runs = [_run(tmp_path, 0, dirty=True, epochs=20), _run(tmp_path, 1, dirty=False,
                                                           epochs=100)]
    table = disclosure_table(runs, {"oh2018": {"epochs": 100}})
    assert table["dirty"].tolist() == [True, False]
    assert table["epochs_trained"].tolist() == [20, 100]
    assert table["epochs_default"].tolist() == [100, 100]
    assert table["steps"].tolist() == [3 * 20, 3 * 100]  # ceil(130 / 64) batches an epoch
    assert table["threads"].tolist() == [1, 1] and set(table["device"]) == {"cpu"}


def test_excluded_records_are_those_without_segments(tmp_path):
    (tmp_path / "records.csv").write_text("record,leads\n100,MLII+V5\n102,V5+V2\n")
    (tmp_path / "segments_by_record.csv").write_text("record,N\n100,3\n")
    assert excluded_records(tmp_path).values.tolist() == [["102", "V5+V2"]]
    assert excluded_records(tmp_path / "absent").empty


def _tables(tmp_path, disclosures, claims_changed="", timing=True):
    t = tmp_path / "tables"
    t.mkdir()
    disclosures.to_csv(t / "disclosures.csv", index=False)
    pd.DataFrame({"claim_id": ["C7"], "verdict": ["not reproduced"],
                  "rules_changed_after_runs": [claims_changed]}).to_csv(t / "claims.csv",
                                                                        index=False)
    pd.DataFrame({"run": disclosures["run"], "commit": disclosures["commit"]}).to_csv(
        t / "runs.csv", index=False)
    pd.DataFrame({"threads": [1, 1], "rounds_kept": [30, 30]} if timing else
                 {"threads": [], "rounds_kept": []}).to_csv(t / "timing.csv", index=False)
    pd.DataFrame({"record": ["102"], "leads": ["V5+V2"]}).to_csv(t / "mitdb_excluded.csv",
                                                                index=False)
    config = {"claims": {"items": CLAIMS_ITEMS}}
    return Results(t, tmp_path, config, tmp_path)


def test_paper_views_disclose_dirty_short_device_and_scope(tmp_path):
    runs = [_run(tmp_path, 0, dirty=True, epochs=20), _run(tmp_path, 1, dirty=False,
                                                           epochs=100)]
    r = _tables(tmp_path, disclosure_table(runs, {"oh2018": {"epochs": 100}}),
                claims_changed="abc 2026-01-02")
    assert r.dirty_text().startswith("1 of 2 training runs were made from a working tree")
    assert "For 1 of them no digest" in r.dirty_text()
    assert "1 oh2018 runs (cnn_lstm; torch) trained 20 epochs where the default " \
           "configuration allows 100" in r.cut_short_text()
    assert r.cut_short_text("TwoLeadECG").startswith("No run")
    assert "cpu (2 runs)" in r.device_text()
    assert "alternated over 15 rounds (30 timed calls kept)" in r.device_text()
    assert r.claim_scope() == "C7 rests on 2 seeds in torch only"
    assert r.rules_changed_claims() == ["C7"]
    assert "code itself was not recorded" in r.code_line()
    assert r.code_line().startswith("runs from commits cccccccccc (2 runs)")
    assert "102 (leads V5+V2)" in r.excluded_records_text()
    assert "| 130" in r.budget_table() and "| 60-300" in r.budget_table()


def test_clean_runs_say_so(tmp_path):
    r = _tables(tmp_path, disclosure_table([_run(tmp_path, 0, dirty=False, epochs=100)],
                                           {"oh2018": {"epochs": 100}}))
    assert r.dirty_text().startswith("Every run was made from a clean working tree")
    assert r.cut_short_text().startswith("No run trained fewer epochs")
    assert r.rules_changed_claims() == []


def test_one_run_prints_no_nan_spread_and_rounds_are_rounds():
    from test_aggregate import _claim, _seeds

    from ecgrepro.aggregate.claim_timing import _ratio_text
    from ecgrepro.aggregate.claims import evaluate_claims

    cfg = _claim(published={"accuracy": {"value": 0.9, "decimals": 2}})
    row = evaluate_claims(_seeds([0.9]), pd.DataFrame(), None, cfg).iloc[0]
    assert row["measured"] == "accuracy 0.9000 (one run)"
    text = _ratio_text(pd.Series({"ratio": 1.2, "ratio_low": 1.1, "ratio_high": 1.3,
                                  "median_num_s": 2.0, "median_den_s": 1.0, "threads": 1,
                                  "rounds_kept": 30}))
    assert "30 timed calls kept: 2 arms alternated over 15 rounds" in text


def test_the_equivalence_bounds_read_as_the_table_stores_them():
    # 0.1486497 is stored as 0.148650 (6 decimals), which prints 0.1487: the reason too
    from ecgrepro.aggregate.claim_base import f
    from ecgrepro.aggregate.write import DECIMALS

    table = f(float(f"{0.1486497:.{DECIMALS}f}"))
    assert f(round(0.1486497, DECIMALS)) == table == "0.1487"


def test_provenance_line_names_code_digests_when_runs_recorded_them(tmp_path):
    r = _tables(tmp_path, disclosure_table([_run(tmp_path, 0, dirty=False, epochs=100),
                                            _run(tmp_path, 1, dirty=False, epochs=100)],
                                           {}))
    runs = pd.read_csv(r.tables / "runs.csv").assign(code_digest=["d" * 64, ""])
    runs.to_csv(r.tables / "runs.csv", index=False)
    r._cache.clear()
    assert r.code_line() == ("runs from commits cccccccccc (2 runs); code digests "
                             "dddddddddd; 1 runs without one")
