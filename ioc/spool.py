"""The ingest spool: where committed-to-the-broker readings wait while PostgreSQL is unreachable.

Append-only segment files of framed records (4-byte length, 4-byte CRC-32, the record). Each append
is flushed and fsync'd before it returns, so the writer may acknowledge the batch to the broker
afterwards: from then on the spool, not the broker, holds the only copy. Segments are replayed in
order and deleted only after their replay is committed. A crash can leave a truncated last frame;
it was never acknowledged (the fsync did not return), so it is skipped and the broker redelivers it.

The spool is bounded by bytes. When the next record does not fit, `append` raises `SpoolFull` and
the writer stops acknowledging: the broker keeps the messages, nothing is dropped.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import struct
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ioc.models import Batch, DeadLetter, ManualEntry, Reading

log = logging.getLogger(__name__)

HEADER = struct.Struct(">II")  # record length, CRC-32 of the record
SEGMENT_BYTES = 8 * 1024 * 1024  # a segment is replayed in one transaction: keep it a few 100k readings
SUFFIX = ".seg"


class SpoolFull(Exception):
    """The spool is at its size limit: the record was not written (and must not be acknowledged)."""


class SpoolLocked(RuntimeError):
    """Another process uses this spool folder."""


class Spool:
    def __init__(self, directory: Path, max_bytes: int, segment_bytes: int = SEGMENT_BYTES):
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = min(segment_bytes, max_bytes)
        self.bytes = 0
        self.records = 0  # appended and not yet replayed (counted since start, plus what was found at start)
        self.full = False  # the last append did not fit
        self._segments: list[Path] = []
        self._active: Path | None = None
        self._file = None
        self._lock = None
        self._seq = 0

    def open(self) -> Spool:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.directory / "lock", "w")  # noqa: SIM115 (held for the spool's lifetime)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise SpoolLocked(f"the spool folder {self.directory} is in use by another ingester") from None
        self._segments = sorted(self.directory.glob(f"*{SUFFIX}"))
        self.bytes = sum(p.stat().st_size for p in self._segments)
        self._seq = max((int(p.name.split("-")[0]) for p in self._segments), default=0)
        if self._segments:
            self.records = sum(1 for p in self._segments for _ in self.read(p))
            log.warning("spool holds %d batches (%d bytes) from an earlier run: replaying them", self.records,
                        self.bytes)
        return self

    def close(self) -> None:
        self.seal()
        if self._lock:
            self._lock.close()
            self._lock = None

    @property
    def empty(self) -> bool:
        return not self._segments

    def segments(self) -> list[Path]:
        return list(self._segments)

    def append(self, record: bytes) -> None:
        """Write one record durably (fsync) or raise SpoolFull without writing anything."""
        size = HEADER.size + len(record)
        if self.bytes + size > self.max_bytes:
            if not self.full:
                log.error("spool full (%d of %d bytes in %s): not acknowledging to the broker until the "
                          "database is back", self.bytes, self.max_bytes, self.directory)
            self.full = True
            raise SpoolFull(f"spool full: {self.bytes} + {size} bytes > spool_max_bytes {self.max_bytes}")
        if self._file is None or self._file.tell() + size > self.segment_bytes:
            self._new_segment()
        start = self._file.tell()
        try:
            self._file.write(HEADER.pack(len(record), zlib.crc32(record)) + record)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:  # e.g. the disk is full: take the partial frame back, write nothing
            log.error("spool write failed: %s", exc)
            try:
                self._file.truncate(start)
            finally:
                self.seal()
            self.full = True
            raise SpoolFull(f"spool write failed: {exc}") from exc
        self.bytes += size
        self.records += 1
        self.full = False

    def _new_segment(self) -> None:
        self.seal()
        self._seq += 1
        # The random part keeps names unique if the folder is ever emptied and numbering restarts:
        # the database remembers replayed segments by name.
        path = self.directory / f"{self._seq:012d}-{secrets.token_hex(4)}{SUFFIX}"
        self._file = open(path, "ab")  # noqa: SIM115 (kept open for appends until sealed)
        self._fsync_dir()  # the new name itself must survive a crash
        self._active = path
        self._segments.append(path)

    def seal(self) -> None:
        """Close the segment being appended to, so that it can be replayed."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._active = None

    def read(self, path: Path) -> Iterator[bytes]:
        """The intact records of a segment, in order; stops at a truncated or corrupt frame."""
        if path == self._active:
            self.seal()
        with open(path, "rb") as f:
            data = f.read()
        offset = 0
        while offset < len(data):
            if offset + HEADER.size > len(data):
                break
            length, crc = HEADER.unpack_from(data, offset)
            record = data[offset + HEADER.size: offset + HEADER.size + length]
            if len(record) < length or zlib.crc32(record) != crc:
                break
            yield record
            offset += HEADER.size + length
        if offset < len(data):
            # Only the last frame can be cut by a crash; it was never acknowledged, so the broker
            # still has it. Anything else is disk damage: say so loudly.
            log.warning("spool segment %s: %d bytes after the last intact record skipped", path.name,
                        len(data) - offset)

    def remove(self, path: Path, records: int) -> None:
        """Delete a segment whose records are committed."""
        size = path.stat().st_size
        path.unlink()
        self._fsync_dir()
        self._segments.remove(path)
        self.bytes -= size
        self.records = max(0, self.records - records)
        self.full = False  # room again: the next append may fit

    def _fsync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- what a record holds: the batches of one write group ------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _us(ts: datetime) -> int:  # exact: a float of seconds would round far-off times
    return (ts - _EPOCH) // _US


def _ts(us: int) -> datetime:
    return _EPOCH + us * _US


def encode(batches: list[Batch]) -> bytes:
    """One record for a group of batches (their callbacks are not kept: they run when spooled)."""
    return json.dumps([{
        "feed": b.feed,
        "r": [[r.entity, r.metric, _us(r.ts), r.value] for r in b.readings],
        "d": [[d.source, d.reason, d.payload, _us(d.received)] for d in b.dead_letters],
        "m": [[m.reading.entity, m.reading.metric, _us(m.reading.ts), m.reading.value, m.entered_by, m.note]
              for m in b.manual],
    } for b in batches], ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def decode(record: bytes) -> list[Batch]:
    return [Batch([Reading(e, m, _ts(ts), v) for e, m, ts, v in b["r"]],
                  [DeadLetter(s, reason, payload, _ts(ts)) for s, reason, payload, ts in b["d"]],
                  feed=b["feed"],
                  manual=[ManualEntry(Reading(e, m, _ts(ts), v), who, note) for e, m, ts, v, who, note in b["m"]])
            for b in json.loads(record.decode("utf-8", "surrogatepass"))]
