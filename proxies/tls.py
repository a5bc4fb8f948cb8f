"""HTTPS for proxies with `tls: true`: the server's own certificate authority and the certificates it issues.

The CA is created once under DATA_DIR/tls/ (its key readable by the owner only) and handed to clients at
`GET /api/v1/tls/ca.pem`, so they can verify a proxy (`verify="ca.pem"`); boto3 sends Bedrock API keys only over
HTTPS. Each start of a TLS proxy issues a fresh server certificate for the proxy's host, 127.0.0.1 and localhost.
"""

from __future__ import annotations

import datetime
import fcntl
import ipaddress
import os
import socket
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

CA_DAYS = 3650
SERVER_DAYS = 397


def key_usage(*, ca: bool) -> x509.KeyUsage:
    """Signatures only; a CA also signs certificates and CRLs."""
    return x509.KeyUsage(
        digital_signature=True,
        key_cert_sign=ca,
        crl_sign=ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        encipher_only=False,
        decipher_only=False,
    )


def tls_dir() -> Path:
    return Path(settings.DATA_DIR) / "tls"


def ca_cert_path() -> Path:
    return tls_dir() / "ca.pem"


def ca_key_path() -> Path:
    return tls_dir() / "ca-key.pem"


def ensure_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The server's CA, created on first use. A file lock keeps two processes from making two CAs."""
    directory = tls_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (ca_cert_path().exists() and ca_key_path().exists()):
            _create_ca()
        cert = x509.load_pem_x509_certificate(ca_cert_path().read_bytes())
        key = serialization.load_pem_private_key(ca_key_path().read_bytes(), password=None)
    return cert, key


def ca_pem() -> bytes:
    ensure_ca()
    return ca_cert_path().read_bytes()


def _create_ca() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Rubberduck"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Rubberduck local CA ({socket.gethostname()})"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_private(ca_key_path(), key_pem)
    ca_cert_path().write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _write_private(path: Path, data: bytes) -> None:
    """Writes `data` to a file only its owner can read, never readable by others even for a moment."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def server_names(host: str) -> list[x509.GeneralName]:
    """Subject alternative names for a proxy bound to `host`: it, 127.0.0.1, ::1, localhost (and this machine's
    name when it binds every address)."""
    names: list[str] = ["localhost", "127.0.0.1", "::1"]
    if host in ("0.0.0.0", "::"):
        names.append(socket.gethostname())
    elif host not in names:
        names.append(host)
    result: list[x509.GeneralName] = []
    for name in names:
        try:
            result.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            result.append(x509.DNSName(name))
    return result


def issue_server_cert(host: str) -> tuple[bytes, bytes]:
    """A fresh certificate for `host` signed by the CA: (certificate chain PEM, private key PEM)."""
    ca_cert, ca_key = ensure_ca()
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(server_names(host)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return chain, key_pem


def server_context(host: str) -> ssl.SSLContext:
    """The SSL context a TLS proxy on `host` serves with. The key only touches the disk in a private temporary
    file, removed once loaded (the ssl module loads keys from files only)."""
    chain, key_pem = issue_server_cert(host)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory(dir=tls_dir(), prefix="issue-") as scratch:
        cert_file, key_file = Path(scratch) / "cert.pem", Path(scratch) / "key.pem"
        cert_file.write_bytes(chain)
        _write_private(key_file, key_pem)
        context.load_cert_chain(cert_file, key_file)
    return context
