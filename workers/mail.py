"""Sending mail: one interface, `SmtpMailer` for a real server and `LogMailer` that only logs.

`send(mail, handover)` tells its caller the two moments that matter for sending exactly once:
`handover.prepare()` when the server is ready to take the message (after DATA's 354), and
`handover.commit()` right after the final dot is written, before the server's verdict. The
notifier records the mail as sent in `commit()`, so the only way to send twice is a crash in the
microseconds between the dot leaving and that commit (ADR 0005).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import smtplib
import ssl
import threading
from dataclasses import dataclass
from email.charset import QP, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlparse

log = logging.getLogger("subventio.mail")


def masked(address: str) -> str:
    """An address as logs may show it: `c***@l***` for `contact@lianes.example` (no personal data in logs)."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain[:1]}***" if domain else "***"

DEFAULT_SENDER = "Département – Subventions <ne-pas-repondre@subventio.invalid>"
# The compat32 MIME classes: several times faster than EmailMessage, and their RFC 2047 folding keeps
# the subject intact (the new policy's folder doubles the space before an encoded word it moves to a
# new line: "n'a pas  été").
UTF8_QP = Charset("utf-8")
UTF8_QP.body_encoding = QP


@dataclass(frozen=True)
class Mail:
    """One mail to an applicant: plain text and HTML alternatives of the same content."""

    to: str
    subject: str
    text: str
    html: str
    kind: str
    dossier_id: str
    message_id: str

    def header_message_id(self) -> str:
        """A Message-ID derived from the broker message: the same mail always carries the same id."""
        return f"<{hashlib.sha256(self.message_id.encode()).hexdigest()[:32]}@subventio>"

    def as_bytes(self, sender: str) -> bytes:
        """The MIME message: text and HTML alternatives, quoted-printable UTF-8, RFC 2047 headers."""
        message = MIMEMultipart("alternative")
        message["From"] = formataddr(parseaddr(sender), charset="utf-8")
        message["To"] = self.to
        message["Subject"] = Header(self.subject, "utf-8")
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = self.header_message_id()
        message["Content-Language"] = "fr"
        message["Auto-Submitted"] = "auto-generated"
        message.attach(MIMEText(self.text, "plain", UTF8_QP))
        message.attach(MIMEText(self.html, "html", UTF8_QP))
        return message.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class MailError(Exception):
    """The mail was not accepted; `temporary` says whether trying again later may work."""

    temporary = True


class MailRefused(MailError):
    """The server answered with an error code (4xx: try again later; 5xx: permanent)."""

    def __init__(self, code: int, reply: bytes | str, stage: str) -> None:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
        super().__init__(f"{stage}: {code} {text}")
        self.code = code
        self.temporary = 400 <= code < 500


class MailUnavailable(MailError):
    """No answer: the server is unreachable, or the connection dropped."""


class Handover(Protocol):
    def prepare(self) -> None:
        """The server is ready to take the message."""

    def commit(self) -> None:
        """The whole message has been handed over; the server's verdict is next."""


class NoHandover:
    def prepare(self) -> None:
        pass

    def commit(self) -> None:
        pass


class Mailer(Protocol):
    def send(self, mail: Mail, handover: Handover | None = None) -> None: ...

    def close(self) -> None: ...


class LogMailer:
    """The null mailer of the embedded default: logs the mail instead of sending it."""

    def __init__(self, sender: str = DEFAULT_SENDER) -> None:
        self.sender = sender

    def send(self, mail: Mail, handover: Handover | None = None) -> None:
        """Logs the mail (recipient, subject and text); always accepted."""
        handover = handover or NoHandover()
        handover.prepare()
        handover.commit()
        log.info("mail (not sent, no SMTP server configured) to %s: %s\n%s", masked(mail.to), mail.subject,
                 mail.text)

    def close(self) -> None:
        """Nothing to close."""


_LEADING_DOT = re.compile(rb"(?m)^\.")


class SmtpMailer:
    """Sends through an SMTP server given as `smtp://[user:password@]host:port[?from=...&starttls=1]`
    (or `smtps://`), keeping one connection open between mails; thread-safe."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("smtp", "smtps"):
            raise ValueError(f"unsupported SMTP URL scheme: {parsed.scheme!r}")
        query = parse_qs(parsed.query)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or (465 if parsed.scheme == "smtps" else 25)
        self.implicit_tls = parsed.scheme == "smtps"
        self.starttls = (query.get("starttls") or ["0"])[0] in ("1", "true", "yes")
        self.user = unquote(parsed.username) if parsed.username else None
        self.password = unquote(parsed.password) if parsed.password else None
        self.sender = (query.get("from") or [DEFAULT_SENDER])[0]
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        smtp: smtplib.SMTP
        if self.implicit_tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        smtp.ehlo_or_helo_if_needed()
        if self.starttls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if self.user:
            smtp.login(self.user, self.password or "")
        self._smtp = smtp
        return smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def send(self, mail: Mail, handover: Handover | None = None) -> None:
        """Sends one mail, or raises MailRefused (server said no) or MailUnavailable (no answer)."""
        handover = handover or NoHandover()
        data = _LEADING_DOT.sub(b"..", mail.as_bytes(self.sender))
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        with self._lock:
            for attempt in (1, 2):
                started = False
                try:
                    smtp = self._connect()
                    self._expect(smtp, smtp.mail(self.sender), (250,), "MAIL FROM")
                    self._expect(smtp, smtp.rcpt(mail.to), (250, 251), "RCPT TO")
                    self._expect(smtp, smtp.docmd("DATA"), (354,), "DATA")
                    started = True
                    handover.prepare()
                    smtp.send(data + b".\r\n")
                    handover.commit()
                    code, reply = smtp.getreply()
                except MailRefused:
                    raise
                except (smtplib.SMTPException, OSError) as exc:
                    self._drop()
                    if attempt == 1 and not started:
                        continue  # a connection kept open too long: one fresh try before anything was handed over
                    raise MailUnavailable(f"SMTP {self.host}:{self.port}: {exc}") from exc
                except BaseException:
                    self._drop()  # the handover failed mid-conversation: never reuse that connection
                    raise
                if code != 250:
                    raise MailRefused(code, reply, "end of DATA")
                return

    def _expect(self, smtp: smtplib.SMTP, answer: tuple[int, bytes], codes: tuple[int, ...], stage: str) -> None:
        code, reply = answer
        if code in codes:
            return
        if code == -1 or code == 421:
            self._drop()
            raise MailUnavailable(f"{stage}: {code} {reply!r}")
        try:
            smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()
        raise MailRefused(code, reply, stage)

    def close(self) -> None:
        """Says QUIT and closes the connection."""
        with self._lock:
            if self._smtp is not None:
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    self._smtp.quit()
                self._smtp = None


def mailer_for(smtp_url: str | None) -> SmtpMailer | LogMailer:
    """SMTP when a URL is configured, the log otherwise."""
    return SmtpMailer(smtp_url) if smtp_url else LogMailer()
