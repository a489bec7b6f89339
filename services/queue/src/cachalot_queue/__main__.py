"""``python -m cachalot_queue`` serves; ``python -m cachalot_queue migrate`` migrates."""

from cachalot_queue.main import main

main()
