"""HTTP entry points: thin, they turn requests into service calls."""
