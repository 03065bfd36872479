"""Printer profiles as data: paper width, dots, character columns, features.

Columns are for Font A (12 x 24 dots); Font B (9 x 17) fits more.  A profile
without native QR gets its QR codes as GS v 0 raster images.
"""

PROFILES = {
    "80mm": {
        "paper_mm": 80,
        "dots": 576,
        "columns": 48,
        "columns_font_b": 64,
        "native_qr": True,
        "qr_module": 6,
    },
    "58mm": {
        "paper_mm": 58,
        "dots": 384,
        "columns": 32,
        "columns_font_b": 42,
        "native_qr": False,
        "qr_module": 4,
    },
}


def profile(name_or_dict: "str | dict") -> dict:
    """A profile by name, or a dict given whole (checked for the keys used)."""
    if isinstance(name_or_dict, dict):
        prof = name_or_dict
    else:
        prof = PROFILES.get(name_or_dict)
        if prof is None:
            raise ValueError("unknown printer profile %r" % (name_or_dict,))
    for key in ("dots", "columns", "native_qr", "qr_module"):
        if key not in prof:
            raise ValueError("printer profile lacks %r" % key)
    return prof


def for_board(device: dict) -> dict:
    """The profile of a board's printer device (board.json: paper_mm)."""
    return profile("58mm" if device.get("paper_mm") == 58 else "80mm")
