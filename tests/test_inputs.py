"""Hostile inputs from the outside audit (issue 15): every one answers 4xx and every answer parses."""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HUGE = str(2**64)
WIDGETS = [{"id": "lines", "type": "Time Series: Line", "dataSource": "Score Reports", "metric": "Score"}]


def assert_client_error(r, *codes):
    assert r.status_code in (codes or range(400, 500)), (r.status_code, r.get_data(as_text=True)[:500])
    body = r.get_json()
    assert body["code"] == r.status_code and body["message"]
    return body


def assert_parses(r):
    """The answer is well-formed in the format it claims."""
    if r.mimetype == "application/xml":
        ET.fromstring(r.get_data())
    else:
        json.loads(r.get_data(as_text=True), parse_constant=lambda token: pytest.fail(f"{token} in JSON"))


@pytest.fixture
def dashboard(admin):
    r = admin.post("/v6/reports/create", json={"title": "Weekly", "widgets": WIDGETS})
    assert r.status_code == 200, r.get_json()
    return r.get_json()[0]["reportId"]


# --- integers beyond 64 bits, dates at the ends of the calendar, NaN headers -------------------------------


@pytest.mark.parametrize("path", ["/reports", "/trainings", "/datasets", "/models"])
def test_paging_beyond_64_bits_answers_400(admin, path):
    body = assert_client_error(admin.get(f"{path}?_start={HUGE}"), 400)
    assert "_start" in body["message"]
    assert admin.get(f"{path}?_limit={HUGE}").status_code == 200  # more than the most is the most, as in Strapi


def test_snapshot_page_beyond_64_bits_answers_400(admin):
    assert_client_error(admin.get(f"/v6/report-snapshots?page={HUGE}"), 400)
    assert admin.get("/v6/report-snapshots?page=1").status_code == 200


@pytest.mark.parametrize("window", [HUGE, HUGE + "w", "9" * 400 + "d"])
def test_widget_window_beyond_any_range_answers_400(admin, dashboard, window):
    body = assert_client_error(admin.get(f"/v6/reports/{dashboard}/lines?window={window}"), 400)
    assert "93 days" in body["message"] or "window" in body["message"]


@pytest.mark.parametrize("span", [
    {"startDate": "9999-12-31 23:00:00", "duration": 86400},
    {"startDate": "0001-01-01 00:00:00", "duration": 86400},
    {"startDate": "2024-01-01 00:00:00", "duration": 2**64},
])
def test_snapshot_timespan_at_the_ends_of_the_calendar_answers_400(admin, dashboard, span):
    r = admin.post("/v6/report-snapshots/create", json={"reportId": dashboard, "timeSpan": span})
    assert_client_error(r, 400)


@pytest.mark.parametrize("date", ["9999-12-31T23:59:59", "0001-01-01T00:00:00"])
def test_widget_from_to_at_the_ends_of_the_calendar_answers_400(admin, dashboard, date):
    r = admin.get(f"/v6/reports/{dashboard}/lines?from={date}")
    assert_client_error(r, 400)
    r = admin.get(f"/v6/reports/{dashboard}/lines?from=0001-01-01T00:00:00&to=0001-01-02T00:00:00")
    assert r.status_code in (200, 400)
    assert_parses(r)


@pytest.mark.parametrize("prefer", ["wait=nan", "wait=NaN", "wait=inf", "wait=-inf", "wait=1e999", f"wait={HUGE}"])
def test_prefer_wait_that_is_not_a_number_of_seconds_is_ignored(cfg, admin, prefer):
    cfg.MAX_WAIT_SECONDS = 1  # what clamps to the most waits 1 s, not 30
    r = admin.post("/reports", json={"features": {"a": 1}}, headers={"Prefer": prefer})
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    r = admin.get(f"/reports/{r.get_json()['id']}", headers={"Prefer": prefer})
    assert r.status_code == 200, r.get_data(as_text=True)[:300]


# --- strings that cannot be stored or rendered --------------------------------------------------------------


@pytest.mark.parametrize("text", [
    '{"referenceId": "\\ud800"}',
    '{"referenceId": "ok", "features": {"\\udfff": 1}}',
    '{"features": {"a": "x\\ud83d"}}',
    '[{"features": {"a": ["\\ud800"]}}]',
])
def test_lone_surrogates_answer_4xx(admin, db, text):
    r = admin.post("/reports", data=text, content_type="application/json")
    assert_client_error(r, 400, 422)
    assert db.reports.count_documents({}) == 0


def test_lone_surrogates_in_a_json_text_field_answer_4xx(admin, db):
    r = admin.post("/reports", data={"features": '{"a": "\\ud800"}'}, content_type="application/x-www-form-urlencoded")
    assert_client_error(r, 400, 422)
    r = admin.post("/v6/reports/create", json={"title": "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace")})
    assert r.status_code == 200  # a replacement character is a character like any other
    r = admin.post("/v6/reports/create", data='{"title": "x\\udc00"}', content_type="application/json")
    assert_client_error(r, 400)


@pytest.mark.parametrize("text,field", [
    ('{"features": {"income": 1e999}}', "features"),
    ('{"features": {"income": -1e400}}', "features"),
    ('[{"features": {"a": 1}}, {"features": {"income": 1E+999}}]', "features"),
    ('{"features": {"income": NaN}}', None),
    ('{"features": {"income": Infinity}}', None),
])
def test_non_finite_numbers_are_refused_naming_the_field(admin, db, text, field):
    r = admin.post("/reports", data=text, content_type="application/json")
    body = assert_client_error(r, 400, 422)
    if field:
        assert field in json.dumps(body.get("errors") or body["message"]), body
    assert db.reports.count_documents({}) == 0
    assert_parses(admin.get("/reports"))


def test_non_finite_numbers_in_a_json_text_field_are_refused(admin, db):
    for text in ('{"income": 1e999}', '{"income": NaN}', '{"income": -Infinity}'):
        r = admin.post("/reports", data={"features": text}, content_type="application/x-www-form-urlencoded")
        body = assert_client_error(r, 422)
        assert "features" in json.dumps(body["errors"])
    assert db.reports.count_documents({}) == 0


@pytest.mark.parametrize("accept", ["application/xml", "text/xml"])
def test_xml_answers_parse_whatever_the_stored_strings_hold(admin, accept):
    ugly = "a\x00b\x01c\x08\x0b\x0c\x1b\x1f\ufffe\uffff d"
    r = admin.post("/reports", json={"referenceId": ugly, "features": {"x\x01": ugly, "x²": 1, "ⅷ": 2, "1a": 3,
                                                                         "xml-ok": "\ud83d\ude00 é"}})
    assert r.status_code == 200, r.get_json()
    rid = r.get_json()["id"]
    assert r.get_json()["referenceId"] == ugly  # JSON carries any character
    for path in (f"/reports/{rid}", "/reports"):
        answer = admin.get(path, headers={"Accept": accept})
        assert answer.status_code == 200 and answer.mimetype == "application/xml"
        root = ET.fromstring(answer.get_data())
        assert "\U0001F600 é" in "".join(root.itertext())
    r = admin.post("/v6/reports/create", json={"title": "t\x00\x07", "description": "\x1b[31m"})
    assert r.status_code == 200
    assert_parses(admin.get(f"/v6/reports/{r.get_json()[0]['reportId']}.xml"))
    assert_parses(admin.get("/v6/reports.xml"))


def test_a_nul_in_a_name_is_refused(admin, db):
    r = admin.post("/reports", data='{"features": {"a\\u0000b": 1}}', content_type="application/json")
    body = assert_client_error(r, 422)
    assert "features" in json.dumps(body["errors"])
    assert db.reports.count_documents({}) == 0


# --- XML bodies -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("padding", [0, 5000, 100000])
def test_a_doctype_anywhere_in_an_xml_body_is_refused(client, admin, padding):
    body = (f'<?xml version="1.0"?><!-- {"x" * padding} -->'
            '<!DOCTYPE item [<!ATTLIST item role CDATA "admin">]>'
            f"<item><identifier>{admin.email}</identifier><password>{admin.password}</password></item>")
    for content_type in ("application/xml", "text/xml", "application/x-www-form-urlencoded"):
        r = client.post("/auth/local", data=body, content_type=content_type)
        body_json = assert_client_error(r, 400)
        assert "DOCTYPE" in body_json["message"]
    lower = body.replace("DOCTYPE", "doctype")
    assert_client_error(client.post("/auth/local", data=lower, content_type="application/xml"), 400)


# --- amplification -------------------------------------------------------------------------------------------


def test_a_body_object_with_too_many_keys_is_refused_naming_the_bound(cfg, admin, db):
    many = {f"k{i}": i for i in range(cfg.MAX_BODY_KEYS + 1)}
    r = admin.post("/reports", json=many)
    body = assert_client_error(r, 400)
    assert str(cfg.MAX_BODY_KEYS) in body["message"] and "MAX_BODY_KEYS" in body["message"]
    assert len(r.get_data()) < 1000
    nested = {"features": {f"f{i}": i for i in range(cfg.MAX_BODY_KEYS + 1)}}
    assert_client_error(admin.post("/reports", json=nested), 400)
    xml = "<item>" + "".join(f"<k{i}>1</k{i}>" for i in range(cfg.MAX_BODY_KEYS + 1)) + "</item>"
    body = assert_client_error(admin.post("/reports", data=xml, content_type="application/xml"), 400)
    assert "MAX_BODY_KEYS" in body["message"]
    form = "&".join(f"k{i}=1" for i in range(cfg.MAX_BODY_KEYS + 1))
    assert_client_error(admin.post("/reports", data=form, content_type="application/x-www-form-urlencoded"), 400)
    assert db.reports.count_documents({}) == 0


def test_a_million_unknown_keys_answer_a_short_error(cfg, admin):
    """The audit's 14 MB body: refused on its shape before any validation error is built."""
    raw = "{" + ",".join(f'"k{i}":0' for i in range(1_000_000)) + "}"
    r = admin.post("/reports", data=raw, content_type="application/json")
    assert_client_error(r, 400)
    assert len(r.get_data()) < 1000


@pytest.mark.parametrize("accept", ["application/json", "application/xml"])
def test_validation_errors_list_the_first_50_and_count_the_rest(cfg, admin, accept):
    unknown = {f"k{i}": i for i in range(300)}
    r = admin.post("/reports", json=unknown, headers={"Accept": accept})
    assert r.status_code == 422
    if accept == "application/json":
        body = r.get_json()

        def leaves(errors):
            return sum(leaves(v) for v in errors.values()) if isinstance(errors, dict) else len(errors)

        assert leaves(body["errors"]) == 50
        assert "300" in body["message"] and "50" in body["message"]
    else:
        root = ET.fromstring(r.get_data())
        assert "300" in root.findtext("message")


def test_v7_validation_errors_are_bounded_too(admin):
    r = admin.get("/v7/reports?" + "&".join(f"aid=x{i}" for i in range(5)))
    assert r.status_code < 500
    from maiascore.http.errors import MAX_LISTED_ERRORS, bound_errors

    nested = {"json": {f"k{i}": ["Unknown field."] for i in range(120)}}
    listed, total = bound_errors(nested)
    assert total == 120 and sum(len(v) for v in listed["json"].values()) == MAX_LISTED_ERRORS
    flat = [{"code": "X", "field": f"f{i}", "message": "m"} for i in range(120)]
    listed, total = bound_errors(flat)
    assert total == 120 and len(listed) == MAX_LISTED_ERRORS


def test_a_csv_header_of_too_many_columns_is_refused(admin):
    header = ",".join(f"c{i}" for i in range(5000)) + ",label"
    raw = (header + "\n" + (",".join("1" for _ in range(5000)) + ",good\n") * 25).encode()
    r = admin.post("/datasets", data={"file": (__import__("io").BytesIO(raw), "wide.csv")},
                   content_type="multipart/form-data")
    body = assert_client_error(r, 400)
    assert "columns" in body["message"]


# --- SECRET_KEY -----------------------------------------------------------------------------------------------


def _env_without_keys(servers, **extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("SECRET_KEY", "JWT_SECRET_KEY", "MAIASCORE_TESTING")}
    env.update(PYTHONPATH=str(ROOT), MONGO_URI=servers["mongo_uri"], REDIS_URL=servers["redis_url"],
               MONGO_DB_NAME="secret_key_check", **extra)
    return env


def _python(code, env):
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_the_web_app_refuses_to_start_without_secret_key(servers):
    result = _python("import wsgi", _env_without_keys(servers))
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr and "export SECRET_KEY=" in result.stderr
    assert "secrets.token_hex" in result.stderr
    result = _python("import wsgi; print(wsgi.app.config['SECRET_KEY'])",
                     _env_without_keys(servers, SECRET_KEY="k" * 64))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "k" * 64


def test_workers_and_the_cli_run_without_secret_key(servers):
    env = _env_without_keys(servers)
    result = _python("from config import settings; import maiascore.workers; print(settings().SCORE_MIN)", env)
    assert result.returncode == 0, result.stderr[-2000:]
    cli = Path(sys.executable).with_name("maiascore")
    result = subprocess.run([str(cli), "create-group", "Ops"], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "created" in result.stdout


@pytest.mark.parametrize("body", [{"referenceId": ""}, {"uuid": "  "}, [{"referenceId": ""}]])
def test_blank_texts_are_no_text_not_a_500(admin, body):
    """A blank text becomes None before its length is checked (the fuzz run found ``referenceId: ""``)."""
    r = admin.post("/reports", json=body)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
