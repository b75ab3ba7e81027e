"""A retried trial's curve (:func:`hpogrid.study.attempts.continued`) and failure rules on exit status."""
from hpogrid.study.attempts import FailureRule, continued, parse_rules


def _steps(*steps, **extra):
    return [{"step": s, "training_iteration": i, "loss": float(s), **extra} for i, s in enumerate(steps, 1)]


def test_a_retry_that_does_steps_again_replaces_them():
    """Lost after reporting 5 with the checkpoint of 4: the retry's 5 replaces the lost one's."""
    curve = continued([], _steps(1, 2, 3, 4, 5, lost=True), 1)
    curve = continued(curve, _steps(5, 6, 7), 2)
    assert [(h["step"], h["attempt"], h["training_iteration"]) for h in curve] == \
        [(1, 1, 1), (2, 1, 2), (3, 1, 3), (4, 1, 4), (5, 2, 5), (6, 2, 6), (7, 2, 7)]
    assert "lost" not in curve[4]


def test_a_retry_without_steps_started_over_and_one_that_reported_nothing_keeps_the_curve():
    curve = continued([], _steps(1, 2, 3), 1)
    assert continued(curve, [], 2) == curve
    restarted = continued(curve, [{"loss": 1.0}, {"loss": 0.5}], 2)
    assert [(h["attempt"], h["training_iteration"]) for h in restarted] == [(2, 1), (2, 2)]


def test_exit_code_rules_need_the_status_and_a_match_when_they_name_both():
    (both,) = parse_rules([{"match": "OOM", "exit_code": 137, "action": "retry"}])
    assert both.matches("OOM killed", 137) and not both.matches("OOM killed", 1) and not both.matches("ok", 137)
    assert not both.matches("OOM killed", None)
    assert FailureRule(None, "fail", 1).matches("", 1) and FailureRule(None, "fail", 1).label == "exit code 1"
