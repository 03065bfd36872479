"""The tax backend's use of the TSM's device status (``payterm tax --tsm
URL``; docs/tax.md, "Device status at the TSM").

- Registration: the device (its serial at the TSM: the certificate
  subject's ``serialNumber``, else the device ID) must be ``active`` there
  with the same SE key, and a certificate given must be ``good``. A TSM
  that cannot be reached refuses the registration (503 ``tsm_unreachable``):
  registering is an administrator's act that can be repeated, and it is
  where trust in the device starts, so it fails closed. It always asks
  the TSM (``fresh``): a cached ``active`` does not register a device.
- Upload: records are always verified and stored (the law wants every
  record). A ``revoked`` device's upload is answered with ``tsm_status``
  ``revoked`` and a ``device_revoked`` alert; a TSM that cannot be reached
  fails open (``tsm_status`` ``unreachable``, alert ``tsm_unreachable``,
  logged); a device the TSM does not know (``unknown``) raises
  ``device_not_active``.
- Invoice clearance: refused for a ``revoked`` device (403
  ``device_revoked``, nothing cleared); otherwise as without a TSM, with
  ``tsm_status`` in the answer (a TSM down fails open, logged).
"""

from __future__ import annotations

import logging

from cryptography import x509

from hsm_sim.tsm.status_client import UNREACHABLE, Status, TsmStatusClient

from .devices import point_der, tsm_serial

log = logging.getLogger("payterm.tax")

# the alert kind an upload raises for each TSM answer that is not "active"
UPLOAD_ALERTS = {
    "revoked": "device_revoked",
    UNREACHABLE: "tsm_unreachable",
    "unknown": "device_not_active",
}


class TsmRefusal(Exception):
    def __init__(self, http_status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = http_status
        self.code = code
        self.message = message


def check_registration(
    tsm: TsmStatusClient, device_id: str, key_der: bytes, certificate: str | None
) -> Status:
    """Raise ``TsmRefusal`` unless the TSM vouches for the device now."""
    serial = tsm_serial(device_id, certificate)
    st = tsm.device(serial, fresh=True)
    if not st.reachable:
        raise TsmRefusal(503, "tsm_unreachable", f"the TSM's status of {serial}: {st.error}")
    if st.status == "revoked":
        raise TsmRefusal(
            403,
            "device_revoked",
            f"device {serial} is revoked at the TSM ({st.get('reason') or 'no reason'})",
        )
    if st.status != "active":
        raise TsmRefusal(403, "device_not_enrolled", f"the TSM does not know device {serial}")
    if point_der(st.get("public_key")) != key_der:
        raise TsmRefusal(
            403, "tsm_key_mismatch", f"the SE key enrolled at the TSM for {serial} is another one"
        )
    if certificate is not None:
        cert = x509.load_pem_x509_certificate(certificate.encode())  # checked before
        cs = tsm.certificate(format(cert.serial_number, "x"), fresh=True)
        if not cs.reachable:
            raise TsmRefusal(503, "tsm_unreachable", f"the TSM's certificate status: {cs.error}")
        if cs.status != "good":
            raise TsmRefusal(
                403,
                f"certificate_{cs.status}",
                f"the certificate is {cs.status} at the TSM"
                + (f" ({cs.get('reason')})" if cs.get("reason") else ""),
            )
    return st


def device_status(tsm: TsmStatusClient, device_id: str, certificate: str | None) -> Status:
    st = tsm.device(tsm_serial(device_id, certificate))
    if st.status != "active":
        log.warning(
            "device %s: TSM status %s%s",
            device_id,
            st.status,
            f" ({st.error})" if st.error else "",
        )
    return st
