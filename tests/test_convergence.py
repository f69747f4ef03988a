"""ecgrepro.convergence: when a run counts as converged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecgrepro.convergence import assess, describe_criterion
from ecgrepro.errors import EcgreproError

CRITERION = {"window": 10, "min_rel_improvement": 0.01}


def _history(loss, **extra):
    return pd.DataFrame({"epoch": np.arange(1, len(loss) + 1), "loss": loss, **extra})


def test_a_loss_still_falling_has_not_converged():
    loss = 1.0 - 0.015 * np.arange(20)  # still falling 0.015 per epoch at epoch 20
    a = assess(_history(loss), CRITERION)
    assert not a["converged"] and a["epochs"] == 20 and not a["stopped_early"]
    before, last = loss[:10].min(), loss[10:].min()
    assert a["rel_improvement"] == pytest.approx((before - last) / before)
    assert "last 10 epochs" in a["criterion"] and "1%" in a["criterion"]


def test_a_levelled_loss_has_converged_and_noise_does_not_count_against_it():
    loss = np.r_[np.linspace(1.0, 0.1, 30), 0.1 + 0.002 * np.sin(np.arange(20))]
    a = assess(_history(loss), CRITERION)
    assert a["converged"] and a["rel_improvement"] < 0.01
    # a loss that rose at the end: negative improvement, converged
    up = np.r_[np.linspace(1.0, 0.1, 30), np.linspace(0.11, 0.2, 10)]
    b = assess(_history(up), CRITERION)
    assert b["converged"] and b["rel_improvement"] < 0


def test_early_stopping_counts_as_converged_and_train_loss_column_is_read():
    loss = 1.0 - 0.015 * np.arange(20)
    h = pd.DataFrame({"epoch": range(1, 21), "train_loss": loss,
                      "stopped_early": [False] * 19 + [True]})
    a = assess(h, CRITERION)
    assert a["converged"] and a["stopped_early"]


def test_too_short_to_judge_and_bad_criteria():
    a = assess(_history([1.0, 0.9, 0.8]), CRITERION)
    assert not a["converged"] and a["rel_improvement"] is None and a["epochs"] == 3
    with pytest.raises(EcgreproError, match="window"):
        assess(_history([1.0] * 20), {"window": 0, "min_rel_improvement": 0.01})
    with pytest.raises(EcgreproError, match="min_rel_improvement"):
        describe_criterion({"window": 5})
    with pytest.raises(EcgreproError, match="training-loss column"):
        assess(pd.DataFrame({"epoch": [1, 2]}), CRITERION)
