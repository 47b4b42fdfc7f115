"""Key material of a local org: a private CA and server certificate for HTTPS, made on first start,
and the RSA key pair of its connected app for the JWT bearer flow, made when first needed.

simple-salesforce hard-codes ``https://``, so the local org speaks TLS by default. The CA certificate
is what clients trust (``REQUESTS_CA_BUNDLE`` / ``verify=``); the server certificate names
``localhost``, ``127.0.0.1`` and ``::1`` (plus the host the server binds, if different) and is
re-issued from the same CA when that list changes or it nears expiry, so a trusted CA file stays
valid across restarts. The connected app's certificate is what Salesforce would hold for a connected
app (JWT assertions are verified against it); its private key is what a CI job signs them with.
Keys are written readable by the owner only.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path


@dataclass(frozen=True)
class SigningKey:
    """The connected app's JWT key pair: clients sign with `private_key`, the org verifies with `certificate`."""

    private_key: Path
    certificate: Path

    def public_key_pem(self) -> str:
        return public_key_pem(self.certificate.read_text(encoding="utf-8"))


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _names(hosts: tuple[str, ...]) -> list[str]:
    wildcard = {"0.0.0.0", "::", ""}
    return list(dict.fromkeys([*DEFAULT_HOSTS, *(h for h in hosts if h not in wildcard)]))


def _new_ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "migrator local org CA"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "migrator")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    (folder / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(folder / "ca-key.pem", key)
    return cert, key


def _new_server_cert(folder: Path, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
                     names: list[str]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=825))
            .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (folder / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(folder / "server-key.pem", key)


def _server_cert_ok(path: Path, names: list[str]) -> bool:
    if not path.exists():
        return False
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    if cert.not_valid_after_utc < dt.datetime.now(dt.UTC) + dt.timedelta(days=7):
        return False
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    present = {str(v) for v in sans.get_values_for_type(x509.DNSName)}
    present |= {str(v) for v in sans.get_values_for_type(x509.IPAddress)}
    return all(str(ipaddress.ip_address(n)) in present if _is_ip(n) else n in present for n in names)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def ensure_certificates(folder: Path, hosts: tuple[str, ...] = ()) -> TlsFiles:
    """The CA and server certificate in `folder`, created or renewed as needed."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_path, ca_key_path = folder / "ca.pem", folder / "ca-key.pem"
    if ca_path.exists() and ca_key_path.exists():
        ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
        ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        if ca.not_valid_after_utc < dt.datetime.now(dt.UTC) + dt.timedelta(days=30):
            ca, ca_key = _new_ca(folder)
            (folder / "server.pem").unlink(missing_ok=True)
    else:
        ca, ca_key = _new_ca(folder)
        (folder / "server.pem").unlink(missing_ok=True)
    names = _names(hosts)
    if not _server_cert_ok(folder / "server.pem", names):
        _new_server_cert(folder, ca, ca_key, names)
    return TlsFiles(ca_path, folder / "server.pem", folder / "server-key.pem")


def public_key_pem(text: str) -> str:
    """The public key of a PEM certificate or public key (what a connected app is given), as PEM."""
    data = text.encode("utf-8")
    if b"BEGIN CERTIFICATE" in data:
        key = x509.load_pem_x509_certificate(data).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def ensure_signing_key(folder: Path) -> SigningKey:
    """The connected app's RSA key pair in `folder` (``jwt-key.pem``, ``jwt-cert.pem``), made once."""
    folder.mkdir(parents=True, exist_ok=True)
    found = SigningKey(folder / "jwt-key.pem", folder / "jwt-cert.pem")
    if found.private_key.exists() and found.certificate.exists():
        return found
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "migrator local org connected app")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650)).sign(key, hashes.SHA256()))
    _write_key(found.private_key, key)
    found.certificate.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return found
