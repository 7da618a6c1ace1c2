"""Rules in the database: config/alerts.yaml seeds them, people edit them, every change is history.

A rule edited by a person (its `source` is that person) is kept across restarts even when the config
file changes; a rule still at its config version follows the file. The engine reloads the rules
whenever the table changes.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool
from pydantic import ValidationError

from ioc.alerts.actions import ActionError, _who
from ioc.alerts.rules import Rule, rule_problem
from ioc.alerts.text import template_problem
from ioc.audit import audit
from ioc.auth import User
from ioc.config import Config

log = logging.getLogger(__name__)
CONFIG = "config"


def definition(rule: Rule) -> dict[str, Any]:
    return rule.model_dump(mode="json", by_alias=True, exclude_defaults=True)


def _history(conn, name: str, value: dict | None, who: str) -> None:
    before = conn.execute("SELECT definition FROM alert_rule_history WHERE name = %s ORDER BY id DESC LIMIT 1",
                          (name,)).fetchone()
    conn.execute("INSERT INTO alert_rule_history (name, definition, changed_by) VALUES (%s, %s, %s)",
                 (name, Jsonb(value) if value is not None else None, who))
    if who != CONFIG:
        audit(conn, who, "rule.save" if value is not None else "rule.delete", f"rule:{name}",
              before[0] if before else None, value)


def rule_domain(config: Config, rule: Rule) -> str | None:
    """The domain a rule belongs to: its scope's, its metric's or its feed's (None: all domains)."""
    if rule.scope.domain:
        return rule.scope.domain
    if rule.metric in config.metrics:
        return config.metrics[rule.metric].domain
    feed = next((f for f in config.feeds if f.name == rule.feed), None)
    return feed.domain if feed else None


def rule_readable(config: Config, definition: dict, domains: list[str] | None) -> bool:
    """Whether a reader of `domains` (None: every domain) may see a stored rule: one of their domains', or a
    rule of no single domain (a multi-domain feed's silence). A definition that no longer validates is
    shown only to readers of every domain."""
    if domains is None:
        return True
    try:
        domain = rule_domain(config, Rule.model_validate(definition))
    except ValueError:
        return False
    return domain is None or domain in domains


def _may_edit(config: Config, who: str | User, *rules: Rule | None) -> None:
    """An officer edits only rules of their own domains (both the rule as it was and as it becomes)."""
    if isinstance(who, User) and not all(who.can_edit_rules(rule_domain(config, r)) for r in rules if r):
        raise ActionError("action.forbidden")


def sync_rules(pool: ConnectionPool, config_rules: list[Rule]) -> None:
    """Bring config rules into the table, leaving people's edits alone."""
    wanted = {r.name: definition(r) for r in config_rules}
    with pool.connection() as conn, conn.transaction():
        stored = {name: (value, source) for name, value, source in
                  conn.execute("SELECT name, definition, source FROM alert_rules")}
        for name, value in wanted.items():
            current = stored.get(name)
            if current is None or (current[1] == CONFIG and current[0] != value):
                conn.execute("INSERT INTO alert_rules (name, definition, source) VALUES (%s, %s, %s) "
                             "ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, "
                             "source = excluded.source, updated_at = now(), broken = NULL, broken_at = NULL",
                             (name, Jsonb(value), CONFIG))
                _history(conn, name, value, CONFIG)
            elif current[1] != CONFIG and current[0] != value:
                log.info("rule %s keeps the edit by %s (config/alerts.yaml differs)", name, current[1])
        for name, (_, source) in stored.items():
            if source == CONFIG and name not in wanted:
                conn.execute("DELETE FROM alert_rules WHERE name = %s", (name,))
                _history(conn, name, None, CONFIG)


def effective_rules(pool: ConnectionPool, config: Config) -> list[Rule]:
    """The rules in force, as stored; a stored rule that no longer validates is skipped and logged."""
    rules = []
    with pool.connection() as conn:
        for name, value in conn.execute("SELECT name, definition FROM alert_rules ORDER BY name"):
            try:
                rule = Rule.model_validate(value)
            except ValidationError as exc:
                log.error("stored rule %s is not valid and is skipped: %s", name, exc.errors()[0]["msg"])
                continue
            if problem := rule_problem(config, rule):
                log.error("stored rule %s is skipped: %s: %s", name, *problem)
                continue
            rules.append(rule)
    return rules


def rules_version(pool: ConnectionPool) -> tuple[int, datetime | None]:
    with pool.connection() as conn:
        return tuple(conn.execute("SELECT count(*), max(updated_at) FROM alert_rules").fetchone())


def save_rule(pool: ConnectionPool, config: Config, value: dict[str, Any], who: str | User) -> Rule:
    """Validate and store a rule edited (or created) by a person; ActionError says what is wrong."""
    actor, who = who, _who(who)
    message = value.get("message")
    for text in message.values() if isinstance(message, dict) else ():
        if isinstance(text, str) and (problem := template_problem(text)):
            raise ActionError(problem[0], **problem[1])  # said in the user's language, before anything else
    try:
        rule = Rule.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ActionError("action.rule_invalid", where=".".join(map(str, first["loc"])) or "rule",
                          reason=first["msg"].removeprefix("Value error, ")) from None
    if problem := rule_problem(config, rule):
        raise ActionError("action.rule_invalid", where=problem[0], reason=problem[1])
    with pool.connection() as conn, conn.transaction():
        stored = conn.execute("SELECT definition FROM alert_rules WHERE name = %s", (rule.name,)).fetchone()
        _may_edit(config, actor, rule, Rule.model_validate(stored[0]) if stored else None)
        conn.execute("INSERT INTO alert_rules (name, definition, source) VALUES (%s, %s, %s) ON CONFLICT (name) "
                     "DO UPDATE SET definition = excluded.definition, source = excluded.source, updated_at = now(), "
                     "broken = NULL, broken_at = NULL",  # an edited rule gets its chance again
                     (rule.name, Jsonb(definition(rule)), who))
        _history(conn, rule.name, definition(rule), who)
    return rule


def revert_rule(pool: ConnectionPool, name: str, who: str | User, config_rules: list[Rule],
                config: Config | None = None) -> None:
    """Back to the config file's version of a rule, or removed when the file has none."""
    actor, who = who, _who(who)
    seed = next((r for r in config_rules if r.name == name), None)
    with pool.connection() as conn, conn.transaction():
        if isinstance(actor, User):
            stored = conn.execute("SELECT definition FROM alert_rules WHERE name = %s", (name,)).fetchone()
            if config is None:
                raise ActionError("action.forbidden")
            _may_edit(config, actor, seed, Rule.model_validate(stored[0]) if stored else None)
        if seed is None:
            if conn.execute("DELETE FROM alert_rules WHERE name = %s RETURNING name", (name,)).fetchone() is None:
                raise ActionError("action.no_rule", rule=name)
            _history(conn, name, None, who)
        else:
            conn.execute("UPDATE alert_rules SET definition = %s, source = %s, updated_at = now(), broken = NULL, "
                         "broken_at = NULL WHERE name = %s", (Jsonb(definition(seed)), CONFIG, name))
            _history(conn, name, definition(seed), who)
