"""The ingest connection to a broker that demands a password over TLS (a throwaway Mosquitto with a
certificate from a throwaway CA): readings flow with the right credentials, nothing connects without."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from ioc.config import load_config
from ioc.runtime import Runtime
from ioc.services import Mosquitto
from ioc.transports.mqtt import BrokerAddress, Publisher
from tests.support import RUN_ID, drop_database, isolated_config, native_payload


def openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def secure_broker():
    # Not under pytest's private tmp folder: the broker drops to the mosquitto user, which must read these.
    folder = Path(tempfile.mkdtemp(prefix="ioc-tls-broker-"))
    folder.chmod(0o755)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=IOC test CA",
            "-keyout", "ca.key", "-out", "ca.crt", cwd=folder)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
            "-out", "server.csr", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName = IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "san.ext", "-out", "server.crt", cwd=folder)
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(folder / "passwd"), "ioc", "s3cret-pass"], check=True)
    for name in ("server.key", "passwd"):
        (folder / name).chmod(0o644)  # mosquitto drops to its own user
    broker = Mosquitto(folder / "data", extra_conf=(
        f"\ncafile {folder}/ca.crt\ncertfile {folder}/server.crt\nkeyfile {folder}/server.key\n"
        f"password_file {folder}/passwd\nallow_anonymous false\n"))
    broker.start()
    yield broker, folder / "ca.crt"
    broker.stop()
    shutil.rmtree(folder, ignore_errors=True)


def test_ingest_over_tls_with_a_password(tmp_path, pg_server_url, secure_broker):
    broker, ca_file = secure_broker
    url = f"mqtts://ioc:s3cret-pass@127.0.0.1:{broker.port}"
    folder = isolated_config(tmp_path / "cfg", pg_server_url, url, "tls",
                             {"mqtt": {"ca_file": str(ca_file), "protocol": 5}})
    runtime = Runtime(load_config(folder, environ={}), with_simulator=False).start()
    try:
        assert runtime.mqtt.connected.wait(15), "no TLS connection with the right password"
        publisher = Publisher(BrokerAddress.from_url(url), runtime.mqtt_settings, client_id=f"tls-pub-{RUN_ID}")
        publisher.connect()
        topic = f"{runtime.config.settings.mqtt.topic_prefix}/health/x"
        publisher.publish(topic, native_payload(runtime, 3))
        deadline = time.monotonic() + 15
        stored = 0
        while time.monotonic() < deadline and stored < 3:
            with runtime.db.connection() as conn:
                stored = conn.execute("SELECT count(*) FROM readings").fetchone()[0]
            time.sleep(0.2)
        assert stored == 3

        wrong = Publisher(BrokerAddress.from_url(url.replace("s3cret-pass", "wrong")), runtime.mqtt_settings,
                          client_id=f"tls-bad-{RUN_ID}")
        with pytest.raises(TimeoutError):
            wrong.connect(timeout=3)
        wrong.client.loop_stop()
        plain = Publisher(BrokerAddress.from_url(f"mqtt://ioc:s3cret-pass@127.0.0.1:{broker.port}"),
                          runtime.mqtt_settings, client_id=f"tls-plain-{RUN_ID}")
        with pytest.raises((TimeoutError, OSError)):
            plain.connect(timeout=3)  # no TLS: the broker does not speak to it
        plain.client.loop_stop()
        publisher.client.loop_stop()
    finally:
        runtime.stop()
        drop_database(pg_server_url, f"ioc_test_{RUN_ID}_tls")
