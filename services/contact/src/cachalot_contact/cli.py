"""The command line: ``cachalot-contact`` serves, ``cachalot-contact verify [path]`` checks.

``verify`` imports only what it needs (no web server, no Kafka client), so it
starts quickly on an operator's shell.
"""

from __future__ import annotations

import sys


def run() -> None:
    if len(sys.argv) > 1:
        from cachalot_contact.verify import main as verify

        raise SystemExit(verify(sys.argv[1:]))
    from cachalot_contact.main import main

    main()
