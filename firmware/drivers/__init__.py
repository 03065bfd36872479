"""Device drivers: one folder per driver (micropython-lib style), each
receiving its bus object (UART/I2C/SPI-like) in the constructor."""
