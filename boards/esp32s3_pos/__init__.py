"""ESP32-S3 card POS board (see board.json and docs/boards.md)."""
