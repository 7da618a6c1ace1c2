"""E-mail through the configured SMTP relay: the one sender of the daily brief and of alert e-mails."""

from __future__ import annotations

import os
import smtplib
import ssl
from email.message import EmailMessage

from ioc.config import SmtpSettings


class PermanentError(Exception):
    """A failure that another attempt would not fix (HTTP 4xx, SMTP 5xx, configuration)."""


def send_mail(relay: SmtpSettings, mail: EmailMessage) -> None:
    """Deliver one message through the relay (alert e-mails, the daily brief). Raises PermanentError for
    what another attempt would not fix (SMTP 5xx, refused recipients, missing credentials), and
    ConnectionError/OSError for what it might."""
    user = password = None
    if relay.username_env:
        user = os.environ.get(relay.username_env)
        password = os.environ.get(relay.password_env) if relay.password_env else None
        if user is None or (relay.password_env and password is None):
            raise PermanentError(f"environment variable {relay.username_env} or {relay.password_env} not set")
    timeout = relay.timeout.total_seconds()
    context = ssl.create_default_context()
    try:
        smtp = (smtplib.SMTP_SSL(relay.host, relay.port, timeout=timeout, context=context) if relay.ssl
                else smtplib.SMTP(relay.host, relay.port, timeout=timeout))
        with smtp:
            if relay.starttls:
                smtp.starttls(context=context)
            if user is not None:
                smtp.login(user, password or "")
            smtp.send_message(mail, from_addr=relay.sender, to_addrs=relay.recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentError(f"SMTP refused every recipient: {exc.recipients}") from None
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise ConnectionError(f"SMTP {exc.smtp_code} {exc.smtp_error!r}") from None
        raise PermanentError(f"SMTP {exc.smtp_code} {exc.smtp_error!r}") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise PermanentError(str(exc)) from None
