"""Who may do what. Pure: the user as the session knows them, and the rules of the four roles.

- operator: reads every domain, acknowledges (assigns, comments, silences, shift notes)
- officer:  their own domains only — reads, acknowledges, edits their rules, enters figures by hand
- leader:   reads every domain, reads and builds briefs
- admin:    everything, including users, feeds, rules and the audit log
A wall screen signs in with a kiosk token: it reads the wall views and nothing else.
Every check is made on the server (ioc.auth.http gates routes and callbacks; the actions check again).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

ROLES = ("operator", "officer", "leader", "admin")
KIOSK = "kiosk"

# What a page or callback needs, declared by each page (`dash.register_page(..., access=...)`):
#   "wall"  — kiosk screens and every signed-in person;  "read" — every signed-in person;
#   "brief" — leaders and admins;  "manual" — officers and admins;  "admin" — admins only.
ACCESS_LEVELS = ("wall", "read", "brief", "manual", "admin")


class Forbidden(PermissionError):
    """The signed-in user may not do this; `key` is the i18n message saying why."""

    def __init__(self, key: str = "auth.forbidden", **params: object):
        self.key, self.params = key, params
        super().__init__(key)


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    role: str  # one of ROLES, or KIOSK for a wall screen
    domains: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_kiosk(self) -> bool:
        return self.role == KIOSK

    def can_read(self, domain: str | None) -> bool:
        """Reading a domain's data (None: data of no particular domain, e.g. a feed's health)."""
        if self.role == "officer":
            return domain is None or domain in self.domains
        return True

    def readable(self, domains: Iterable[str]) -> list[str]:
        return [d for d in domains if self.can_read(d)]

    def may(self, access: str) -> bool:
        """Whether this user may open a page or run a callback declaring `access`."""
        if self.is_kiosk:
            return access == "wall"
        return {
            "wall": True, "read": True,
            "brief": self.role in ("leader", "admin"),
            "manual": self.role in ("officer", "admin"),
            "admin": self.role == "admin",
        }.get(access, False)

    def can_acknowledge(self, domain: str | None) -> bool:
        """Acknowledge, assign, comment, silence and note alerts of `domain`."""
        return self.role in ("operator", "admin") or (self.role == "officer" and self.can_read(domain))

    def can_edit_rules(self, domain: str | None) -> bool:
        return self.role == "admin" or (self.role == "officer" and domain is not None and domain in self.domains)

    def can_enter(self, domain: str | None) -> bool:
        """Manual entry of figures for `domain`."""
        return self.role == "admin" or (self.role == "officer" and domain is not None and domain in self.domains)

    def require(self, allowed: bool) -> None:
        if not allowed:
            raise Forbidden()
