"""CACHALOT auth: sign-in with the platforms, token custody, token leases."""
