"""Delivery to real receivers: a loopback webhook server and an aiosmtpd SMTP server (STARTTLS).

Each asserts the message's content and that no secret (the webhook URL's token, the SMTP
password) appears in it, in the logs, in the reports or in the notify state; a receiver that
is down or answers 500 leaves the reports intact and a retry recorded, done by the next `due`.
"""

from __future__ import annotations

import http.server
import json
import logging
from pathlib import Path

import pytest

from dwcp_diag.cli import main
from dwcp_diag.errors import ConfigError
from dwcp_diag.report.notify import Message, build_message, parse_notify, worst_reports
from tests.fixtures.loopback_http import loopback_http_server
from tests.fixtures.smtp import smtp_server

pytestmark = pytest.mark.server  # every test here renders (kernels) or runs a server

NOTEBOOKS = Path(__file__).parent / "notebooks"
HOOK_TOKEN = "T0KEN-hook-5ecret-91"
SMTP_PASSWORD = "smtp-Pa55-5ecret-77"
SECRETS = (HOOK_TOKEN, SMTP_PASSWORD)
SUITE = '[suites.weekly]\nnotebooks = ["sample"]\nevery = "week"\n'


class Receiver:
    """A webhook endpoint recording each POST; ``status`` is what it answers."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        self.status = 200
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                receiver.paths.append(self.path)
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok" if receiver.status == 200 else b"boom")

            def log_message(self, *args) -> None:
                pass

        self.httpd, self.url, thread = loopback_http_server(Handler)
        thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def configure(tmp_path, monkeypatch, notify: str, hook_url: str | None = None) -> Path:
    config = tmp_path / "dwcp-diag.toml"
    config.write_text(SUITE + notify)
    monkeypatch.setenv("DWCP_CONFIG", str(config))
    monkeypatch.setenv("DWCP_NOTEBOOK_DIR", str(NOTEBOOKS))
    if hook_url:
        monkeypatch.setenv("TEST_WEBHOOK_URL", f"{hook_url}/hooks/{HOOK_TOKEN}")
    monkeypatch.setenv("TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    return tmp_path / "reports"


WEBHOOK = '[notify.webhook]\nurl = { env = "TEST_WEBHOOK_URL" }\nformat = "%s"\n'


def no_secret_below(root: Path, *texts: str) -> None:
    files = [p for p in root.rglob("*") if p.is_file()]
    for text in [*texts, *(p.read_text(errors="replace") for p in files)]:
        for secret in SECRETS:
            assert secret not in text


def due(root: Path, now: str) -> int:
    return main(["due", "--source", "demo", "--out", str(root), "--jobs", "1", "--now", now])


def test_webhook_gets_slack_json_then_only_what_changed(tmp_path, monkeypatch, receiver, caplog):
    caplog.set_level(logging.INFO)
    root = configure(tmp_path, monkeypatch, WEBHOOK % "slack", receiver.url)
    assert due(root, "2026-11-16T07:00Z") == 0
    assert receiver.paths == [f"/hooks/{HOOK_TOKEN}"]
    (body,) = receiver.bodies
    lines = body["text"].splitlines()
    assert lines[0] == "dwcp-diag weekly 2026-W46: 0 critical, 1 warning, 0 info"
    assert lines[1] == "[warning] new sample/latency_slo_breach path=/a: p95 of /a reached 300 ms."
    assert lines[-1] == f"index: {root / 'index.html'}"
    # week 47: the same warning persists: nothing new, no weekly spam
    assert due(root, "2026-11-23T07:00Z") == 0
    assert len(receiver.bodies) == 1
    assert "nothing new to push" in caplog.text
    state = json.loads((root / ".notify-state.json").read_text())
    assert state["pending"] == []
    assert [s["period"] for s in state["sent"]] == ["2026-W46", "2026-W47"]
    no_secret_below(root, caplog.text)


def test_plain_json_body_with_push_all(tmp_path, monkeypatch, receiver):
    root = configure(
        tmp_path, monkeypatch, '[notify]\npush = "all"\n' + WEBHOOK % "json", receiver.url
    )
    assert due(root, "2026-11-16T07:00Z") == 0
    assert due(root, "2026-11-23T07:00Z") == 0
    first, second = receiver.bodies
    assert first["suite"] == "weekly" and first["period"] == "2026-W46"
    assert first["counts"] == {"critical": 0, "warning": 1, "info": 0}
    assert [f["check"] for f in first["findings"]] == ["latency_slo_breach"]
    assert "status" not in first["findings"][0]  # a first period has no status
    assert second["findings"][0]["status"] == "persisting"
    assert second["index"] == str(root / "index.html")


def test_a_500_keeps_the_report_and_is_retried_by_the_next_due(
    tmp_path, monkeypatch, receiver, caplog
):
    root = configure(tmp_path, monkeypatch, WEBHOOK % "slack", receiver.url)
    receiver.status = 500
    assert due(root, "2026-11-16T07:00Z") == 0  # delivery never fails the run
    period = root / "weekly" / "2026-W46"
    assert (period / "sample.html").is_file() and (period / "sample.findings.json").is_file()
    (pending,) = json.loads((root / ".notify-state.json").read_text())["pending"]
    assert pending["period"] == "2026-W46" and pending["channels"] == ["webhook"]
    assert pending["errors"]["webhook"] == "HTTP 500 Internal Server Error"
    assert pending["attempts"] == 1
    assert "webhook delivery of weekly 2026-W46 failed: HTTP 500" in caplog.text
    receiver.status = 200
    assert due(root, "2026-11-16T09:00Z") == 0  # nothing due, but the retry goes out
    assert len(receiver.bodies) == 2
    assert receiver.bodies[0] == receiver.bodies[1]
    assert json.loads((root / ".notify-state.json").read_text())["pending"] == []
    no_secret_below(root, caplog.text)


def test_a_receiver_that_is_down_is_recorded_without_the_url(tmp_path, monkeypatch, caplog):
    closed = Receiver()
    url = closed.url
    closed.close()
    root = configure(tmp_path, monkeypatch, WEBHOOK % "slack", url)
    assert due(root, "2026-11-16T07:00Z") == 0
    assert (root / "weekly" / "2026-W46" / "sample.html").is_file()
    (pending,) = json.loads((root / ".notify-state.json").read_text())["pending"]
    assert pending["errors"]["webhook"].startswith("cannot connect")
    no_secret_below(root, caplog.text)


def test_email_over_starttls_with_index_body_and_worst_report_attached(
    tmp_path, monkeypatch, caplog
):
    caplog.set_level(logging.INFO)
    with smtp_server(tmp_path, "reports", SMTP_PASSWORD) as smtp:
        email = (
            "[notify.email]\n"
            f'host = "127.0.0.1"\nport = {smtp.port}\nusername = "reports"\n'
            'password = { env = "TEST_SMTP_PASSWORD" }\n'
            'sender = "dwcp-diag <reports@example.com>"\n'
            'to = ["sre@example.com", "lead@example.com"]\n'
            f'ca_file = "{smtp.cert}"\n'
        )
        root = configure(tmp_path, monkeypatch, email)
        assert due(root, "2026-11-16T07:00Z") == 0
    (mail,) = smtp.messages
    assert smtp.logins == ["reports"]
    assert smtp.recipients == [["sre@example.com", "lead@example.com"]]
    assert mail["Subject"] == "dwcp-diag weekly 2026-W46: 0 critical, 1 warning, 0 info"
    html_body = mail.get_body(("html",)).get_content()
    assert "latency_slo_breach" in html_body and "sample" in html_body
    assert str(root / "weekly" / "2026-W46" / "sample.html") in html_body
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_filename() == "sample.html"
    report = (root / "weekly" / "2026-W46" / "sample.html").read_text()
    assert attachment.get_content().replace("\r\n", "\n") == report  # SMTP sends CRLF
    no_secret_below(root, caplog.text, *(raw.decode(errors="replace") for raw in smtp.raw))


def test_a_wrong_smtp_password_is_a_recorded_failure_without_the_password(
    tmp_path, monkeypatch, caplog
):
    with smtp_server(tmp_path, "reports", "another-password") as smtp:
        email = (
            f'[notify.email]\nhost = "127.0.0.1"\nport = {smtp.port}\nusername = "reports"\n'
            'password = { env = "TEST_SMTP_PASSWORD" }\nsender = "r@example.com"\n'
            f'to = ["sre@example.com"]\nca_file = "{smtp.cert}"\ntimeout_s = 3\n'
        )
        root = configure(tmp_path, monkeypatch, email)
        assert due(root, "2026-11-16T07:00Z") == 0
    assert smtp.messages == []
    (pending,) = json.loads((root / ".notify-state.json").read_text())["pending"]
    assert pending["channels"] == ["email"]
    assert pending["errors"]["email"].startswith("SMTP")  # refused or cut off, not sent
    no_secret_below(root, caplog.text)


def test_render_notify_on_demand(tmp_path, monkeypatch, receiver):
    configure(tmp_path, monkeypatch, WEBHOOK % "json", receiver.url)
    out = tmp_path / "adhoc"
    assert main(["render", "sample", "--source", "demo", "--out", str(out), "--notify"]) == 0
    (body,) = receiver.bodies
    assert body["suite"] == "adhoc" and body["index"] == str(out / "index.html")


def test_render_notify_without_a_channel_is_bad_usage(tmp_path, monkeypatch, capsys):
    configure(tmp_path, monkeypatch, "")
    code = main(["render", "sample", "--source", "demo", "--out", str(tmp_path / "o"), "--notify"])
    assert code == 2
    assert "no [notify.webhook] or [notify.email]" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"webhook": {"url": "https://hooks.example/T0K"}}, "secrets are not written"),
        ({"webhook": {"url": {"env": "X"}, "format": "xml"}}, "use slack or json"),
        ({"push": "some"}, "notify.push"),
        ({"email": {"host": "h", "sender": "s@x", "to": "a@x"}}, "must list addresses"),
        (
            {
                "email": {
                    "host": "h",
                    "sender": "s@x",
                    "to": ["a@x"],
                    "starttls": False,
                    "password": {"env": "P"},
                }
            },
            "only sent over STARTTLS",
        ),
        ({"webhook": {"url": {"env": "X"}, "colour": "red"}}, "unknown key"),
    ],
)
def test_bad_notify_tables_are_one_line_errors(table, message):
    with pytest.raises(ConfigError, match=message):
        parse_notify(table, {})


def test_attachments_stop_at_the_size_limit(tmp_path):
    for name, size in (("memory", 3000), ("cost", 2000), ("capacity", 500)):
        (tmp_path / f"{name}.html").write_text("x" * size)
    worst = {"memory": "warning", "cost": "critical", "capacity": None}
    findings = {"memory": 1, "cost": 2, "capacity": 0}
    reports = [
        {"name": n, "html": str(tmp_path / f"{n}.html"), "worst": w, "findings": findings[n]}
        for n, w in worst.items()
    ]
    message = Message("weekly", "2026-W47", tmp_path, {}, [], reports)
    assert [p.name for p in worst_reports(message, 4000)] == ["cost.html"]
    assert [p.name for p in worst_reports(message, 5000)] == ["cost.html", "memory.html"]
    assert worst_reports(message, 100) == []


def test_changes_pushes_new_findings_and_persisting_criticals_only(tmp_path):
    def f(check, severity, status, pod):
        return {"check": check, "severity": severity, "subject": {"pod": pod}, "summary": "s",
                "status": status}  # fmt: skip

    findings = [
        f("oom_killed", "critical", "persisting", "a"),
        f("memory_leak", "critical", "new", "b"),
        f("no_memory_limit", "warning", "persisting", "c"),
        f("memory_near_limit", "warning", "new", "d"),
    ]
    (tmp_path / "memory.findings.json").write_text(json.dumps(findings))
    (tmp_path / "cost.findings.json").write_text(json.dumps([f("unused_pv", "info", "new", "e")]))
    message = build_message("weekly", "2026-W47", tmp_path)
    assert message.counts == {"critical": 2, "warning": 2, "info": 1}
    assert [(p["report"], p["subject"]["pod"]) for p in message.pushed] == [
        ("memory", "a"),
        ("memory", "b"),
        ("memory", "d"),
        ("cost", "e"),
    ]
    everything = build_message("weekly", "2026-W47", tmp_path, push="all")
    assert len(everything.pushed) == 5
