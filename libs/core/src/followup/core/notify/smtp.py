"""E-mail over SMTP with aiosmtplib: one plain-text UTF-8 message per delivery."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from followup.core.notify.config import SmtpConfig
from followup.core.notify.models import Channel, Person
from followup.core.notify.render import Message
from followup.core.notify.senders import DELIVERED, Outcome, refused, retry
from followup.core.notify.store import Pending
from followup.core.notify.webhook import DELIVERY_ID_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER


def email_of(pending: Pending, person: Person, message: Message, sender: str) -> EmailMessage:
    """The message: Message-ID from the delivery id, so a resend is recognisably the same."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = person.email or ""
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = f"<{pending.delivery_id}@followup>"
    mail[EVENT_ID_HEADER] = pending.event_id
    mail[DELIVERY_ID_HEADER] = pending.delivery_id
    mail[EVENT_TYPE_HEADER] = pending.event_type
    mail["Content-Language"] = person.locale
    mail.set_content(message.body, charset="utf-8")
    return mail


class SmtpSender:
    """Sends through the configured submission server, one connection per message."""

    channel: Channel = "email"

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send(self, pending: Pending, person: Person, message: Message) -> Outcome:
        """One message; a 5xx reply is a refusal, 4xx and connection trouble are retried."""
        if person.email is None:
            return refused(f"no e-mail address configured for {person.id}")
        c = self.config
        mail = email_of(pending, person, message, c.sender)
        try:
            await aiosmtplib.send(
                mail,
                hostname=c.host,
                port=c.port,
                username=c.username,
                password=c.password(),
                use_tls=c.tls,
                start_tls=c.starttls if not c.tls else False,
                timeout=c.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            error = f"smtp: recipients refused {codes}"
            return refused(error) if all(code >= 500 for code in codes) else retry(error)
        except aiosmtplib.SMTPResponseException as exc:
            error = f"smtp: {exc.code} {exc.message}"
            return refused(error) if exc.code >= 500 else retry(error)
        except (aiosmtplib.SMTPException, OSError) as exc:
            return retry(f"smtp: {type(exc).__name__}: {exc}")
        return DELIVERED

    async def close(self) -> None:
        """Nothing held between messages."""
