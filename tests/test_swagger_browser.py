"""Swagger UI at /docs under its Content-Security-Policy, in a real browser (Debian's Chromium)."""
from pathlib import Path

import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
# Every CSP violation the page meets, reported or not by the console.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(
    `${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`));
"""


def test_swagger_ui_renders_under_its_policy_with_no_violation(server):
    problems = []
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page()
            page.add_init_script(RECORD_VIOLATIONS)
            page.on("console", lambda m: m.type in ("error", "warning") and "Failed to load resource" not in m.text
                    and problems.append(f"console: {m.text}"))
            page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico")
                    and problems.append(f"HTTP {r.status}: {r.url}"))
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} {r.failure}"))
            answer = page.goto(f"{server}/docs")
            assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
            operations = page.locator(".opblock-summary")
            operations.first.wait_for(timeout=30000)
            assert operations.count() > 20
            page.get_by_text("/v7/dashboards", exact=True).first.click()  # an operation opens
            page.locator(".opblock-body").first.wait_for(timeout=10000)
            page.wait_for_timeout(500)
            violations, seen = page.evaluate("window.__violations"), list(problems)
            # the policy is in force: a script the page did not ship does not run, and is seen refused
            injected = page.evaluate("""() => new Promise((done) => {
                document.addEventListener('securitypolicyviolation', () => done(window.__ran), {once: true});
                const script = document.createElement('script');
                script.textContent = 'window.__ran = true';
                document.head.appendChild(script);
            })""")
            assert injected is None
        finally:
            browser.close()
    assert violations == [] and seen == [], "\n".join(violations + seen)
