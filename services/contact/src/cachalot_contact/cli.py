"""The command line of ``cachalot-contact`` (``python -m cachalot_contact``).

* no argument: serve the API (and start the relay process beside it);
* ``relay``: run the relay on its own (``relay_command``);
* ``verify [path]``: check the log's hash chain.

``verify`` imports only what it needs (no web server, no Kafka client), so it
starts quickly on an operator's shell.
"""

from __future__ import annotations

import sys


def run() -> None:
    if sys.argv[1:2] == ["relay"]:
        from cachalot_contact.relay_command import main as relay

        raise SystemExit(relay(sys.argv[2:]))
    if len(sys.argv) > 1:
        from cachalot_contact.verify import main as verify

        raise SystemExit(verify(sys.argv[1:]))
    from cachalot_contact.main import main

    main()
