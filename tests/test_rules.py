"""The verdict rules' digest: what changes it and what does not."""

from ecgrepro.rules import rules_digest


def test_digest_ignores_order_and_other_keys():
    a = {"claims": {"min_runs": 1, "alpha": 0.05}, "convergence": {"window": 10}}
    b = {"convergence": {"window": 10}, "claims": {"alpha": 0.05, "min_runs": 1}, "seeds": 3}
    assert rules_digest(a) == rules_digest(b)


def test_digest_follows_a_changed_threshold():
    a = {"claims": {"tolerance": {"score": 0.005}}, "convergence": {"window": 10}}
    b = {"claims": {"tolerance": {"score": 0.01}}, "convergence": {"window": 10}}
    assert rules_digest(a) != rules_digest(b)
