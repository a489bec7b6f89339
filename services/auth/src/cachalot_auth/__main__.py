"""``python -m cachalot_auth [serve|migrate|rotate-keys]``."""

from cachalot_auth.cli import run

run()
