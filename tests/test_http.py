"""The shared HTTP layer: body encodings, hostile input, formats, errors, limits, probes."""
import json

import pytest

BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<item><identifier>&lol9;</identifier><password>x</password></item>"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE item [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<item><identifier>&xxe;</identifier><password>x</password></item>"""


def login_body(actor):
    return {"identifier": actor.email, "password": actor.password}


def test_login_accepts_json_xml_form_and_json_text_under_form(client, admin):
    xml = (f'<?xml version="1.0" encoding="utf-8"?>\n<item><identifier>{admin.email}</identifier>'
           f'<password>{admin.password}</password></item>')
    bodies = [
        dict(json=login_body(admin)),
        dict(data=xml, content_type="application/xml"),
        dict(data=xml, content_type="text/xml"),
        dict(data=login_body(admin), content_type="application/x-www-form-urlencoded"),
        dict(data=json.dumps(login_body(admin)), content_type="application/x-www-form-urlencoded"),
        dict(data=login_body(admin), content_type="multipart/form-data"),
    ]
    for kwargs in bodies:
        r = client.post("/auth/local", **kwargs)
        assert r.status_code == 200, (kwargs, r.get_json())
        assert r.get_json()["user"]["id"] == admin.id


def test_xml_values_are_typed_by_the_schema(admin, make_actor):
    member = make_actor("Regular User", aid=admin.aid)
    r = admin.post(f"/v6/users/{member.id}/update", data="<item><blocked>true</blocked></item>",
                   content_type="application/xml")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["users"][0]["blocked"] is True


@pytest.mark.parametrize("body,content_type", [
    ("{not json", "application/json"),
    ('{"identifier": "a", "password": NaN}', "application/json"),
    ("<item><identifier>x</identifier>", "application/xml"),
    ("<item>not closed", "text/xml"),
    ("<a/><b/>", "application/xml"),
    ("{broken", "application/x-www-form-urlencoded"),
    (BOMB, "application/xml"),
    (XXE, "application/xml"),
    (XXE, "application/x-www-form-urlencoded"),
])
def test_malformed_and_hostile_bodies_answer_400(client, body, content_type):
    r = client.post("/auth/local", data=body, content_type=content_type)
    assert r.status_code == 400, r.get_data(as_text=True)
    payload = r.get_json()
    assert payload["code"] == 400 and payload["message"]
    assert "root:" not in r.get_data(as_text=True)
    assert "Traceback" not in r.get_data(as_text=True)


def test_non_utf8_body_answers_400(client):
    r = client.post("/auth/local", data=b'{"identifier": "\xff\xfe", "password": "x"}',
                    content_type="application/json")
    assert r.status_code == 400
    assert "UTF-8" in r.get_json()["message"]


def test_unsupported_body_type_answers_415(client):
    r = client.post("/auth/local", data=b"\x00\x01", content_type="application/octet-stream")
    assert r.status_code == 415
    assert r.get_json()["code"] == 415


@pytest.mark.parametrize("body", [
    {"identifier": {"$gt": ""}, "password": "x"},
    {"identifier": ["a"], "password": "x"},
    {"identifier": 12, "password": "x"},
    {"identifier": "a", "password": "x", "role": "admin"},
    {"identifier": "a"},
])
def test_wrong_types_injection_and_unknown_fields_answer_422(client, body):
    r = client.post("/auth/local", json=body)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["code"] == 422 and r.get_json()["errors"]


def test_oversized_body_answers_413(cfg, client, admin):
    cfg.MAX_CONTENT_LENGTH = 1024
    from maiascore.app import create_app

    small = create_app(cfg).test_client()
    r = small.post("/auth/local", json={"identifier": "x" * 4096, "password": "y"})
    assert r.status_code == 413
    assert r.get_json() == {"code": 413, "message": "Request body too large"}


def test_response_format_precedence_suffix_accept_format(admin):
    xml_accept = {"Accept": "application/xml"}
    assert admin.get("/v6/account-groups").mimetype == "application/json"
    assert admin.get("/v6/account-groups.xml").mimetype == "application/xml"
    assert admin.get("/v6/account-groups?format=xml").mimetype == "application/xml"
    assert admin.get("/v6/account-groups", headers=xml_accept).mimetype == "application/xml"
    assert admin.get("/v6/account-groups", headers={"Accept": "text/xml"}).mimetype == "application/xml"
    # suffix beats Accept, Accept beats format=
    assert admin.get("/v6/account-groups.json", headers=xml_accept).mimetype == "application/json"
    assert admin.get("/v6/account-groups?format=xml",
                     headers={"Accept": "application/json"}).mimetype == "application/json"
    r = admin.get("/users/me", headers=xml_accept)
    assert r.data.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<item><id>')


def test_errors_come_in_the_negotiated_format(client):
    r = client.get("/no/such/path", headers={"Accept": "application/xml"})
    assert r.status_code == 404
    assert r.mimetype == "application/xml"
    assert b"<error><code>404</code><message>" in r.data
    r = client.get("/no/such/path")
    assert r.get_json() == {"code": 404, "message": "Not found: /no/such/path"}


def test_unacceptable_accept_answers_406(client, admin):
    r = admin.get("/users/me", headers={"Accept": "image/png"})
    assert r.status_code == 406
    assert r.get_json()["code"] == 406


def test_wrong_method_answers_405(client):
    r = client.delete("/auth/local")
    assert r.status_code == 405
    assert r.get_json()["code"] == 405


def test_unexpected_error_answers_500_without_details(app):
    def explode():
        raise RuntimeError("secret internals")

    app.add_url_rule("/explode", "explode", explode)
    r = app.test_client().get("/explode")
    assert r.status_code == 500
    assert r.get_json()["code"] == 500
    assert "secret internals" not in r.get_data(as_text=True)


def test_mongo_unreachable_answers_503_and_readyz_says_so(servers):
    from config import TestConfig
    from maiascore.app import create_app
    from maiascore.devstack import free_port

    cfg = TestConfig(MONGO_URI=f"mongodb://127.0.0.1:{free_port()}", MONGO_TIMEOUT_MS=200,
                     REDIS_URL=servers["redis_url"], MONGO_DB_NAME="unreachable", SKIP_INDEXES=True)
    client = create_app(cfg).test_client()
    r = client.post("/auth/local", json={"identifier": "a@example.com", "password": "whatever"})
    assert r.status_code == 503
    assert r.get_json()["code"] == 503 and r.headers["Retry-After"]
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_readyz_ok_with_both_backends(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok", "mongo": "ok", "redis": "ok"}


def test_rate_limit_headers_and_429_per_account_group(cfg, admin, make_actor):
    cfg.RATE_LIMIT_PER_MINUTE = 3
    colleague = make_actor("Read Only", aid=admin.aid)
    stranger = make_actor("Account Admin")
    first = admin.get("/users/me")
    assert first.headers["X-Organization-Rate-Limit-Limit"] == "3"
    assert first.headers["X-Organization-Rate-Limit-Remaining"] == "2"
    assert int(first.headers["X-Organization-Rate-Limit-Reset"]) > 0
    assert colleague.get("/users/me").headers["X-Organization-Rate-Limit-Remaining"] == "1"
    admin.get("/users/me")
    over = colleague.get("/users/me")
    assert over.status_code == 429
    assert 0 < int(over.headers["Retry-After"]) <= 60
    assert stranger.get("/users/me").status_code == 200  # another group has its own window


def test_many_unauthorized_requests_from_one_address_answer_429(cfg, client):
    cfg.UNAUTHORIZED_PER_MINUTE = 5
    codes = [client.get("/users/me", headers={"Authorization": "Bearer junk"}).status_code for _ in range(7)]
    assert codes[:5] == [401] * 5
    assert codes[-1] == 429


def test_request_id_is_echoed_or_generated(client):
    assert client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"] == "abc-123"
    generated = client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"}).headers["X-Request-Id"]
    assert generated and " " not in generated


def test_logs_carry_no_credentials(client, admin, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="maiascore")
    client.post("/auth/local", json=login_body(admin))
    admin.get("/users/me")
    text = " ".join(str(getattr(r, "fields", "")) + r.getMessage() for r in caplog.records)
    assert admin.password not in text
    assert admin.jwt not in text


def test_openapi_document_and_docs(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert {"bearerAuth", "basicAuth"} <= set(spec["components"]["securitySchemes"])
    me = spec["paths"]["/users/me"]["get"]
    assert me["security"] and "403" in me["responses"] and "401" in me["responses"]
    assert "/auth/local" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_filter_values_beyond_64_bits_answer_400(admin):
    r = admin.get("/reports?score=100000000000000000000000000000")
    assert r.status_code == 400
    assert r.get_json()["code"] == 400


def test_validation_errors_have_one_shape_whatever_the_route_read(admin):
    """Field -> messages, not nested under the request part webargs read (POST and PUT alike)."""
    created = admin.post("/reports", json={"referenceId": "shape", "outcome": "maybe"})
    assert created.status_code == 422 and set(created.get_json()["errors"]) == {"outcome"}
    ok = admin.post("/reports", json={"referenceId": "shape"})
    changed = admin.put(f"/reports/{ok.get_json()['id']}", json={"outcome": "maybe"})
    assert changed.status_code == 422 and set(changed.get_json()["errors"]) == {"outcome"}
    v6 = admin.post("/v6/reports/create", json={"title": "x", "colour": "red"})
    assert v6.status_code == 400 and "colour" in v6.get_json()["errors"]


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.parametrize("path,param,value", [
    ("/reports", "_start", "0"), ("/reports", "_limit", "10"), ("/reports", "_limit", "-1"),
    ("/reports", "score", "600"), ("/models", "_start", "0"), ("/v6/report-snapshots", "page", "1"),
    ("/v7/dashboard-snapshots", "cursor", "1"), ("/reports", "aid", None)])
def test_integers_in_query_strings_are_ascii_digits_only(admin, path, param, value):
    """Python's int() reads "１２", "١٢", "1_2" and " 12" as numbers; no client means them as such."""
    value = str(admin.aid) if value is None else value
    assert admin.get(f"{path}?{param}={value}").status_code == 200
    lookalikes = {value.translate(FULL_WIDTH), value.translate(ARABIC_INDIC), f" {value}", f"{value}\u00a0"}
    if len(value.lstrip("-")) > 1:
        lookalikes.add(f"{value[:-1]}_{value[-1]}")
    for lookalike in lookalikes:
        r = admin.get(f"{path}?{param}={lookalike}")
        assert r.status_code == 400, (lookalike, r.get_json())
        assert param in r.get_data(as_text=True), (lookalike, r.get_json())
