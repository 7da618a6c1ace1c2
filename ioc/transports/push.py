"""HTTP push: POST /api/v1/readings for sources that send rather than being polled.

Each `http_push` feed has its own token, read from the environment variable its config names; the
token picks the feed (and so its parser: native JSON or SenML) and what it may write: its feed's
domain, and only the listed entities when the feed lists them. Only a SHA-256 digest of each token is
kept in memory, compared in constant time. The answer comes after the readings are committed and
counts what was stored, what was already there (a resend: duplicate) and what was rejected, with reasons.

Answers: 200 something was valid; 400 the body is not JSON; 401 no or unknown token; 405 not a POST;
413 too large; 415 not a JSON Content-Type; 422 nothing in it was valid; 503 not committed in time
(retry: a repeated reading is stored once). Refused tokens are logged as a rate, once a minute at most.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import time

from flask import Flask, jsonify, request

from ioc.config import FeedSpec
from ioc.ingest import Ingestor
from ioc.transports.contract import Parser

log = logging.getLogger(__name__)

COMMIT_WAIT = 10.0  # seconds to wait for the commit before answering 503 (a retry is stored once)
JSON_TYPES = ("application/json", "application/senml+json")
REFUSED_LOG_EVERY = 60.0  # seconds between two log lines about refused tokens


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class RefusedTokens:
    """Counts refused tokens per client address and logs them as a rate: a guessing sender costs one
    line a minute, not one per attempt."""

    def __init__(self, every: float = REFUSED_LOG_EVERY):
        self.every = every
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._since = time.monotonic()
        self.total = 0

    def add(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            self.total += 1
            self._counts[address] = self._counts.get(address, 0) + 1
            if len(self._counts) > 1000:  # a spray of addresses: keep the count, not every address
                self._counts = {"(many)": sum(self._counts.values())}
            first = self.total == 1
            if not first and now - self._since < self.every:
                return
            counts, span = self._counts, max(now - self._since, 1.0)
            self._counts, self._since = {}, now
        worst = sorted(counts.items(), key=lambda kv: -kv[1])[:5]
        log.warning("push API: %d refused token(s) in the last %.0f s (%.2f/s), by address: %s",
                    sum(counts.values()), span, sum(counts.values()) / span,
                    ", ".join(f"{a} ×{n}" for a, n in worst))


class PushEndpoint:
    def __init__(self, feeds: list[FeedSpec], parsers: dict[str, Parser], ingestor: Ingestor, max_bytes: int):
        self.ingestor = ingestor
        self.parsers = parsers
        self.max_bytes = max_bytes
        self.tokens: list[tuple[bytes, FeedSpec]] = []
        self.refused = RefusedTokens()
        for spec in feeds:
            if spec.transport != "http_push" or not spec.enabled:
                continue
            token = os.environ.get(spec.token_env or "")
            if token:
                self.tokens.append((_digest(token), spec))
            else:
                log.warning("push feed %s has no token: set %s to accept its data", spec.name, spec.token_env)

    def feed_for(self, authorization: str | None) -> FeedSpec | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        offered = _digest(authorization.removeprefix("Bearer ").strip())
        found = None
        for digest, spec in self.tokens:  # no early exit: the time taken does not tell which token matched
            if hmac.compare_digest(digest, offered):
                found = spec
        return found

    def register(self, server: Flask) -> None:
        # Every method is routed here (else a GET would fall through to the dashboard's catch-all page).
        server.add_url_rule("/api/v1/readings", "push_readings", self.receive,
                            methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])

    def receive(self):
        if request.method != "POST":
            return jsonify({"error": "only POST is accepted here"}), 405, {"Allow": "POST"}
        spec = self.feed_for(request.headers.get("Authorization"))
        if spec is None:
            self.refused.add(request.remote_addr or "?")
            return jsonify({"error": "missing or unknown token"}), 401
        if request.content_length is not None and request.content_length > self.max_bytes:
            return jsonify({"error": f"payload too large: more than {self.max_bytes} bytes"}), 413
        if request.mimetype not in JSON_TYPES:
            return jsonify({"error": f"Content-Type must be one of {', '.join(JSON_TYPES)}"}), 415
        payload = request.stream.read(self.max_bytes + 1)
        if len(payload) > self.max_bytes:
            return jsonify({"error": f"payload too large: more than {self.max_bytes} bytes"}), 413
        try:
            json.loads(payload.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            reason = str(exc).splitlines()[0][:200] if not isinstance(exc, RecursionError) else "nested too deeply"
            return jsonify({"error": f"malformed JSON: {reason}"}), 400
        committed = threading.Event()
        result = self.ingestor.ingest(f"http_push:{spec.name}", payload, self.parsers[spec.name],
                                      on_commit=committed.set, feed=spec.name, domain=spec.domain,
                                      entities=spec.entities)
        if not committed.wait(COMMIT_WAIT):
            return jsonify({"error": "not stored yet; retry (a repeated reading is stored once)"}), 503
        batch = result.batch
        # None: the database was away and the readings wait in the spool (written once it is back).
        stored = batch.stored if batch is not None and batch.stored is not None else None
        answer = {"feed": spec.name, "accepted": result.accepted,
                  "stored": result.accepted if stored is None else stored,
                  "duplicate": 0 if stored is None else result.accepted - stored,
                  "rejected": len(result.rejected), "reasons": result.rejected[:100]}
        if stored is None and result.accepted:
            answer["queued"] = True
        return jsonify(answer), 200 if result.accepted or not result.rejected else 422
