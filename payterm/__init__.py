"""payterm: firmware and simulators for payment and fiscal terminals."""

__version__ = "0.1.0"
