"""The transaction's data store: every data object with the side it came
from, so card data never silently replaces terminal data (Book 3 §10.2)."""

TERMINAL = "terminal"
CARD = "card"
ISSUER = "issuer"


class TagStore:
    def __init__(self) -> None:
        self.values: "dict[int, bytes]" = {}
        self.sources: "dict[int, str]" = {}

    def put(self, tag: int, value: bytes, source: str) -> None:
        self.values[tag] = bytes(value)
        self.sources[tag] = source

    def put_card(self, tag: int, value: bytes) -> None:
        """Card data, unless the terminal already holds this data object:
        terminal-sourced data is never replaced by a card's copy."""
        if self.sources.get(tag) == TERMINAL:
            return
        self.put(tag, value, CARD)

    def get(self, tag: int, default: "bytes | None" = None) -> "bytes | None":
        return self.values.get(tag, default)

    def has(self, tag: int) -> bool:
        return tag in self.values

    def source(self, tag: int) -> "str | None":
        return self.sources.get(tag)

    def remove(self, tag: int) -> None:
        if tag in self.values:
            del self.values[tag]
            del self.sources[tag]

    def card_tags(self) -> "list[int]":
        return sorted(t for t in self.sources if self.sources[t] == CARD)
