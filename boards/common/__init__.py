"""HAL pieces shared by the physical boards (machine.* based)."""
