"""Training protocols, the shared loop's bookkeeping, determinism and run files."""

import json
import math
import os

os.environ["KERAS_BACKEND"] = "tensorflow"  # explicit, before keras is imported
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd
import pytest

from ecgrepro.data.ucr import UCRDataset
from ecgrepro.errors import EcgreproError
from ecgrepro.models.lstm_fcn import LSTMFCNArch
from ecgrepro.training import (
    PRESETS,
    RunResult,
    TrainingDivergedError,
    get_protocol,
    write_run_dir,
)
from ecgrepro.data.splits import SplitDataset, carve_validation
from ecgrepro.training.common import (
    EarlyStopping,
    PlateauSchedule,
    balanced_class_weights,
    derive_seeds,
    prepare_inputs,
    select_epochs,
    z_normalise,
)
from ecgrepro.training.loop import prepare_run, run_protocol

QUIET = {"log": lambda msg: None}
# Keras 3.15 with numpy 2.3 warns inside its own tensor-to-numpy conversion.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)
TIMING = ["seconds", "eval_seconds"]


@pytest.fixture(scope="module")
def tiny():
    """20 training and 12 test series of length 30, two classes, imbalanced training set."""
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 30)

    def draw(y):
        return np.sin(2 * np.pi * (2 + y[:, None]) * t) + 0.3 * rng.normal(size=(len(y), 30))

    y_train = np.r_[np.zeros(13, int), np.ones(7, int)]
    y_test = np.r_[np.zeros(6, int), np.ones(6, int)]
    return UCRDataset("Tiny", draw(y_train), y_train, draw(y_test), y_test, np.array(["1", "2"]))


@pytest.fixture(scope="module")
def arch():
    return LSTMFCNArch.test_params(length=30)


# --- protocols and helpers (no framework) -------------------------------------------


def test_presets_hold_the_published_protocols():
    k, b = PRESETS["karim2018"], PRESETS["blog2020"]
    assert (k.epochs, k.batch_size, k.learning_rate) == (2000, 128, 1e-3)
    assert k.plateau_factor == pytest.approx(2 ** (-1 / 3))
    assert (k.plateau_patience, k.plateau_min_lr) == (100, 1e-4)
    assert (k.class_weight, k.checkpoint, k.z_normalise) == ("balanced", "min_train_loss", True)
    assert (b.epochs, b.batch_size, b.checkpoint) == (50, 128, "best_test")
    assert b.loss == "binary_crossentropy" and b.class_weight is None
    assert b.selects_on_test and not k.selects_on_test
    assert get_protocol("karim2018", epochs=3).epochs == 3
    with pytest.raises(ValueError):
        get_protocol("karim2018", checkpoint="best_test", test_every=0)


def test_balanced_class_weights_match_sklearn():
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array([0] * 13 + [1] * 7 + [2] * 3)
    ours = balanced_class_weights(y, 3)
    np.testing.assert_allclose(ours, compute_class_weight("balanced", classes=np.arange(3), y=y))
    with pytest.raises(EcgreproError):
        balanced_class_weights(np.array([0, 0, 2]), 3)


def test_z_normalise_and_binary_loss_fallback(tiny):
    z = z_normalise(3 + 5 * tiny.X_train)
    np.testing.assert_allclose(z.mean(axis=1), 0, atol=1e-9)
    np.testing.assert_allclose(z.std(axis=1), 1, atol=1e-6)
    three = UCRDataset("Three", tiny.X_train, tiny.y_train % 3, tiny.X_test, tiny.y_test,
                       np.array(["a", "b", "c"]))
    assert prepare_inputs(three, PRESETS["blog2020"]).loss == "categorical_crossentropy"
    assert prepare_inputs(tiny, PRESETS["blog2020"]).loss == "binary_crossentropy"


def test_non_finite_input_is_refused(tiny, arch):
    X = tiny.X_train.copy()
    X[3, 5] = np.nan
    bad = UCRDataset("Holes", X, tiny.y_train, tiny.X_test, tiny.y_test, tiny.classes)
    with pytest.raises(EcgreproError, match="Holes: 1 train series"):
        prepare_run(bad, arch, "blog2020", 0)


def test_derive_seeds_is_stable_and_splits_streams():
    a, b = derive_seeds(7), derive_seeds(7)
    assert a == b and a["framework_seed"] != a["shuffle_seed"]
    assert derive_seeds(8)["framework_seed"] != a["framework_seed"]


def test_select_epochs_on_a_synthetic_history():
    history = pd.DataFrame({
        "epoch": [1, 2, 3, 4, 5, 6, 7],
        "loss": [1.0, 0.5, 0.5, 0.7, 0.4, 0.4, 0.6],
        "test_accuracy": [0.5, 0.8, np.nan, 0.9, 0.9, 0.95, 0.7],
    })
    # Ties keep the earliest epoch (Keras's strict comparison); NaN (no test) is skipped.
    assert select_epochs(history) == {"last": 7, "min_train_loss": 5, "best_test": 6,
                                      "best_val": None}
    history["test_accuracy"] = np.nan
    assert select_epochs(history)["best_test"] is None
    history["val_loss"] = [0.9, 0.8, 0.8, 0.75, 0.7, 0.9, 0.71]
    assert select_epochs(history)["best_val"] == 5
    assert select_epochs(history, val_min_delta=0.06)["best_val"] == 5  # 0.7 < 0.8 - 0.06
    assert select_epochs(history, val_min_delta=0.25)["best_val"] == 1


def test_plateau_schedule_matches_keras_callback():
    """Same learning rates as keras.callbacks.ReduceLROnPlateau on one loss sequence."""
    keras = pytest.importorskip("keras")
    from types import SimpleNamespace

    factor, patience, min_lr = 2 ** (-1 / 3), 3, 4e-4
    rng = np.random.default_rng(3)
    losses = np.r_[np.linspace(1, 0.5, 5), 0.5 + 5e-5 * rng.normal(size=40), 0.3, np.full(30, 0.31)]
    callback = keras.callbacks.ReduceLROnPlateau(
        monitor="loss", mode="min", factor=factor, patience=patience, min_lr=min_lr
    )
    callback.set_model(SimpleNamespace(optimizer=keras.optimizers.Adam(learning_rate=1e-3)))
    callback.on_train_begin()
    ours, lr = PlateauSchedule(factor, patience, min_lr), float(np.float32(1e-3))
    for epoch, loss in enumerate(losses):
        callback.on_epoch_end(epoch, {"loss": float(loss)})
        lr = ours.step(float(loss), lr)
        assert lr == float(keras.ops.convert_to_numpy(callback.model.optimizer.learning_rate))
    assert lr == float(np.float32(min_lr))  # the sequence reaches the floor


def test_early_stopping_matches_keras_callback():
    """Same stop epoch and best epoch as keras.callbacks.EarlyStopping on one sequence."""
    keras = pytest.importorskip("keras")
    from types import SimpleNamespace

    rng = np.random.default_rng(5)
    for patience, delta, start in [(3, 0.0, 0), (5, 0.0, 0), (4, 0.01, 0), (3, 0.0, 8)]:
        losses = np.r_[np.linspace(1, 0.5, 6), 0.5 + 0.02 * rng.normal(size=40)]
        callback = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                                 min_delta=delta, restore_best_weights=True,
                                                 start_from_epoch=start)
        callback.set_model(SimpleNamespace(stop_training=False, get_weights=lambda: [],
                                           set_weights=lambda w: None))
        callback.on_train_begin()
        ours, stopped_ours = EarlyStopping(patience, delta, start), None
        for epoch, loss in enumerate(losses):  # Keras counts epochs from 0
            callback.on_epoch_end(epoch, {"val_loss": float(loss)})
            if ours.step(epoch + 1, float(loss)) and stopped_ours is None:
                stopped_ours = epoch + 1
            if callback.model.stop_training:
                break
        assert stopped_ours == callback.stopped_epoch + 1
        assert ours.best_epoch == callback.best_epoch + 1 > start
        h = pd.DataFrame({"epoch": np.arange(1, stopped_ours + 1), "loss": 1.0,
                          "val_loss": losses[:stopped_ours]})
        assert select_epochs(h, delta, start)["best_val"] == ours.best_epoch


def test_protocol_description_follows_the_settings():
    oh = get_protocol("oh2018", epochs=20, early_stopping_patience=4)
    assert "At most 20 epochs" in oh.description and "for 4 epochs" in oh.description
    assert "30" not in oh.description and oh.to_dict()["description"] == oh.description
    assert "ReduceLROnPlateau on the validation loss (factor 0.5, patience 10" in oh.description
    plain = get_protocol("oh2018", early_stopping_patience=None, validation_fraction=None,
                         checkpoint="last", plateau_factor=None)
    assert "400 epochs, no early stopping" in plain.description
    with pytest.raises(ValueError, match="plateau_monitor='val_loss' needs a validation"):
        get_protocol("oh2018", early_stopping_patience=None, validation_fraction=None,
                     checkpoint="last")
    dc = get_protocol("dechazal2004", validation_records=[109, 124])
    assert dc.validation_records == ("109", "124") and "109, 124" in dc.description
    with pytest.raises(KeyError, match="derived from the settings"):
        get_protocol("oh2018", description="30 epochs")
    with pytest.raises(ValueError, match="needs a validation part"):
        get_protocol("karim2018", early_stopping_patience=5)
    with pytest.raises(ValueError, match="needs a validation part"):
        get_protocol("karim2018", checkpoint="best_val")


def test_config_schema_knows_every_protocol_field():
    import dataclasses
    from pathlib import Path

    import yaml

    from ecgrepro.training import Protocol

    schema = yaml.safe_load((Path(__file__).parents[1] / "workflow/schemas/config.schema.yaml")
                            .read_text())
    fields = schema["properties"]["protocols"]["additionalProperties"]["properties"]
    assert set(fields) == {f.name for f in dataclasses.fields(Protocol)} - {"name"}


# --- the shared loop with a fake framework ------------------------------------------


class FakeAdapter:
    """Deterministic stand-in: state is the number of steps; losses follow a script."""

    framework, device = "fake", "cpu"

    def __init__(self, losses, n_classes=2):
        self.losses, self.steps, self.lr, self.n_classes = list(losses), 0, None, n_classes
        self.lrs_seen = []

    def train_batch(self, x, y, w):
        self.steps += 1
        self.lrs_seen.append(self.lr)
        return self.losses[self.steps - 1], 0.5

    def predict_proba(self, x):
        # Accuracy changes with the state, so every checkpoint predicts differently.
        rng = np.random.default_rng(self.steps)
        p = rng.uniform(size=(len(x), self.n_classes))
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)

    def get_state(self):
        return self.steps

    def set_state(self, state):
        self.steps = state

    def get_lr(self):
        return self.lr

    def set_lr(self, lr):
        self.lr = lr

    def param_counts(self):
        return {"total": 1, "trainable": 1, "non_trainable": 0}


def _run_fake(tiny, arch, losses, protocol="karim2018", **overrides):
    protocol, inputs, seeds = prepare_run(tiny, arch, get_protocol(protocol, **overrides), 0)
    adapter = FakeAdapter(losses)
    result = run_protocol(adapter, inputs, protocol, dataset=tiny, arch=arch, seeds=seeds,
                          determinism={}, **QUIET)
    return result, adapter


def test_checkpoint_rules_predict_from_their_epochs(tiny, arch):
    losses = [0.9, 0.5, 0.6, 0.4, 0.45, 0.7]
    result, _ = _run_fake(tiny, arch, losses, epochs=6)
    h = result.history.set_index("epoch")
    m = result.metrics
    assert m["epoch_last"] == 6 and m["epoch_min_train_loss"] == 4
    assert m["epoch_best_test"] == select_epochs(result.history)["best_test"]
    for rule in ("last", "min_train_loss", "best_test"):
        assert m[f"accuracy_{rule}"] == h.loc[m[f"epoch_{rule}"], "test_accuracy"]
    assert m["accuracy"] == m["accuracy_min_train_loss"] and not m["test_set_selection"]
    assert set(result.predictions["checkpoint"]) == {"last", "min_train_loss", "best_test"}


def test_test_set_never_drives_the_schedule(tiny, arch):
    """karim2018: the LR sequence is the same with and without test evaluation."""
    losses = [1.0] + [0.99995] * 9
    kw = dict(epochs=10, plateau_patience=2, plateau_min_lr=1e-4)
    with_test, a = _run_fake(tiny, arch, losses, **kw)
    without, b = _run_fake(tiny, arch, losses, test_every=0, **kw)
    assert a.lrs_seen == b.lrs_seen and a.lrs_seen[-1] < a.lrs_seen[0]
    assert with_test.metrics["epoch_min_train_loss"] == without.metrics["epoch_min_train_loss"]
    assert without.metrics["accuracy_best_test"] is None
    assert without.history["test_accuracy"].isna().all()


def _expected_stop(val_losses, patience):
    best, wait = math.inf, 0
    for epoch, v in enumerate(val_losses, 1):
        wait += 1
        if v < best:
            best, wait = v, 0
        elif wait >= patience:
            return epoch
    return None


def test_loop_stops_early_and_restores_the_best_validation_epoch(tiny, arch):
    kw = dict(epochs=40, early_stopping_patience=3, early_stopping_start_epoch=0,
              batch_size=10)
    proto = get_protocol("oh2018", **kw)
    data = carve_validation(tiny, proto, seed=0, test_records=[f"r{i % 3}" for i in range(12)])
    assert len(data.y_val) == 2 and len(data.y_train) == 18
    result, adapter = _run_fake(data, arch, [0.5] * 200, protocol="oh2018", **kw)
    h, m = result.history, result.metrics
    assert list(h.columns[-3:]) == ["val_loss", "val_accuracy", "stopped_early"]
    stop = _expected_stop(h["val_loss"].tolist(), 3)
    assert stop is not None and len(h) == stop < 40  # the fake's val losses are random
    assert h["stopped_early"].tolist() == [False] * (stop - 1) + [True]
    best = int(h["epoch"][h["val_loss"].idxmin()])
    es = m["early_stopping"]
    assert es == dict(es, monitor="val_loss", patience=3, max_epochs=40, best_epoch=best,
                      stopped_epoch=stop, stopped_early=True, restored="best_val", n_val=2)
    assert es["validation"].startswith("10% of each training split")
    assert m["checkpoint_rule"] == "best_val" and m["epoch_best_val"] == best
    assert m["epochs"] == 40 and m["epochs_run"] == stop
    assert adapter.steps == 2 * best  # restored: two batches per epoch
    # the reported predictions come from the best epoch's weights
    best_preds = result.predictions.query("checkpoint == 'best_val'")
    assert m["accuracy"] == m["accuracy_best_val"] == pytest.approx(
        np.mean(best_preds["y_true"] == best_preds["y_pred"]))
    assert best_preds["record"].tolist() == [f"r{i % 3}" for i in range(12)]
    assert list(best_preds.columns[:5]) == ["checkpoint", "case_id", "record", "y_true",
                                            "y_pred"]


def test_warm_up_epochs_are_not_monitored(tiny, arch):
    data = carve_validation(tiny, get_protocol("oh2018"), seed=0)
    kw = dict(epochs=40, early_stopping_patience=2, early_stopping_start_epoch=6,
              batch_size=10)
    result, _ = _run_fake(data, arch, [0.5] * 200, protocol="oh2018", **kw)
    h, es = result.history, result.metrics["early_stopping"]
    assert es["best_epoch"] == int(h["epoch"][h["val_loss"].iloc[6:].idxmin()]) > 6
    assert len(h) >= 8 and es["start_epoch"] == 6
    # a run that ends inside its warm-up reports its last epoch
    short, _ = _run_fake(data, arch, [0.5] * 200, protocol="oh2018", **dict(kw, epochs=4))
    assert short.metrics["epoch_best_val"] == 4 and not short.metrics["early_stopping"][
        "stopped_early"]
    assert short.metrics["accuracy_best_val"] == short.metrics["accuracy_last"]


def _replayed_lrs(history, warm_up):
    schedule, lr, expected = PlateauSchedule(0.5, 2, 1e-5, 1e-4), float(np.float32(1e-3)), []
    for epoch, val in zip(history["epoch"], history["val_loss"]):
        expected.append(lr)
        if epoch > warm_up:
            lr = schedule.step(val, lr)
    return expected


def test_plateau_schedule_on_the_validation_loss_after_the_warm_up(tiny, arch):
    """oh2018/dechazal2004: ReduceLROnPlateau watches the validation loss, not the
    training loss, and sits out early stopping's warm-up."""
    kw = dict(epochs=30, early_stopping_patience=1000, early_stopping_start_epoch=5,
              plateau_patience=2, batch_size=10)
    data = carve_validation(tiny, get_protocol("oh2018", **kw), seed=0)
    falling = list(np.linspace(1.0, 0.1, 200))  # the training loss never plateaus
    result, _ = _run_fake(data, arch, falling, protocol="oh2018", **kw)
    h = result.history
    assert h["lr"].tolist() == pytest.approx(_replayed_lrs(h, warm_up=5))
    assert h["lr"].iloc[-1] < h["lr"].iloc[0] and h["lr"].iloc[:7].nunique() == 1
    # without early stopping there is no warm-up (nor one in the run's identity)
    free, _ = _run_fake(data, arch, falling, protocol="oh2018",
                        **dict(kw, early_stopping_patience=None))
    assert free.history["lr"].tolist() == pytest.approx(_replayed_lrs(free.history, 0))
    # the same run watching the falling training loss never lowers the rate
    on_loss, _ = _run_fake(data, arch, falling, protocol="oh2018",
                           **dict(kw, plateau_monitor="loss"))
    assert on_loss.history["lr"].nunique() == 1


def test_validation_without_early_stopping_and_without_a_part(tiny, arch):
    proto = get_protocol("oh2018", epochs=4, early_stopping_patience=None)
    result, _ = _run_fake(carve_validation(tiny, proto, seed=0), arch, [0.5] * 20,
                          protocol="oh2018", epochs=4, early_stopping_patience=None)
    assert len(result.history) == 4 and result.metrics["early_stopping"] is None
    assert "stopped_early" not in result.history and result.history["val_loss"].notna().all()
    assert "record" not in result.predictions
    with pytest.raises(EcgreproError, match="needs a validation part"):
        _run_fake(tiny, arch, [0.5] * 20, protocol="oh2018", epochs=4)


def test_nan_loss_stops_with_history(tiny, arch):
    with pytest.raises(TrainingDivergedError) as info:
        _run_fake(tiny, arch, [0.7, 0.6, math.nan, 0.5], epochs=4)
    err = info.value
    assert isinstance(err, EcgreproError) and err.epoch == 3
    assert "Tiny" in str(err) and "epoch 3" in str(err)
    assert err.history["epoch"].tolist() == [1, 2, 3] and np.isnan(err.history["loss"].iloc[-1])


def test_write_run_dir(tmp_path, tiny, arch):
    result, _ = _run_fake(tiny, arch, [0.9, 0.5, 0.6], epochs=3)
    assert isinstance(result, RunResult)
    paths = write_run_dir(result, tmp_path / "run")
    metrics = json.loads(paths["metrics"].read_text())
    assert metrics["epoch_min_train_loss"] == 2 and "determinism" in metrics
    preds = pd.read_csv(paths["predictions"], dtype={"y_true": str, "y_pred": str})
    assert list(preds.columns[:4]) == ["checkpoint", "case_id", "y_true", "y_pred"]
    assert list(preds.columns[4:]) == ["proba_1", "proba_2"] and len(preds) == 3 * 12
    assert len(pd.read_csv(paths["history"])) == 3
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "history.csv", "metrics.json", "predictions.csv",
    ]


# --- the real frameworks ------------------------------------------------------------

FRAMEWORKS = ["torch", "keras"]


def _fit_module(framework):
    pytest.importorskip("torch" if framework == "torch" else "tensorflow")
    import importlib

    return importlib.import_module(f"ecgrepro.training.{framework}_fit")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_unknown_architecture_is_refused(framework):
    fit = _fit_module(framework)
    with pytest.raises(TypeError, match="no network registered for dict"):
        fit.build_network({"length": 30})


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_same_seed_gives_bit_identical_runs(framework, tiny, arch):
    fit = _fit_module(framework)
    protocol = get_protocol("karim2018", epochs=3, batch_size=10)
    seeds = (5, 5, 6) if framework == "torch" else (5, 5)  # Keras runs cost ~4 s each
    runs = [fit.fit_evaluate(tiny, arch, protocol, seed=s, device="cpu", threads=1, **QUIET)
            for s in seeds]
    first, again = runs[:2]
    pd.testing.assert_frame_equal(first.predictions, again.predictions, check_exact=True)
    pd.testing.assert_frame_equal(first.history.drop(columns=TIMING),
                                  again.history.drop(columns=TIMING), check_exact=True)
    if len(runs) > 2:
        assert not first.predictions.equals(runs[2].predictions)
    m = first.metrics
    assert m["n_params"] == arch.param_counts()["total"] and m["framework"] == framework
    assert m["accuracy_last"] == first.history["test_accuracy"].iloc[-1]
    assert first.determinism["seed"] == 5
    # TF fixes its thread pools when it first initialises (an earlier test may have
    # done so), so only torch is guaranteed to apply the request inside pytest.
    assert isinstance(first.determinism["threads_applied"], bool)
    if framework == "torch":
        assert first.determinism["threads_applied"]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_diverging_run_raises_with_history(framework, tiny, arch):
    fit = _fit_module(framework)
    protocol = get_protocol("blog2020", epochs=4, learning_rate=1e30)
    with pytest.raises(TrainingDivergedError, match="Tiny: the training loss became") as info:
        fit.fit_evaluate(tiny, arch, protocol, seed=0, device="cpu", **QUIET)
    h = info.value.history
    assert len(h) == info.value.epoch and not np.isfinite(h["loss"].iloc[-1])


def test_torch_and_keras_train_identically_from_the_same_weights(tiny):
    """C10 beyond the forward pass: Adam epsilon placement, class-weighted loss
    reduction, BN momentum and batch order agree (dropout off, since the frameworks
    draw different masks)."""
    from ecgrepro.models.lstm_fcn_keras import export_weights
    from ecgrepro.models.lstm_fcn_torch import load_keras_weights

    keras_fit, torch_fit = _fit_module("keras"), _fit_module("torch")
    arch = LSTMFCNArch.test_params(length=30, dropout=0.0)
    protocol = get_protocol("karim2018", epochs=4, batch_size=10)
    protocol, inputs, seeds = prepare_run(tiny, arch, protocol, 1)
    ka, _ = keras_fit.make_adapter(arch, protocol, inputs.loss, 11, "cpu")
    ta, _ = torch_fit.make_adapter(arch, protocol, inputs.loss, 11, "cpu")
    load_keras_weights(ta.model, export_weights(ka.model))
    kw = dict(dataset=tiny, arch=arch, seeds=seeds, determinism={}, **QUIET)
    rk, rt = run_protocol(ka, inputs, protocol, **kw), run_protocol(ta, inputs, protocol, **kw)
    np.testing.assert_allclose(rk.history["loss"], rt.history["loss"], atol=1e-5)
    pk, pt = (r.predictions.filter(like="proba_").to_numpy() for r in (rk, rt))
    assert np.abs(pk - pt).max() <= 1e-4


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_early_stopping_restores_the_best_weights(framework, tiny, arch):
    """A validation part whose labels contradict training: its loss soon rises, the run
    stops after `patience` epochs without improvement and ends on the best epoch's
    weights, by the same rule in both frameworks."""
    from dataclasses import replace

    fit = _fit_module(framework)
    protocol = get_protocol("oh2018", epochs=30, early_stopping_patience=2, batch_size=5,
                            learning_rate=1e-2, early_stopping_start_epoch=0)
    data = carve_validation(tiny, protocol, seed=0)
    flipped = replace(data, y_val=1 - data.y_val)
    protocol, inputs, seeds = prepare_run(flipped, arch, protocol, 0)
    adapter, _ = fit.make_adapter(arch, protocol, inputs.loss, seeds["framework_seed"], "cpu")
    result = run_protocol(adapter, inputs, protocol, dataset=flipped, arch=arch, seeds=seeds,
                          determinism={}, **QUIET)
    h, es = result.history, result.metrics["early_stopping"]
    assert es["stopped_early"] and len(h) == es["stopped_epoch"] < 30
    assert es["stopped_epoch"] == es["best_epoch"] + 2
    assert es["best_epoch"] == int(h["epoch"][h["val_loss"].idxmin()])
    # The adapter ends on the best epoch's weights: its validation loss is that epoch's.
    from ecgrepro.training.common import numpy_loss

    again = numpy_loss(inputs.loss, adapter.predict_proba(inputs.X_val), inputs.y_val)
    assert again == pytest.approx(h["val_loss"].min(), abs=1e-6)
    assert again < h["val_loss"].iloc[-1]
