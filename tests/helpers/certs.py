"""A self-signed certificate for 127.0.0.1 (HTTPS and MQTT over TLS tests), made with openssl."""

from __future__ import annotations

import subprocess
from pathlib import Path


def self_signed(directory: Path, name: str = "") -> tuple[Path, Path]:
    """(cert.pem, key.pem) valid for a day for IP 127.0.0.1; `name` tells several apart."""
    cert, key = directory / f"cert{name}.pem", directory / f"key{name}.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key
