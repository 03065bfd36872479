# ruff: noqa: F821  (metadata/package are provided by the manifest runner)
# micropython-lib style manifest: freeze the driver with the wire format it
# uses.  Paths are relative to the repository root (three levels up).
metadata(description="NXP PN532 NFC reader over HSU (ISO 14443 type A, ISO-DEP)", version="0.1.0")

package("protocols", files=("__init__.py", "errors.py", "pn532.py"), base_path="../../..")
package("firmware", files=("__init__.py", "drivers/__init__.py"), base_path="../../..")
package("firmware/drivers/pn532", base_path="../../..")
