"""The audit log: who changed what, when, with the value before and after.

Rows are written in the transaction of the change itself (so one exists exactly when the change does):
acknowledgements, assignments, comments, silences, shift notes, rules, manual entries, users and kiosk
tokens. Admins read it at /audit.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from ioc.db import frame


def audit(conn, actor: str, action: str, target: str, before: Any = None, after: Any = None) -> None:
    conn.execute("INSERT INTO audit_log (actor, action, target, before, after) VALUES (%s, %s, %s, %s, %s)",
                 (actor, action, target, None if before is None else Jsonb(before),
                  None if after is None else Jsonb(after)))


def audit_log(db: ConnectionPool, limit: int = 500) -> pd.DataFrame:
    """The newest `limit` audit rows, newest first."""
    with db.connection() as conn:
        return frame(conn, "SELECT id, at, actor, action, target, before, after FROM audit_log "
                           "ORDER BY id DESC LIMIT %s", (limit,))
