"""Outgoing mail: SMTP when ``SMTP_HOST`` is set, else one ``.eml`` file per message under ``MAIL_DIR``.

The file fallback lets ``make run`` and the tests read what would have been sent; log lines
name the recipient's user id at most, never the message (it may carry a reset code).
"""
import logging
import os
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from config import settings
from maiascore.clock import utcnow

log = logging.getLogger("maiascore.mail")


def compose(to, subject, text):
    cfg = settings()
    message = EmailMessage()
    message["From"] = cfg.SMTP_FROM
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="maiascore")
    message.set_content(text)
    return message


def send(message):
    """Sends ``message``; raises ``OSError`` (``smtplib.SMTPException`` is one) when it cannot."""
    cfg = settings()
    if cfg.SMTP_HOST:
        with smtplib.SMTP(cfg.SMTP_HOST, cfg.SMTP_PORT, timeout=10) as smtp:
            if cfg.SMTP_STARTTLS:
                smtp.starttls(context=ssl.create_default_context())
            if cfg.SMTP_USER:
                smtp.login(cfg.SMTP_USER, cfg.SMTP_PASSWORD or "")
            smtp.send_message(message)
        return None
    return write_eml(message, Path(cfg.MAIL_DIR))


def write_eml(message, directory):
    """Written under a temporary name and renamed, so a reader never sees half a message; names sort
    in the order the messages were written. A message may carry a reset code: the file is the stack
    user's alone (0600) in a directory only they can list (0700)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    name = f"{utcnow().strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex[:8]}.eml"
    path = directory / name
    partial = directory / f".{name}.part"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(bytes(message))
    os.replace(partial, path)
    log.info("no SMTP_HOST: mail written to %s", path)
    return path
