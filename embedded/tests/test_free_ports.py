"""``cachalot-dev --free-ports`` gives every server of the stack its own port."""

from __future__ import annotations

from cachalot_common.free_ports import free_port as _free_port


def test_free_ports_for_the_gateway_services_and_mailbox_are_never_repeated() -> None:
    # a clean-clone run once gave the gateway and publisher-tiktok the same port: the
    # second could not listen and 152 browser and end-to-end tests errored
    ports = [_free_port() for _ in range(2000)]
    assert len(set(ports)) == len(ports)
