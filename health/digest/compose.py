"""From a digest to an email: plain text and HTML (customer text escaped), an .eml file, SMTP."""

from __future__ import annotations

import html
import os
import re
import smtplib
import ssl
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from health.digest.content import Digest, Line
from health.digest.settings import DigestError, Settings, SmtpSettings

SUBJECTS = {
    "csm": "Your accounts: what changed since {since:%d %b}",
    "leader": "Weekly customer health: ARR at risk, renewals, disagreements",
}


@dataclass(frozen=True)
class Email:
    """A rendered digest: the message, who it is for, and the state key of its reader."""

    key: str
    file_name: str
    message: EmailMessage


def _text(digest: Digest, settings: Settings) -> str:
    out = [f"Hello {digest.reader},", "", *digest.headline, ""]
    for section in digest.sections:
        out += [section.title, "-" * len(section.title)]
        out += [f"- {line.text}\n  {_url(line, settings)}".rstrip() for line in section.lines]
        out += [f"- and {section.more} more"] if section.more else []
        out += [] if section.lines or section.more else [section.empty]
        out.append("")
    out.append(f"Open the app: {settings.base_url}")
    return "\n".join(out) + "\n"


def _url(line: Line, settings: Settings) -> str:
    return settings.account_url(line.account_id) if line.account_id else ""


def _html(digest: Digest, settings: Settings) -> str:
    e = html.escape  # every piece of text may hold customer-written words: escape it all
    parts = [f"<p>Hello {e(digest.reader)},</p>"]
    parts += [f"<p>{e(h)}</p>" for h in digest.headline]
    for section in digest.sections:
        parts.append(f"<h3>{e(section.title)}</h3>")
        items = [
            f'<li><a href="{e(_url(line, settings))}">{e(line.text)}</a></li>'
            if line.account_id
            else f"<li>{e(line.text)}</li>"
            for line in section.lines
        ]
        items += [f"<li>and {section.more} more</li>"] if section.more else []
        parts.append(f"<ul>{''.join(items)}</ul>" if items else f"<p>{e(section.empty)}</p>")
    parts.append(f'<p><a href="{e(settings.base_url)}">Open the app</a></p>')
    return "<html><body>" + "\n".join(parts) + "</body></html>\n"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "reader"


def compose(digest: Digest, settings: Settings, to: str = "") -> Email:
    """The digest as a multipart/alternative email (plain text first, then HTML)."""
    msg = EmailMessage()
    msg["Subject"] = SUBJECTS[digest.kind].format(since=digest.since)
    msg["From"] = settings.smtp.sender if settings.smtp else "customer-health@localhost"
    if to:
        msg["To"] = to
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="customer-health")
    msg.set_content(_text(digest, settings))
    msg.add_alternative(_html(digest, settings), subtype="html")
    name = f"{digest.as_of}-{digest.kind}-{_slug(digest.reader)}.eml"
    return Email(f"{digest.kind}:{digest.reader}", name, msg)


def write_eml(email: Email, folder: Path) -> Path:
    """Write the .eml file atomically (a temporary file, then a rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / email.file_name
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=email.file_name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(email.message.as_bytes())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def send(emails: list[Email], smtp: SmtpSettings) -> None:
    """Send over one SMTP connection upgraded with STARTTLS (refused if the server can't)."""
    context = ssl.create_default_context(cafile=smtp.ca_file or None)
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=30) as server:
            server.ehlo()
            if not server.has_extn("starttls"):
                raise DigestError(
                    f"{smtp.host}:{smtp.port} does not offer STARTTLS; the digest is never "
                    "sent in clear text. Use the server's submission port (587)."
                )
            server.starttls(context=context)
            server.ehlo()
            if smtp.username:
                server.login(smtp.username, smtp.password)
            for email in emails:
                server.send_message(email.message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DigestError(
            f"sending through {smtp.host}:{smtp.port} failed: {exc}. Check the [smtp] settings; "
            "the .eml files are written and the next digest covers the same changes."
        ) from None
