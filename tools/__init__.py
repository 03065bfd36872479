"""Field-technician tools and firmware build/deploy helpers (host side)."""
