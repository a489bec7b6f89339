"""Free ports handed to one test's servers are never the same twice."""

from __future__ import annotations

from cachalot_testing.ports import free_port


def test_free_ports_asked_for_many_times_in_one_process_are_all_different() -> None:
    # 2,000 draws from the ~28,000 ephemeral ports: the OS alone repeats dozens of them
    ports = [free_port() for _ in range(2000)]
    assert len(set(ports)) == len(ports)
