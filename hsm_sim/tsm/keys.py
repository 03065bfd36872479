"""The TSM's own keys: the CA (self-signed X.509, ECDSA P-256) that issues
device certificates, the release key (ECDSA P-256) that signs OTA manifests
and parameter documents, the key-loading key (ECDSA P-256) that signs the
ephemeral keys of the transport-key agreement with each SE, and the BDK.
No KBPK: each key block is wrapped under a KBPK agreed with the device's SE
for that load (``hsm_sim/tsm/transport.py``)."""

from __future__ import annotations

import datetime
import hashlib
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from hsm_sim.se.testkeys import TEST_TSM_KEY_LOADING_PRIVATE

# TEST BDK (AES-128) for the demo and tests only; a deployment passes its own.
TEST_BDK = bytes.fromhex("54534D2D544553542D42444B2D303031")

PARAMS_DOMAIN = b"PTPARAMS1"
OTA_DOMAIN = b"PTOTA1"


def published_key_loading_key() -> ec.EllipticCurvePrivateKey:
    """The TEST key-loading key whose public point every TEST SE state holds
    (``hsm_sim.se.testkeys``); for tests and the demo only."""
    return ec.derive_private_key(
        int.from_bytes(TEST_TSM_KEY_LOADING_PRIVATE, "big"), ec.SECP256R1()
    )


def _write_private(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


def load_private(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError(f"{path}: not an ECDSA P-256 private key")
    return key


def public_point(key: ec.EllipticCurvePublicKey) -> bytes:
    """SEC 1 uncompressed point (65 bytes)."""
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def sign_raw(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def make_ca(key: ec.EllipticCurvePrivateKey, name: str, years: int = 20) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "payterm TSM"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )


class TsmKeys:
    """The CA key and certificate, the release key, the key-loading key
    (default: the TEST one of ``hsm_sim.se.testkeys``) and the BDK."""

    def __init__(
        self,
        ca_key: ec.EllipticCurvePrivateKey,
        ca_cert: x509.Certificate,
        release_key: ec.EllipticCurvePrivateKey,
        bdk: bytes = TEST_BDK,
        key_loading_key: ec.EllipticCurvePrivateKey | None = None,
    ) -> None:
        self.ca_key = ca_key
        self.ca_cert = ca_cert
        self.release_key = release_key
        self.bdk = bdk
        self.key_loading_key = key_loading_key or published_key_loading_key()

    @classmethod
    def generate(cls, name: str = "payterm TSM test CA") -> TsmKeys:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        return cls(ca_key, make_ca(ca_key, name), ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def load_or_create(cls, folder: Path) -> TsmKeys:
        """Keys kept in ``folder`` (ca.key, ca.pem, release.key: PEM, keys
        mode 0600), created on first use; ``keyload.key`` (PEM, P-256), when
        present, is the key-loading key, else the TEST one (the SEs must be
        personalised with its public point)."""
        folder.mkdir(parents=True, exist_ok=True)
        ca_key_p, ca_p, rel_p = folder / "ca.key", folder / "ca.pem", folder / "release.key"
        if not ca_key_p.exists():
            ca_key = ec.generate_private_key(ec.SECP256R1())
            _write_private(ca_key_p, ca_key)
            ca_p.write_bytes(
                make_ca(ca_key, "payterm TSM CA").public_bytes(serialization.Encoding.PEM)
            )
        if not rel_p.exists():
            _write_private(rel_p, ec.generate_private_key(ec.SECP256R1()))
        kl_p = folder / "keyload.key"
        return cls(
            load_private(ca_key_p),
            x509.load_pem_x509_certificate(ca_p.read_bytes()),
            load_private(rel_p),
            key_loading_key=load_private(kl_p) if kl_p.exists() else None,
        )

    @property
    def ca_pem(self) -> str:
        return self.ca_cert.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def release_public(self) -> bytes:
        return public_point(self.release_key.public_key())

    @property
    def key_loading_public(self) -> bytes:
        """The key-loading key's public point (65 bytes): what an SE is
        personalised with."""
        return public_point(self.key_loading_key.public_key())

    def sign_params(self, payload: bytes) -> bytes:
        """Raw r‖s over SHA-256("PTPARAMS1" ‖ payload)."""
        return sign_raw(self.release_key, PARAMS_DOMAIN + payload)

    def params_digest(self, payload: bytes) -> bytes:
        return hashlib.sha256(PARAMS_DOMAIN + payload).digest()
