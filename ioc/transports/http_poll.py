"""HTTP polling transport: fetch a URL on the feed's schedule and hand the body to its parser.

One APScheduler job per feed (max_instances=1, coalesce, jitter) calls `HttpPoller.poll`. A poll
retries with exponential backoff within its timeout budget, sends conditional requests (ETag,
Last-Modified) when the API supports them, and takes credentials only from the environment: the
secret never reaches config files, logs, dead letters or health records.
"""

from __future__ import annotations

import logging
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.triggers.interval import IntervalTrigger

from ioc.config import FeedSpec
from ioc.ingest import Ingestor
from ioc.transports import TransportContext
from ioc.transports.contract import Parser

log = logging.getLogger(__name__)

USER_AGENT = "IOC/0.1 (+operations center)"


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]


class HttpPoller:
    def __init__(self, spec: FeedSpec, parser: Parser, ingestor: Ingestor, max_bytes: int):
        self.spec = spec
        self.parser = parser
        self.ingestor = ingestor
        self.max_bytes = max_bytes
        self._validators: dict[str, str] = {}  # ETag / Last-Modified of the last 200 answer

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json, text/csv;q=0.9, */*;q=0.5"}
        if etag := self._validators.get("etag"):
            headers["If-None-Match"] = etag
        if modified := self._validators.get("last-modified"):
            headers["If-Modified-Since"] = modified
        if auth := self.spec.auth:
            secret = os.environ.get(auth.env)
            if not secret:
                raise PermissionError(f"credential variable {auth.env} is not set")
            headers[auth.header] = f"{auth.scheme} {secret}" if auth.scheme else secret
        return headers

    def _fetch(self) -> Response:
        request = urllib.request.Request(self.spec.url, headers=self._headers())
        try:
            with urllib.request.urlopen(request, timeout=self.spec.timeout.total_seconds()) as answer:
                body = answer.read(self.max_bytes + 1)
                return Response(answer.status, body, {k.lower(): v for k, v in answer.headers.items()})
        except urllib.error.HTTPError as exc:
            return Response(exc.code, b"", {k.lower(): v for k, v in (exc.headers or {}).items()})

    def poll(self) -> None:
        """One scheduled poll: fetch (with retries), then ingest or record the failure."""
        name, attempts = self.spec.name, self.spec.retries + 1
        error = None
        for attempt in range(attempts):
            if attempt:
                time.sleep(min(2 ** (attempt - 1), self.spec.timeout.total_seconds()))
            try:
                response = self._fetch()
            except PermissionError as exc:
                error = str(exc)
                break  # a missing credential does not fix itself between retries
            except (OSError, ValueError) as exc:  # timeouts, refused connections, bad URLs
                error = f"request failed: {type(exc).__name__}: {exc}"
                continue
            if response.status == 304:
                self.ingestor.health.success(name, 0)
                return
            if response.status >= 500 or response.status == 429:
                error = f"HTTP {response.status}"
                continue
            if response.status != 200:
                error = f"HTTP {response.status}"
                break
            self._validators = {k: v for k, v in response.headers.items() if k in ("etag", "last-modified")}
            result = self.ingestor.ingest(self.spec.url, response.body, self.parser, feed=name)
            if result.rejected and not result.accepted:
                # Only the configured source answers a poll: an answer with nothing usable is its failure.
                self.ingestor.health.failure(name, result.rejected[0][:500])
            return
        self.ingestor.health.failure(name, f"{error} after {attempt + 1} attempt(s)")


def schedule(spec: FeedSpec, context: TransportContext) -> None:
    """The `http_poll` transport: one scheduler job per feed, first run now, 10 % jitter (at most 30 s)."""
    poller = HttpPoller(spec, context.parsers[spec.name], context.ingestor,
                        context.config.settings.ingest.max_payload_bytes)
    seconds = spec.interval.total_seconds()
    context.scheduler.add_job(poller.poll, IntervalTrigger(seconds=seconds, jitter=min(seconds / 10, 30)),
                              id=f"poll:{spec.name}", max_instances=1, coalesce=True,
                              next_run_time=datetime.now(UTC))
