"""Swagger UI at /docs works offline: every asset it loads is served by the API itself."""
import re
from urllib.parse import urljoin, urlparse


def test_docs_page_and_every_asset_it_references_are_served_locally(client):
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(refs) >= 3  # the stylesheet, the standalone preset, the bundle
    spec_url = re.search(r'url: "([^"]+)"', html).group(1)
    for ref in refs + [spec_url]:
        url = urlparse(urljoin("http://localhost/docs", ref))
        assert url.netloc == "localhost", f"{ref} is loaded from another host"
        answer = client.get(url.path)
        assert answer.status_code == 200, ref
        assert answer.data, ref
    assert client.get("/docs/static/swagger-ui-bundle.js").content_type.startswith(("application/javascript",
                                                                                      "text/javascript"))


def test_unknown_asset_is_a_plain_404(client):
    answer = client.get("/docs/static/no-such-file.js")
    assert answer.status_code == 404
    body = answer.get_json()
    assert set(body) == {"code", "message"} and body["code"] == 404


def test_every_answer_says_nosniff(client, admin):
    """Browsers must take each answer for the type it declares, whatever it contains (an error echoing
    input, a report's text, an uploaded file's name)."""
    answers = [client.get("/healthz"), client.get("/openapi.json"), client.get("/docs"),
               client.get("/docs/static/swagger-ui-bundle.js"), client.get("/no/such/page"),
               client.get("/reports"), admin.get("/reports"), admin.get("/reports.xml"),
               admin.get("/v7/dashboards"), admin.get("/v7/dashboards/nope"), client.post("/auth/local", data="{")]
    for answer in answers:
        assert answer.headers.get("X-Content-Type-Options") == "nosniff", (answer.status_code, answer.headers)


def test_the_docs_page_may_not_be_framed_nor_run_scripts_it_did_not_ship(client):
    policy = client.get("/docs").headers.get("Content-Security-Policy", "")
    directives = dict((d.split(" ", 1) + [""])[:2] for d in (part.strip() for part in policy.split(";")) if d)
    assert directives.get("frame-ancestors") == "'none'"
    assert directives.get("default-src") == "'none'"
    assert "'unsafe-inline'" not in directives.get("script-src", "'unsafe-inline'")
    assert "'unsafe-eval'" not in directives["script-src"]
    assert "*" not in policy and "http" not in policy  # nothing from another origin
