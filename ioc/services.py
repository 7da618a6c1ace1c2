"""Throwaway Mosquitto and PostgreSQL servers on free ports, for benchmarks and fault tests.

They never touch the machine's shared services: each lives in its own temp folder and is stopped
by its own pid.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

DEPLOY_CONF = Path(__file__).resolve().parent.parent / "deploy" / "mosquitto.conf"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


class Mosquitto:
    """Mosquitto with the shipped deploy/mosquitto.conf, on a free port and a private data folder."""

    def __init__(self, folder: Path, port: int | None = None, extra_conf: str = ""):
        """`extra_conf`: lines appended to the shipped configuration (e.g. a password file, TLS files)."""
        self.folder, self.port, self.extra_conf = folder, port or free_port(), extra_conf
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> Mosquitto:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o777)  # mosquitto started as root drops to its own user
        conf = DEPLOY_CONF.read_text(encoding="utf-8")
        conf = re.sub(r"(?m)^listener .*$", f"listener {self.port} 127.0.0.1", conf)
        conf = re.sub(r"(?m)^persistence_location .*$", f"persistence_location {self.folder}/", conf)
        (self.folder / "mosquitto.conf").write_text(conf + self.extra_conf, encoding="utf-8")
        self.process = subprocess.Popen([binary, "-c", str(self.folder / "mosquitto.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
