"""The dashboard in a real browser (Playwright driving Debian's Chromium): sign in, create a
project and a service, press Deploy, watch the live log reach SUCCESS, open the live URL."""
from __future__ import annotations

import pytest

from tests import samples

pytestmark = pytest.mark.e2e
LOGIN = __import__("re").compile(r".*/login/?$")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def page(platform_up, request, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        page.set_default_timeout(20000)
        # assertions wait as long as actions: on a loaded 2-core CI box a reloaded page can take
        # over 5 s (expect's default) to hydrate its state (seen once in CI: a blank page at 5 s)
        from playwright.sync_api import expect
        expect.set_options(timeout=20000)
        yield page
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            shot = tmp_path_factory.mktemp("screens") / f"{request.node.name}.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failure: {shot}")
        browser.close()


def sign_in(page, api, platform_up) -> None:
    page.goto(platform_up.web_url + "/login")
    page.fill("#token-input", api.token)
    page.click("#login-button")
    page.wait_for_url(platform_up.web_url + "/")


def test_create_deploy_and_open_live_url(page, api, platform_up, git_server):
    from playwright.sync_api import expect

    repo = git_server.create("clicked", samples.python_app("clicked in a browser"))
    base = platform_up.web_url
    page.goto(base + "/")
    page.wait_for_url("**/login")
    page.fill("#token-input", "not-the-token")
    page.click("#login-button")
    expect(page.locator("#error-message")).to_be_visible()
    page.fill("#token-input", api.token)
    page.click("#login-button")

    page.fill("#project-name-input", "browser")
    page.click("#create-project-button")
    page.get_by_role("link", name="browser", exact=True).click()
    page.wait_for_url("**/projects/browser")

    page.fill("#service-name-input", "clicked")
    page.fill("#repo-url-input", "file:///etc/passwd")
    page.click("#create-service-button")
    expect(page.locator("#error-message")).to_contain_text("file://")
    page.fill("#repo-url-input", repo)
    page.click("#create-service-button")
    page.get_by_role("link", name="clicked", exact=True).click()
    page.wait_for_url("**/services/clicked")

    page.click("#deploy-button")
    expect(page.locator("#build-log")).to_contain_text("Cloning", timeout=30000)
    expect(page.locator("#deployment-status")).to_have_text("SUCCESS", timeout=180000)
    expect(page.locator("#build-log")).to_contain_text("Live at")
    link = page.locator("#live-url")
    assert link.get_attribute("href") == "http://clicked.localhost:18080"
    with page.context.expect_page() as new_tab:
        link.click()
    app = new_tab.value
    app.wait_for_load_state()
    assert "hello from clicked in a browser" in app.content()
    assert api.token not in page.content()


def test_lifecycle_env_and_rollback_from_the_dashboard(page, api, project, platform_up, git_server):
    """Secrets masked until revealed, stop/start, a rollback from the deployments table, delete."""
    from playwright.sync_api import expect

    from tests.conftest import edge_get, wait_deploy

    repo = git_server.create("clickops", samples.python_app("first"))
    api.post("/api/services", {"project": project, "name": "clickops", "repo_url": repo})
    first = wait_deploy(api, api.post("/api/services/clickops/deploy")["id"])
    git_server.commit("clickops", {"version.txt": "second\n"})
    second = wait_deploy(api, api.post("/api/services/clickops/deploy")["id"])
    assert (first["status"], second["status"]) == ("SUCCESS", "SUCCESS")

    sign_in(page, api, platform_up)
    page.goto(platform_up.web_url + "/services/clickops")
    expect(page.locator("#service-status")).to_have_text("running")

    secret = "s3cr3t value with $ and \"quotes\""
    api.call("PUT", "/api/services/clickops/env/OTHER_KEY", json={"value": "never-revealed-" + secret})
    page.reload()
    expect(page.locator("#service-status")).to_have_text("running")
    frames: list[str] = []   # everything the server pushes to this browser (Reflex state deltas)
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    page.reload()
    expect(page.locator("#env-table")).to_contain_text("OTHER_KEY")
    page.fill("#env-key-input", "API_KEY")
    page.fill("#env-value-input", secret)
    page.click("#env-set-button")
    expect(page.locator("#env-table")).to_contain_text("API_KEY")
    assert secret not in page.content(), "a saved value is masked"
    assert frames and not any("s3cr3t" in f for f in frames), "no value reaches the browser's state before Reveal"
    page.locator("tr", has_text="API_KEY").get_by_role("button", name="Reveal").click()
    expect(page.locator("#env-table")).to_contain_text(secret)
    assert not any("never-revealed" in f for f in frames), "revealing one value sends only that one"

    page.click("#stop-button")
    expect(page.locator("#service-status")).to_have_text("stopped", timeout=30000)
    assert edge_get(platform_up, "clickops").status_code == 503
    page.click("#start-button")
    expect(page.locator("#service-status")).to_have_text("running", timeout=60000)
    assert edge_get(platform_up, "clickops").text == "hello from second\n"

    row = page.locator(".deployment-row", has_text="#" + str(first["id"]))
    row.locator(".rollback-button").click()
    expect(page.locator("#deployments-table")).to_contain_text(f"rollback to #{first['id']}", timeout=30000)
    expect(page.locator("#deployment-status")).to_have_text("SUCCESS", timeout=120000)
    assert edge_get(platform_up, "clickops").text == "hello from first\n"

    rolled = api.get("/api/services/clickops/deployments")[0]   # Redeploy: the live image again, a new deployment
    page.click("#redeploy-button")
    expect(page.locator("#deployments-table")).to_contain_text(f"redeploy of #{rolled['id']}", timeout=30000)
    expect(page.locator("#deployment-status")).to_have_text("SUCCESS", timeout=120000)
    latest = api.get("/api/services/clickops/deployments")[0]
    assert latest["status"] == "SUCCESS" and latest["redeploy_of"] == rolled["id"]
    assert edge_get(platform_up, "clickops").text == "hello from first\n"

    page.click("#delete-button")
    page.click("#confirm-delete-button")
    page.wait_for_url(f"**/projects/{project}", timeout=60000)
    assert edge_get(platform_up, "clickops").status_code == 404


def test_zero_config_build_plan_is_shown(page, api, project, platform_up, git_server):
    """A repository without a Dockerfile: Deploy, then the generated Dockerfile is on the page."""
    from playwright.sync_api import expect

    repo = git_server.create("clickstatic", samples.repo("static"))
    api.post("/api/services", {"project": project, "name": "clickstatic", "repo_url": repo})
    sign_in(page, api, platform_up)
    page.goto(platform_up.web_url + "/services/clickstatic")
    page.click("#deploy-button")
    expect(page.locator("#deployment-status")).to_have_text("SUCCESS", timeout=180000)
    expect(page.locator("#build-plan")).to_contain_text("FROM renderlite-base/python:3.11")
    expect(page.locator("#build-plan")).to_contain_text("USER 10001")
    expect(page.locator("#build-log")).to_contain_text("static site (index.html)")
    expect(page.locator("#service-runtime")).to_have_text("static")


def test_after_logout_a_reload_never_brings_back_revealed_values(page, api, project, platform_up, git_server):
    from playwright.sync_api import expect

    repo = git_server.create("logoutsvc", samples.python_app("x"))
    api.post("/api/services", {"project": project, "name": "logoutsvc", "repo_url": repo})
    api.call("PUT", "/api/services/logoutsvc/env/DB_PASSWORD", json={"value": "hunter2-revealed-once"})
    sign_in(page, api, platform_up)
    page.goto(platform_up.web_url + "/services/logoutsvc")
    page.locator("tr", has_text="DB_PASSWORD").get_by_role("button", name="Reveal").click()
    expect(page.locator("#env-table")).to_contain_text("hunter2-revealed-once")

    page.click("#logout-button")
    page.wait_for_url(LOGIN)
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    page.goto(platform_up.web_url + "/services/logoutsvc")
    page.wait_for_url(LOGIN)
    page.reload()
    page.wait_for_url(LOGIN)
    page.wait_for_timeout(1000)
    assert frames, "the page talked to the server"
    assert not any("hunter2" in f for f in frames), "no state of the signed-out session reaches the browser"
    assert "hunter2" not in page.content()


def test_the_environment_panel_shows_the_pages_own_service(page, api, project, platform_up, git_server):
    """Found in a new-user trial: the first service page after sign-in showed no variables, and the
    next one showed the previous page's (the env loader raced the page loader)."""
    from playwright.sync_api import expect

    for name in ("envpage-a", "envpage-b"):
        api.post("/api/services", {"project": project, "name": name,
                                   "repo_url": git_server.create(name, samples.python_app("x"))})
    api.call("PUT", "/api/services/envpage-a/env/ONLY_ON_A", json={"value": "a-value"})
    sign_in(page, api, platform_up)
    page.goto(platform_up.web_url + "/services/envpage-a")
    expect(page.locator("#env-table")).to_contain_text("ONLY_ON_A")
    page.goto(platform_up.web_url + "/services/envpage-b")
    expect(page.locator("#service-status")).to_be_visible()
    page.wait_for_timeout(1500)
    assert "ONLY_ON_A" not in page.content()
    page.goto(platform_up.web_url + "/services/envpage-a")
    expect(page.locator("#env-table")).to_contain_text("ONLY_ON_A")
    page.locator("tr", has_text="ONLY_ON_A").get_by_role("button", name="Reveal").click()
    expect(page.locator("#env-table")).to_contain_text("a-value")


def test_cancel_a_build_from_the_dashboard(page, api, project, platform_up, git_server):
    from playwright.sync_api import expect

    repo = git_server.create("clickcancel", samples.python_app("x", extra="RUN sleep 120\n"))
    api.post("/api/services", {"project": project, "name": "clickcancel", "repo_url": repo})
    sign_in(page, api, platform_up)
    page.goto(platform_up.web_url + "/services/clickcancel")
    page.click("#deploy-button")
    expect(page.locator("#build-log")).to_contain_text("RUN sleep 120", timeout=60000)
    page.click("#cancel-button")
    expect(page.locator("#deployment-status")).to_have_text("FAILED", timeout=60000)
    expect(page.locator("#deployments-table")).to_contain_text("cancelled by a user")
    expect(page.locator("#cancel-button")).to_have_count(0)


def test_an_unknown_service_page_shows_only_the_error(page, api, platform_up):
    from playwright.sync_api import expect

    sign_in(page, api, platform_up)
    page.goto(platform_up.web_url + "/services/no-such-service")
    expect(page.locator("#error-message")).to_contain_text("service 'no-such-service' not found")
    expect(page.locator("#deploy-button")).to_have_count(0)


def test_an_empty_project_is_deleted_from_its_page_and_a_busy_one_is_not(page, api, platform_up, git_server):
    from playwright.sync_api import expect

    api.post("/api/projects", {"name": "tidy"})
    api.post("/api/services", {"project": "tidy", "name": "tidy-web",
                               "repo_url": git_server.create("tidy-web", samples.python_app("t"))})
    sign_in(page, api, platform_up)
    page.goto(platform_up.web_url + "/projects/tidy")
    expect(page.get_by_role("link", name="tidy-web", exact=True)).to_be_visible()
    expect(page.locator("#delete-project-button")).to_have_count(0)   # offered only once it is empty
    api.call("DELETE", "/api/services/tidy-web")
    page.reload()
    page.click("#delete-project-button")
    page.wait_for_url(platform_up.web_url + "/")
    assert "tidy" not in [p["name"] for p in api.get("/api/projects")]
