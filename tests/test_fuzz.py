"""Schema-driven fuzzing: every documented operation, authenticated, bounded examples.

Zero 5xx answers and zero responses that break their documented schema.
"""
import re

import hypothesis
import schemathesis
from hypothesis import given
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

MAX_EXAMPLES = 12


@schemathesis.check
def no_secret_in_response(ctx, response, case):
    """A password hash, a JWT or an API token secret never comes back (bar the one-time token answer)."""
    body = response.text or ""
    assert "$argon2" not in body, "a password hash is in the response"
    assert "eyJ" not in body or case.path.startswith("/auth/"), "a JWT is in the response"
    if not (case.path == "/users/me/tokens" and case.method.upper() == "POST"):
        assert "mst_" not in body, "an API token secret is in the response"


@schemathesis.check
def no_server_error_but_not_implemented(ctx, response, case):
    """501 is the documented answer of what MaiaScore deliberately does not do (v7 snapshot schedules)."""
    if response.status_code == 501:
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [no_server_error_but_not_implemented, response_schema_conformance, no_secret_in_response]


def fuzz_operation(operation, headers):
    @given(case=operation.as_strategy())
    @hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck))
    def run(case):
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS)

    run()


def test_no_server_errors_and_documented_responses(cfg, app, admin):
    cfg.RATE_LIMIT_PER_MINUTE = 10**9
    cfg.LOGIN_FAILURES_PER_MINUTE = 10**9
    cfg.UNAUTHORIZED_PER_MINUTE = 10**9
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    failures = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        try:
            fuzz_operation(operation, admin.headers)
        except Exception as exc:  # collect every operation's failure, then report them all
            failures[operation.label] = str(exc)[:1500]
    assert operations >= 40, operations
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


# --- query parameters and headers at their boundaries ------------------------------------------------------
# Every documented query parameter, plus the undocumented ones the routes read (Strapi paging and sorting, the
# account group, the response format), gets each value below on every GET and on the waiting POST; every header
# the API reads gets them too. Deterministic, one request per (operation, name, value): a few thousand requests.

BOUNDARY_VALUES = [
    "", "-1", "0", str(2**63 - 1), str(2**63), str(2**64), "-" + str(2**64), "9" * 5000, "1e999", "-1e999", "nan",
    "inf", "1.5", "[]", "0001-01-01T00:00:00", "0001-01-01 00:00:00", "9999-12-31T23:59:59", "2024-02-30T00:00:00",
    "%00", "%ED%A0%80", "%FF%FE", "x" * 10000, "$gt", "a:DESC,b:ASC", "99999999999999999999w", "0s",
]
STRAPI_PARAMS = ("_start", "_limit", "_sort", "id", "id_in", "created_at_gte", "score_lt", "status_null")
GENERIC_PARAMS = ("aid", "format")
OPERATOR = re.compile(r"_(ne|lt|lte|gt|gte|in|nin|null|contains|ncontains|containss|ncontainss)$")


def _sampled(parameters, seen, route):
    """The parameters worth a sweep: each Strapi list documents every operator of every field (hundreds of
    names) and they all go through one parser, so a field filter is swept once per route and type, and each
    operator once in the whole sweep (``seen``); every other parameter is swept on every route."""
    kept = set(GENERIC_PARAMS)
    for parameter in parameters:
        name = parameter["name"]
        operator = OPERATOR.search(name)
        if parameter.get("description") == "Equals":  # a field filter: one per type on each route
            key = (route, parameter["schema"].get("type"), parameter["schema"].get("format"))
        elif operator is not None:
            key = operator.group(1)
        else:
            kept.add(name)
            continue
        if key not in seen:
            seen.add(key)
            kept.add(name)
    return kept


HEADER_VALUES = [f"wait={value}" for value in ("nan", "NaN", "inf", "-inf", "1e999", str(2**64), "-1", "", "x")] + [
    "wait", "wait==1", "respond-async, wait=nan", "\x00"]
ACCEPT_VALUES = ["application/xml;q=nan", "application/json;q=1e999", "*/*;q=-1", "text/xml;q=2", "application/*",
                 "xml", "", ",,,", "application/xml, application/json;q=0"]


def _answer_parses(response):
    body = response.get_data()
    if not body:
        return
    if response.mimetype == "application/xml":
        import xml.etree.ElementTree as ET

        ET.fromstring(body)
    elif "json" in response.mimetype:
        import json

        json.loads(body, parse_constant=lambda token: (_ for _ in ()).throw(ValueError(f"{token} in JSON")))


def _path_values(admin):
    """Real ids, so the parameters are read past the lookup of what the path names."""
    dashboard = admin.post("/v6/reports/create", json={"title": "Fuzz", "widgets": [
        {"id": "lines", "type": "Time Series: Line", "dataSource": "Score Reports", "metric": "Score"},
        {"id": "count", "type": "Number", "dataSource": "Score Reports", "metric": "Report Count"}]}).get_json()[0]
    snapshot = admin.post("/v6/report-snapshots/create", json={"reportId": dashboard["reportId"]}).get_json()
    report = admin.post("/reports", json={"features": {"a": 1}}).get_json()
    v7_snapshot = (admin.post("/v7/dashboard-snapshots", json={"dashboardId": dashboard["reportId"]}).get_json()
                   or {})
    return {
        "/v6/reports/": {"report_id": dashboard["reportId"], "widget_id": "lines"},
        "/v6/report-snapshots/": {"snapshot_id": snapshot["snapshotId"], "widget_id": "lines"},
        "/v7/dashboard-snapshots/": {"snapshot_id": v7_snapshot.get("id", snapshot["snapshotId"]),
                                     "widget_id": "lines"},
        "/v7/dashboards/": {"dashboard_id": dashboard["reportId"], "widget_id": "count", "card_id": "0",
                            "column_id": "0"},
        "/reports/": {"report_id": report["id"]},
    }


def _fill(path, values):
    filled = path
    for prefix, names in values.items():
        if path.startswith(prefix):
            for name, value in names.items():
                filled = filled.replace("{" + name + "}", str(value))
    while "{" in filled:  # ids nothing here created: a well-formed id that names nothing
        start = filled.index("{")
        filled = filled[:start] + "0" * 24 + filled[filled.index("}", start) + 1:]
    return filled


def test_query_parameters_and_headers_at_their_boundaries(cfg, app, admin):
    cfg.RATE_LIMIT_PER_MINUTE = 10**9
    cfg.UNAUTHORIZED_PER_MINUTE = 10**9
    cfg.MAX_WAIT_SECONDS = 0  # a wait is a hint here: the sweep is about parsing it
    spec = app.test_client().get("/openapi.json").get_json()
    values = _path_values(admin)
    failures, sent = [], 0

    def call(method, url, query="", headers=None):
        nonlocal sent
        sent += 1
        response = getattr(admin.client, method)(url, query_string=query, headers={**admin.headers, **(headers or {})})
        try:
            assert response.status_code < 500, response.status_code
            _answer_parses(response)
        except (AssertionError, ValueError) as exc:
            failures.append(f"{method.upper()} {url}?{query[:120]} {headers or ''}: {exc} "
                            f"{response.get_data(as_text=True)[:200]}")

    seen = set()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            waits = method == "post" and path == "/reports"
            if method != "get" and not waits:
                continue
            url = _fill(path, values)
            names = _sampled([p for p in operation.get("parameters", []) if p["in"] == "query"], seen,
                             (method, path))
            if not path.startswith(("/v6", "/v7", "/users", "/auth", "/healthz", "/readyz")) and "{" not in path:
                names |= set(STRAPI_PARAMS)
            kwargs = {"json": {"features": {"a": 1}}} if waits else {}
            for name in sorted(names):
                for value in BOUNDARY_VALUES:
                    query = f"{name}={value}"  # raw: the %-escapes reach the server as sent
                    if waits:
                        sent += 1
                        response = admin.post(url, query_string=query, **kwargs)
                        if response.status_code >= 500:
                            failures.append(f"POST {url}?{name}={value[:40]}: {response.status_code}")
                    else:
                        call(method, url, query)
    for url in ("/reports", f"/reports/{values['/reports/']['report_id']}", "/users/me", "/v6/reports",
                f"/v7/dashboards/{values['/v7/dashboards/']['dashboard_id']}"):
        for value in HEADER_VALUES:
            call("get", url, headers={"Prefer": value})
        for value in ACCEPT_VALUES:
            call("get", url, headers={"Accept": value})
        for value in ("", "x" * 5000, "\x00", "a b", "é"):
            call("get", url, headers={"X-Request-Id": value})
    for value in HEADER_VALUES:
        sent += 1
        response = admin.post("/reports", json={"features": {"a": 1}}, headers={"Prefer": value})
        if response.status_code >= 500:
            failures.append(f"POST /reports Prefer: {value!r}: {response.status_code}")
    assert sent > 2000, sent
    assert not failures, f"{len(failures)} of {sent} answers failed:\n" + "\n".join(failures[:40])
