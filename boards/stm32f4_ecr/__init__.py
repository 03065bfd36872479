"""STM32F405 ECR / fiscal printer board (see board.json and docs/boards.md)."""
