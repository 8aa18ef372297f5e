"""Label values with quotes, backslashes and newlines survive the trip through real PromQL.

``label_replace(vector(1), "probe", VALUE, "", "")`` makes Prometheus parse VALUE as a PromQL
string and hand it back as a label: what comes back must be exactly what went in. A second
``label_replace`` whose (fully anchored) regex is ``escape_regex(value)`` must match that
value and nothing else.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dwcp_diag.config import PrometheusSettings
from dwcp_diag.queries.promql import escape_label_value, escape_regex
from dwcp_diag.sources.prometheus import PrometheusLoader

LABEL_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from("\"\\\n\t\r'`{}=~!,.*+?()[]|^$"),
        st.characters(blacklist_categories=("Cs",)),
    ),
    min_size=1,
    max_size=30,
)
AT = "2026-11-16T00:00:00Z"
SLOW_FIXTURE = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def probe(value: str) -> str:
    # label_replace expands $-references in its replacement: "$$" is a literal "$"
    replacement = escape_label_value(value.replace("$", "$$"))
    return f'label_replace(vector(1), "probe", "{replacement}", "", "")'


@SLOW_FIXTURE
@given(value=LABEL_TEXT)
@example(value="$0")
@example(value='say "hi"\\now\n')
def test_escaped_values_round_trip_through_prometheus(prometheus_server, value):
    loader = PrometheusLoader(PrometheusSettings(url=prometheus_server.url))
    frame = loader.instant(probe(value), at=AT)
    assert frame["probe"].tolist() == [value]


@SLOW_FIXTURE
@given(value=LABEL_TEXT)
@example(value="$0")
@example(value="a.b*(c)|[d]^$")
def test_escaped_regex_matches_the_value_and_nothing_else(prometheus_server, value):
    loader = PrometheusLoader(PrometheusSettings(url=prometheus_server.url))
    regex = escape_label_value(escape_regex(value))
    for candidate, expected in ((value, "yes"), (value + "x", None)):
        query = f'label_replace({probe(candidate)}, "match", "yes", "probe", "{regex}")'
        frame = loader.instant(query, at=AT)
        got = frame["match"].iloc[0] if "match" in frame.columns else None
        assert (got if got == got else None) == expected, (candidate, query)
