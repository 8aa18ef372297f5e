"""Problem 5: certificates that expired, expire soon, or that cert-manager cannot renew.

Three sources, merged per certificate: cert-manager's metrics
(``certmanager_certificate_expiration_timestamp_seconds``, ``..._ready_status``), its
``Certificate`` resources (cert-manager.io/v1, when the role may read them: ``notAfter``,
``renewalTime``, the Ready condition's reason) and blackbox_exporter's
``probe_ssl_earliest_cert_expiry`` per probed endpoint (what clients are actually served:
it also catches a certificate cert-manager does not manage).

>>> import pandas as pd
>>> now = pd.Timestamp("2026-11-16", tz="UTC")
>>> probes = pd.DataFrame({"instance": ["https://api.example"], "job": ["blackbox"],
...                        "value": [(now + pd.Timedelta(days=5)).timestamp()]})
>>> table = certificate_table(None, None, probes, None, now)
>>> table[["kind", "name", "days_left"]].to_dict("records")
[{'kind': 'probe', 'name': 'https://api.example', 'days_left': 5.0}]
>>> [(f.check, f.severity) for f in certificate_findings(table, THRESHOLDS)]
[('certificate_expiry', 'critical')]
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from dwcp_diag.analysis.findings import Finding
from dwcp_diag.units import human_value

DAY_S = 86_400.0
THRESHOLDS = {"warning_days": 21.0, "critical_days": 7.0}  # the doctest's; the profile's rule
COLUMNS = [
    "kind",
    "namespace",
    "name",
    "expires",
    "days_left",
    "ready",
    "ready_reason",
    "secret_name",
    "dns_names",
    "source",
]


def _certificate_namespace(frame: pd.DataFrame) -> pd.Series:
    """cert-manager's ``namespace``, or ``exported_namespace`` when the scrape renamed it."""
    namespace = frame.get("namespace", pd.Series("", index=frame.index)).astype(str)
    exported = frame.get("exported_namespace", pd.Series("", index=frame.index)).astype(str)
    return exported.where(exported.str.len() > 0, namespace).replace("nan", "")


def certificate_table(
    expiry: pd.DataFrame | None,
    not_ready: pd.DataFrame | None,
    probes: pd.DataFrame | None,
    resources: pd.DataFrame | None,
    now: pd.Timestamp,
) -> pd.DataFrame:
    """One row per certificate (cert-manager) and per probed endpoint (blackbox): when it
    expires, days left at ``now`` (negative: expired), its Ready status and where it is from."""
    rows: dict[tuple[str, str], dict] = {}
    if expiry is not None and not expiry.empty:
        for namespace, name, value in zip(
            _certificate_namespace(expiry), expiry["name"].astype(str), expiry["value"], strict=True
        ):
            rows[(namespace, name)] = {
                "kind": "cert-manager",
                "namespace": namespace,
                "name": name,
                "expires": pd.Timestamp(value, unit="s", tz="UTC") if value > 0 else pd.NaT,
                "ready": "True",
                "source": "metrics",
            }
    if not_ready is not None and not not_ready.empty:
        for namespace, name, condition in zip(
            _certificate_namespace(not_ready),
            not_ready["name"].astype(str),
            not_ready["condition"].astype(str),
            strict=True,
        ):
            row = rows.setdefault(
                (namespace, name),
                {"kind": "cert-manager", "namespace": namespace, "name": name, "source": "metrics"},
            )
            row["ready"] = condition
    if resources is not None and not resources.empty:
        for cert in resources.itertuples(index=False):
            key = (str(cert.namespace), str(cert.name))
            row = rows.setdefault(
                key, {"kind": "cert-manager", "namespace": key[0], "name": key[1], "source": "api"}
            )
            if row.get("source") == "metrics":
                row["source"] = "metrics+api"
            if pd.notna(cert.not_after) and pd.isna(row.get("expires", pd.NaT)):
                row["expires"] = cert.not_after
            if pd.notna(cert.ready):
                row["ready"] = str(cert.ready)
            row |= {
                "ready_reason": cert.ready_reason if pd.notna(cert.ready_reason) else None,
                "secret_name": cert.secret_name,
                "dns_names": cert.dns_names,
            }
    if probes is not None and not probes.empty:
        for instance, job, value in zip(
            probes["instance"].astype(str), probes["job"].astype(str), probes["value"], strict=True
        ):
            rows[("", instance)] = {
                "kind": "probe",
                "namespace": "",
                "name": instance,
                "expires": pd.Timestamp(value, unit="s", tz="UTC"),
                "ready": None,
                "source": f"blackbox ({job})",
            }
    table = pd.DataFrame(list(rows.values()), columns=COLUMNS)
    table["expires"] = pd.to_datetime(table["expires"], utc=True)
    table["days_left"] = ((table["expires"] - now).dt.total_seconds() / DAY_S).round(2)
    return table.sort_values(["days_left", "kind", "namespace", "name"], ignore_index=True)


def certificate_findings(table: pd.DataFrame, settings: Mapping[str, float]) -> list[Finding]:
    """``certificate_expiry``: critical when expired or under ``critical_days`` left, warning
    under ``warning_days`` or when cert-manager's Ready condition is not True (it cannot
    renew it: the reason says why)."""
    warn, crit = settings["warning_days"], settings["critical_days"]
    found = []
    for row in table.itertuples(index=False):
        days = row.days_left
        not_ready = (
            row.kind == "cert-manager" and row.ready not in (None, "True") and pd.notna(row.ready)
        )
        if np.isnan(days) and not not_ready:
            continue
        severity = None
        if not np.isnan(days) and days < crit:
            severity = "critical"
        elif (not np.isnan(days) and days < warn) or not_ready:
            severity = "warning"
        if severity is None:
            continue
        what = (
            f"certificate {row.namespace}/{row.name}"
            if row.kind != "probe"
            else f"certificate served at {row.name}"
        )
        if np.isnan(days):
            when = "has no expiry date"
        elif days < 0:
            when = f"EXPIRED {human_value(-days, 'days')} ago ({row.expires:%Y-%m-%d %H:%M} UTC)"
        else:
            when = f"expires in {human_value(days, 'days')} ({row.expires:%Y-%m-%d %H:%M} UTC)"
        summary = f"The {what} {when}"
        if not_ready:
            reason = f": {row.ready_reason}" if isinstance(row.ready_reason, str) else ""
            summary += f"; cert-manager reports it not Ready ({row.ready}{reason})"
        summary += f" [{row.source}]."
        if row.kind == "probe":
            fix = (
                f"Find what serves {row.name} (ingress, load balancer) and renew its certificate; "
                f"check: echo | openssl s_client -connect HOST:443 -servername HOST 2>/dev/null "
                "| openssl x509 -noout -dates"
            )
            subject = {"endpoint": str(row.name)}
        else:
            fix = (
                f"kubectl -n {row.namespace} describe certificate {row.name}  # why it is not "
                "renewed (runbook Problem 5)\n"
                f"cmctl renew -n {row.namespace} {row.name}  # or: kubectl -n {row.namespace} "
                "delete secret <its secretName> to force a new issuance"
            )
            subject = {"namespace": str(row.namespace), "certificate": str(row.name)}
        evidence = {
            "expires": row.expires if pd.notna(row.expires) else None,
            "ready": row.ready,
            "ready_reason": row.ready_reason,
            "secret_name": row.secret_name,
            "dns_names": row.dns_names,
            "source": row.source,
        }
        found.append(
            Finding(
                "certificate_expiry",
                severity,
                subject,
                summary,
                None if np.isnan(days) else float(days),
                warn,
                "days",
                evidence,
                fix,
            )
        )
    return found
