"""Device registration: the secure element's public key, and the device
certificate issued by the TSM's CA (X.509), whose key must be the SE key."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tools.fiscal_verify import load_public_key


class RegistrationError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def public_key_der(text: str) -> bytes:
    """PEM SubjectPublicKeyInfo, or the SE's 65-byte uncompressed point in hex."""
    try:
        key = load_public_key(text.encode())
    except (ValueError, UnicodeError) as e:
        raise RegistrationError("bad_public_key", f"public key: {e}") from e
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def check_certificate(
    pem: str, key_der: bytes, ca: x509.Certificate | None, now: int
) -> x509.Certificate:
    """Parse ``pem``; its public key must be the SE key; with a CA, it must be
    issued and signed by that CA and valid at ``now``."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as e:
        raise RegistrationError("bad_certificate", f"certificate: {e}") from e
    got = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if got != key_der:
        raise RegistrationError(
            "certificate_key_mismatch", "the certificate's key is not the device's SE key"
        )
    if ca is not None:
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature) as e:
            raise RegistrationError(
                "certificate_untrusted", f"certificate not issued by the configured CA: {e}"
            ) from e
        at = datetime.datetime.fromtimestamp(now, datetime.UTC)
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            raise RegistrationError("certificate_expired", "certificate not valid now")
    return cert


def load_ca(pem: bytes) -> x509.Certificate:
    cert = x509.load_pem_x509_certificate(pem)
    if not isinstance(cert.public_key(), ec.EllipticCurvePublicKey):
        # the TSM's CA signs with ECDSA P-256 like every key in the house
        raise ValueError("CA certificate must carry an EC key")
    return cert


def tsm_serial(device_id: str, certificate: str | None) -> str:
    """The device's serial at the TSM: the ``serialNumber`` of its TSM
    certificate's subject (the TSM writes it there), else the device ID."""
    if certificate:
        try:
            cert = x509.load_pem_x509_certificate(certificate.encode())
        except ValueError:
            return device_id
        names = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
        if names and isinstance(names[0].value, str):
            return names[0].value
    return device_id


def point_der(point_hex: object) -> bytes | None:
    """The DER SubjectPublicKeyInfo of a 65-byte P-256 point in hex (the
    TSM's ``public_key``), or None when it is not one."""
    if not isinstance(point_hex, str):
        return None
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes.fromhex(point_hex))
    except ValueError:
        return None
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
