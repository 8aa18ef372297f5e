"""Deliver a rendered period where people read: a webhook (Slack-compatible or plain JSON) and
email (SMTP with STARTTLS, the period's index in the body, the worst reports attached).

Configured in the config file's ``[notify]`` table; secrets by reference, as everywhere::

    [notify]
    push = "changes"          # changes: new findings and persisting criticals (default) | all
    suites = ["weekly"]       # which suites `due` announces (default: every suite)

    [notify.webhook]
    url = { env = "DWCP_WEBHOOK_URL" }   # the URL holds the token: a secret
    format = "slack"                     # slack (incoming-webhook JSON) | json

    [notify.email]
    host = "smtp.example.com"
    port = 587
    username = "reports@example.com"
    password = { file = "/run/secrets/smtp-password" }
    sender = "dwcp-diag <reports@example.com>"
    to = ["sre@example.com"]
    attach_max_bytes = 10000000          # the worst reports' HTML, as many as fit

``dwcp-diag due`` notifies after a period renders; ``dwcp-diag render --notify`` on demand.
A delivery that fails is logged and recorded in ``ROOT/.notify-state.json``; the next ``due``
retries it. Notifying never changes, removes or delays a report.

>>> m = Message("weekly", "2026-W47", Path("r/weekly/2026-W47"), {"critical": 1, "warning": 2,
...     "info": 0}, [{"report": "memory", "severity": "critical", "check": "oom_killed",
...     "subject": {"pod": "w-1"}, "summary": "w-1 was OOM-killed 3 times.", "status": "new"}])
>>> print(m.text().splitlines()[0])
dwcp-diag weekly 2026-W47: 1 critical, 2 warning, 0 info
"""

from __future__ import annotations

import html
import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pandas as pd

from dwcp_diag.analysis.findings import SEVERITIES, SEVERITY_RANK
from dwcp_diag.config import find_config_file, read_config_file
from dwcp_diag.credentials import Secret, mask_url, scrub, secret_from_config
from dwcp_diag.errors import ConfigError
from dwcp_diag.report.compare import FINDINGS_SUFFIX, STATUS_PERSISTING, read_findings
from dwcp_diag.sources.snapshot import atomic_write_bytes

log = logging.getLogger("dwcp_diag.notify")

STATE_FILE = ".notify-state.json"
PUSH_MODES = ("changes", "all")
MAX_LINES = 20  # findings listed one line each; the rest are counted


@dataclass(frozen=True)
class WebhookSettings:
    url: Secret
    format: str = "slack"
    timeout_s: float = 10.0


@dataclass(frozen=True)
class EmailSettings:
    host: str
    to: tuple[str, ...]
    sender: str
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password: Secret | None = None
    ca_file: str | None = None
    attach_max_bytes: int = 10_000_000
    timeout_s: float = 30.0


@dataclass(frozen=True)
class NotifySettings:
    webhook: WebhookSettings | None = None
    email: EmailSettings | None = None
    push: str = "changes"
    suites: tuple[str, ...] | None = None

    def channels(self) -> list[str]:
        return [name for name in ("webhook", "email") if getattr(self, name) is not None]

    def secret_values(self) -> list[str]:
        secrets = [self.webhook.url if self.webhook else None]
        secrets.append(self.email.password if self.email else None)
        return [s.reveal() for s in secrets if s is not None and s.is_available()]


def load_notify(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> NotifySettings | None:
    """The ``[notify]`` table of the config file (found as for profiles), or None if absent."""
    import os

    environ = os.environ if environ is None else environ
    file_path = find_config_file(path, environ)
    table = read_config_file(file_path).get("notify") if file_path else None
    if not table:
        return None
    return parse_notify(table, environ)


def _check_keys(section: str, table: Any, valid: set[str]) -> Mapping[str, Any]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"[{section}] must be a table")
    unknown = set(table) - valid
    if unknown:
        raise ConfigError(
            f"[{section}]: unknown key(s) {sorted(unknown)}; valid: {', '.join(sorted(valid))}"
        )
    return table


def parse_notify(table: Mapping[str, Any], environ: Mapping[str, str]) -> NotifySettings:
    """Validate a ``[notify]`` table; every error is one line naming the key."""
    table = _check_keys("notify", table, {"push", "suites", "webhook", "email"})
    push = table.get("push", "changes")
    if push not in PUSH_MODES:
        raise ConfigError(f"notify.push = {push!r}; use one of {', '.join(PUSH_MODES)}")
    suites = table.get("suites")
    if suites is not None and not (
        isinstance(suites, list) and all(isinstance(s, str) for s in suites)
    ):
        raise ConfigError('notify.suites must be a list of suite names, e.g. ["weekly"]')
    webhook = email = None
    if "webhook" in table:
        hook = _check_keys("notify.webhook", table["webhook"], {"url", "format", "timeout_s"})
        url = secret_from_config(hook.get("url"), "notify.webhook.url", environ)
        if url is None:
            raise ConfigError('notify.webhook.url is required, e.g. { env = "DWCP_WEBHOOK_URL" }')
        fmt = hook.get("format", "slack")
        if fmt not in ("slack", "json"):
            raise ConfigError(f"notify.webhook.format = {fmt!r}; use slack or json")
        webhook = WebhookSettings(url, fmt, float(hook.get("timeout_s", 10.0)))
    if "email" in table:
        valid = {"host", "port", "starttls", "username", "password", "sender", "to"}
        valid |= {"ca_file", "attach_max_bytes", "timeout_s"}
        mail = _check_keys("notify.email", table["email"], valid)
        to = mail.get("to")
        if not (isinstance(to, list) and to and all(isinstance(a, str) and "@" in a for a in to)):
            raise ConfigError('notify.email.to must list addresses, e.g. ["sre@example.com"]')
        if not isinstance(mail.get("host"), str) or not isinstance(mail.get("sender"), str):
            raise ConfigError("notify.email needs host and sender (strings)")
        password = secret_from_config(mail.get("password"), "notify.email.password", environ)
        starttls = mail.get("starttls", True)
        if password is not None and starttls is not True:
            raise ConfigError("notify.email: a password is only sent over STARTTLS; set starttls")
        email = EmailSettings(
            host=mail["host"],
            to=tuple(to),
            sender=mail["sender"],
            port=int(mail.get("port", 587)),
            starttls=bool(starttls),
            username=mail.get("username"),
            password=password,
            ca_file=mail.get("ca_file"),
            attach_max_bytes=int(mail.get("attach_max_bytes", 10_000_000)),
            timeout_s=float(mail.get("timeout_s", 30.0)),
        )
    return NotifySettings(webhook, email, push, tuple(suites) if suites is not None else None)


# ---------------------------------------------------------------------------------- message


@dataclass
class Message:
    """What one rendered period says: counts, the findings worth pushing, where it is."""

    suite: str
    period: str
    folder: Path
    counts: dict[str, int]
    pushed: list[dict[str, Any]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)

    @property
    def index(self) -> Path:
        root = self.folder.parent.parent if self.suite != "adhoc" else self.folder
        return root / "index.html"

    def headline(self) -> str:
        counts = ", ".join(f"{self.counts.get(s, 0)} {s}" for s in SEVERITIES)
        return f"dwcp-diag {self.suite} {self.period}: {counts}"

    def lines(self) -> list[str]:
        out = []
        for f in self.pushed[:MAX_LINES]:
            subject = ", ".join(f"{k}={v}" for k, v in (f.get("subject") or {}).items())
            status = f.get("status", "new")
            out.append(
                f"[{f['severity']}] {status} {f['report']}/{f['check']} {subject}: {f['summary']}"
            )
        if len(self.pushed) > MAX_LINES:
            out.append(f"... and {len(self.pushed) - MAX_LINES} more")
        return out

    def text(self) -> str:
        return "\n".join([self.headline(), *self.lines(), f"index: {self.index}"])

    def payload(self, fmt: str) -> dict[str, Any]:
        """Slack incoming-webhook JSON (``text``), or a plain JSON document."""
        if fmt == "slack":
            return {"text": self.text()}
        return {
            "suite": self.suite,
            "period": self.period,
            "counts": self.counts,
            "findings": self.pushed,
            "index": str(self.index),
            "folder": str(self.folder),
        }

    def html(self) -> str:
        """The email body: the headline, the pushed findings and the period's index table."""
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines())
        rows = "".join(
            f"<tr><td><a href='{html.escape(r['html'])}'>{html.escape(r['name'])}</a></td>"
            f"<td>{html.escape(r['worst'] or 'ok')}</td><td>{r['findings']}</td></tr>"
            for r in self.reports
        )
        return (
            "<!DOCTYPE html><html><body style='font-family:system-ui,sans-serif'>"
            f"<h2>{html.escape(self.headline())}</h2><ul>{items}</ul>"
            "<table border='1' cellpadding='4' style='border-collapse:collapse'>"
            f"<tr><th>report</th><th>worst</th><th>findings</th></tr>{rows}</table>"
            f"<p>Index: {html.escape(str(self.index))}</p></body></html>"
        )


def wants_push(finding: Mapping[str, Any], push: str) -> bool:
    """``changes``: new findings (or a first period's) and persisting criticals; ``all``: all."""
    if push == "all":
        return True
    if finding.get("status") == STATUS_PERSISTING:
        return finding.get("severity") == "critical"
    return True


def build_message(suite: str, period: str, folder: Path, push: str = "changes") -> Message:
    """The message for the reports in ``folder`` (read back from their findings files)."""
    counts = dict.fromkeys(SEVERITIES, 0)
    pushed, reports = [], []
    for path in sorted(folder.glob(f"*{FINDINGS_SUFFIX}")):
        name = path.name.removesuffix(FINDINGS_SUFFIX)
        findings = read_findings(path) or []
        severities = [f.get("severity") for f in findings if f.get("severity") in SEVERITY_RANK]
        for severity in severities:
            counts[severity] += 1
        worst = min(severities, key=SEVERITY_RANK.__getitem__) if severities else None
        reports.append({"name": name, "html": str(folder / f"{name}.html"), "worst": worst,
                        "findings": len(findings)})  # fmt: skip
        pushed += [{"report": name, **f} for f in findings if wants_push(f, push)]
    pushed.sort(key=lambda f: (SEVERITY_RANK.get(f.get("severity"), 9), f["report"]))
    return Message(suite, period, folder, counts, pushed, reports)


# --------------------------------------------------------------------------------- channels


def send_webhook(settings: WebhookSettings, message: Message) -> None:
    body = json.dumps(message.payload(settings.format)).encode()
    request = urllib.request.Request(
        settings.url.reveal(),
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "dwcp-diag"},
    )
    with urllib.request.urlopen(request, timeout=settings.timeout_s) as response:
        response.read()


def worst_reports(message: Message, limit_bytes: int) -> list[Path]:
    """The HTML reports to attach: worst first, as many as fit under ``limit_bytes`` together."""
    order = sorted(
        message.reports,
        key=lambda r: (SEVERITY_RANK.get(r["worst"], 9), -r["findings"], r["name"]),
    )
    chosen, total = [], 0
    for report in order:
        path = Path(report["html"])
        if report["worst"] is None or not path.is_file():
            continue
        size = path.stat().st_size
        if total + size <= limit_bytes:
            chosen.append(path)
            total += size
    return chosen


def send_email(settings: EmailSettings, message: Message) -> None:
    mail = EmailMessage()
    mail["Subject"] = message.headline()
    mail["From"] = settings.sender
    mail["To"] = ", ".join(settings.to)
    mail.set_content(message.text())
    mail.add_alternative(message.html(), subtype="html")
    for path in worst_reports(message, settings.attach_max_bytes):
        mail.add_attachment(path.read_text(encoding="utf-8"), subtype="html", filename=path.name)
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s) as smtp:
        smtp.ehlo()
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context(cafile=settings.ca_file))
            smtp.ehlo()
        if settings.username:
            password = settings.password.reveal() if settings.password else ""
            smtp.login(settings.username, password)
        smtp.send_message(mail)


def _describe(exc: BaseException, secrets: Sequence[str]) -> str:
    """A one-line reason with every secret scrubbed (a webhook URL is its own secret)."""
    if isinstance(exc, urllib.error.HTTPError):
        reason = f"HTTP {exc.code} {exc.reason}"
    elif isinstance(exc, urllib.error.URLError):
        reason = f"cannot connect: {exc.reason}"
    else:
        reason = f"{type(exc).__name__}: {exc}"
    reason = scrub(reason, list(secrets))
    for secret in secrets:
        if "://" in secret:
            reason = reason.replace(mask_url(secret), "***")
    return reason


def deliver(settings: NotifySettings, message: Message, channels: Sequence[str]) -> dict[str, str]:
    """Send on each channel; returns ``{channel: reason}`` for the ones that failed."""
    senders = {"webhook": (send_webhook, settings.webhook), "email": (send_email, settings.email)}
    failed = {}
    for channel in channels:
        send, channel_settings = senders[channel]
        if channel_settings is None:
            continue
        try:
            send(channel_settings, message)
        except Exception as exc:  # delivery must never break the run that rendered the report
            failed[channel] = _describe(exc, settings.secret_values())
            log.warning(
                "notify: %s delivery of %s %s failed: %s (retried on the next due)",
                channel,
                message.suite,
                message.period,
                failed[channel],
            )
        else:
            log.info("notify: %s sent for %s %s", channel, message.suite, message.period)
    return failed


# -------------------------------------------------------------------------------- the state


class NotifyState:
    """Deliveries that failed (to retry) and the last ones sent, next to the reports."""

    def __init__(self, root: Path) -> None:
        self.path = root / STATE_FILE
        self.data: dict[str, Any] = {"pending": [], "sent": []}
        if self.path.is_file():
            try:
                self.data = {**self.data, **json.loads(self.path.read_text(encoding="utf-8"))}
            except ValueError:
                log.warning("notify: %s is corrupt; starting a new one", self.path)

    @property
    def pending(self) -> list[dict[str, Any]]:
        return self.data["pending"]

    def record(self, message: Message, failed: Mapping[str, str], attempts: int = 1) -> None:
        now = pd.Timestamp.now(tz="UTC").isoformat()
        key = (message.suite, message.period)
        self.data["pending"] = [p for p in self.pending if (p["suite"], p["period"]) != key]
        if failed:
            self.pending.append(
                {
                    "suite": message.suite,
                    "period": message.period,
                    "folder": str(message.folder),
                    "channels": sorted(failed),
                    "errors": dict(failed),
                    "attempts": attempts,
                    "last_attempt": now,
                }
            )
        else:
            self.data["sent"] = [*self.data["sent"], {"suite": message.suite,
                                 "period": message.period, "at": now}][-50:]  # fmt: skip
        atomic_write_bytes(self.path, json.dumps(self.data, indent=1, sort_keys=True).encode())


def notify_period(
    settings: NotifySettings,
    root: Path,
    suite: str,
    period: str,
    folder: Path,
    channels: Sequence[str] | None = None,
    attempts: int = 1,
) -> dict[str, str]:
    """Build and send the period's message; record a failure for the next ``due`` to retry."""
    message = build_message(suite, period, folder, settings.push)
    state = NotifyState(root)
    if settings.push == "changes" and not message.pushed:
        log.info("notify: %s %s has nothing new to push", suite, period)
        state.record(message, {})
        return {}
    failed = deliver(settings, message, channels or settings.channels())
    state.record(message, failed, attempts)
    return failed


def retry_pending(settings: NotifySettings, root: Path) -> int:
    """Retry every recorded failed delivery under ``root``; returns how many still fail."""
    still = 0
    for entry in list(NotifyState(root).pending):
        folder = Path(entry["folder"])
        if not folder.is_dir():
            log.warning("notify: %s is gone; dropping its pending delivery", folder)
            NotifyState(root).record(Message(entry["suite"], entry["period"], folder, {}), {})
            continue
        failed = notify_period(
            settings,
            root,
            entry["suite"],
            entry["period"],
            folder,
            entry["channels"],
            entry.get("attempts", 1) + 1,
        )
        still += bool(failed)
    return still
