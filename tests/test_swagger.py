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
