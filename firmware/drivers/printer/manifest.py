# ruff: noqa: F821  (metadata/package are provided by the manifest runner)
# micropython-lib style manifest: freeze the printer driver with the wire
# formats and the bitmap font it uses.  Paths are relative to the repository
# root (three levels up).
metadata(description="ESC/POS thermal printer: receipts, QR, Arabic raster lines", version="0.1.0")

package(
    "protocols",
    files=(
        "__init__.py",
        "errors.py",
        "escpos.py",
        "escpos_codepages.py",
        "qr.py",
        "qr_tables.py",
        "arabic.py",
        "arabic_data.py",
    ),
    base_path="../../..",
)
package("firmware", files=("__init__.py", "drivers/__init__.py"), base_path="../../..")
package("firmware/fonts", base_path="../../..")
package("firmware/drivers/printer", base_path="../../..")
