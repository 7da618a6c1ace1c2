"""HTTP push: POST /api/v1/readings for sources that send rather than being polled.

Each `http_push` feed has its own token, read from the environment variable its config names; the
token picks the feed (and so its parser: native JSON or SenML). Only a SHA-256 digest of each token is
kept in memory, compared in constant time. The answer comes after the readings are committed, and
counts what was accepted and what was rejected, with reasons.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading

from flask import Flask, jsonify, request

from ioc.config import FeedSpec
from ioc.ingest import Ingestor
from ioc.transports.contract import Parser

log = logging.getLogger(__name__)

COMMIT_WAIT = 10.0  # seconds to wait for the commit before answering 503 (a retry is stored once)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class PushEndpoint:
    def __init__(self, feeds: list[FeedSpec], parsers: dict[str, Parser], ingestor: Ingestor, max_bytes: int):
        self.ingestor = ingestor
        self.parsers = parsers
        self.max_bytes = max_bytes
        self.tokens: list[tuple[bytes, str]] = []
        for spec in feeds:
            if spec.transport != "http_push" or not spec.enabled:
                continue
            token = os.environ.get(spec.token_env or "")
            if token:
                self.tokens.append((_digest(token), spec.name))
            else:
                log.warning("push feed %s has no token: set %s to accept its data", spec.name, spec.token_env)

    def feed_for(self, authorization: str | None) -> str | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        offered = _digest(authorization.removeprefix("Bearer ").strip())
        found = None
        for digest, name in self.tokens:  # no early exit: the time taken does not tell which token matched
            if hmac.compare_digest(digest, offered):
                found = name
        return found

    def register(self, server: Flask) -> None:
        server.add_url_rule("/api/v1/readings", "push_readings", self.receive, methods=["POST"])

    def receive(self):
        feed = self.feed_for(request.headers.get("Authorization"))
        if feed is None:
            return jsonify({"error": "missing or unknown token"}), 401
        if request.content_length is not None and request.content_length > self.max_bytes:
            return jsonify({"error": f"payload too large: more than {self.max_bytes} bytes"}), 413
        payload = request.stream.read(self.max_bytes + 1)
        committed = threading.Event()
        result = self.ingestor.ingest(f"http_push:{feed}", payload, self.parsers[feed], on_commit=committed.set,
                                      feed=feed)
        if not committed.wait(COMMIT_WAIT):
            return jsonify({"error": "not stored yet; retry (a repeated reading is stored once)"}), 503
        return jsonify({"feed": feed, "accepted": result.accepted, "rejected": len(result.rejected),
                        "reasons": result.rejected[:100]}), 200
