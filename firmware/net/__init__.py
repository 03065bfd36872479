"""The terminal's network clients (shared HTTP/1.1 over a board stream)."""
