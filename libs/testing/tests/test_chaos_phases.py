"""``bench/chaos.py --faults`` runs the faults in the order given, repeats included."""

from __future__ import annotations

from cachalot_testing.chaos import phases


def test_a_broker_restart_given_twice_runs_twice_in_the_order_given() -> None:
    # the suite once ran "broker,kill:x,broker" as kill:x then one broker restart
    assert phases(["broker", "kill:queue", "broker"]) == [["broker"], ["kill:queue"], ["broker"]]


def test_faults_between_restarts_run_together_as_one_phase() -> None:
    assert phases(["kill:auth", "platform:vk", "postgres", "kill:queue", "broker"]) == [
        ["kill:auth", "platform:vk"],
        ["postgres"],
        ["kill:queue"],
        ["broker"],
    ]
