"""The faces, in a real browser: the widget on the demo merchant's page and the agent panel,
driven by Selenium in the headless Chromium of Debian's packages (infra/bootstrap.sh
installs it; nothing downloads a browser build). Against the local stack: the demo page at
DEMO_PAGE_URL (served by infra/demo_page.py), the panel at DEMO_PANEL_URL.

The screenshots in docs/img/ are taken here, so the README shows the faces as they are."""
import json
import os
import shutil
import time
from pathlib import Path

import boto3
import pytest
import requests

from conftest import need, stripe

pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "img"


@pytest.fixture(scope="module")
def browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail("Chromium is not installed: run infra/bootstrap.sh (Debian's chromium, chromium-driver)")
    # Selenium Manager would try to fetch a driver; both are given, and it stays offline.
    os.environ["SE_OFFLINE"] = "true"
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=900,1100",
                "--disable-gpu", "--no-first-run"):
        opts.add_argument(arg)
    b = webdriver.Chrome(service=Service(executable_path=driver), options=opts)
    b.set_page_load_timeout(30)
    yield b
    b.quit()


def wait(b, cond, timeout=20):
    try:
        # A page being replaced (a form's POST answered) leaves the element a condition
        # read stale for a moment: look again, as for one not there yet.
        return WebDriverWait(b, timeout, ignored_exceptions=[StaleElementReferenceException]).until(cond)
    except Exception as e:
        # What the page showed, so a failure says why.
        raise AssertionError(f"{b.current_url}: {b.find_element(By.TAG_NAME, 'body').text[:800]}") from e


def text_of(b) -> str:
    return b.find_element(By.TAG_NAME, "body").text


def subscription(customer: str) -> dict:
    """The customer's live subscription, its first item's product fetched (an item's price
    comes whole; its product is an id, and 5 levels is past Stripe's expand limit)."""
    subs = stripe("GET", f"/v1/subscriptions?customer={customer}")
    sub = next(s for s in subs["data"] if s["status"] in ("active", "trialing", "past_due"))
    price = sub["items"]["data"][0]["price"]
    price["product"] = stripe("GET", f"/v1/products/{price['product']}")
    return sub


def posts_to(path: str) -> int:
    r = requests.get(f"{need('STRIPE_API_BASE')}/_emulator/requests", params={"key": need("STRIPE_API_KEY")},
                     timeout=5)
    return sum(1 for q in r.json()["requests"] if q["method"] == "POST" and q["path"] == path)


def writes_recorded(tool: str) -> int:
    """The audit records of `tool`'s Stripe writes for the demo's active customer."""
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(need("AUDIT_TABLE"))
    pk = f"{need('TENANT')}#{need('DEMO_ACTIVE_CUSTOMER')}"
    items = table.query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": pk})["Items"]
    return sum(1 for i in items if i.get("tool") == tool and "sends" in i and i.get("outcome") == "ok")


def open_widget(b, url=None):
    b.get(url or need("DEMO_PAGE_URL"))
    return wait(b, ec.presence_of_element_located((By.CSS_SELECTOR, "#billing-widget .card h3")))


def test_the_widget_shows_the_demo_visitors_real_plan_and_next_payment(browser):
    sub = subscription(need("DEMO_ACTIVE_CUSTOMER"))
    plan = sub["items"]["data"][0]["price"]["product"]["name"]
    next_payment = time.strftime("%Y-%m-%d", time.gmtime(sub["items"]["data"][0]["current_period_end"]))
    open_widget(browser)
    wait(browser, lambda b: plan in text_of(b))
    body = text_of(browser)
    assert plan in body and next_payment in body, body
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / "widget.png"))


def test_the_widgets_invoice_links_are_stripes(browser):
    open_widget(browser)
    browser.find_element(By.CSS_SELECTOR, "button[data-tool=get_invoice_history]").click()
    wait(browser, ec.presence_of_element_located((By.CSS_SELECTOR, "#billing-widget .card table")))
    shown = {a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#billing-widget .card a")}
    invoices = stripe("GET", f"/v1/invoices?customer={need('DEMO_ACTIVE_CUSTOMER')}&limit=10")["data"]
    links = {i[k] for i in invoices for k in ("invoice_pdf", "hosted_invoice_url") if i.get(k)}
    assert shown and shown <= links, (shown, links)
    for a in browser.find_elements(By.CSS_SELECTOR, "#billing-widget .card a"):
        assert a.get_attribute("target") == "_blank" and "noopener" in a.get_attribute("rel")


def test_the_widget_is_walked_by_tab_and_named_for_a_screen_reader(browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    open_widget(browser)
    toolbar = ["Subscription", "Invoices", "Payments", "Card", "Next invoice", "Plans", "Manage billing",
               "Cancel subscription"]
    # From the top of a fresh page, Tab as a keyboard user would.
    walked = []
    for _ in range(len(toolbar) + 4):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        el = browser.switch_to.active_element
        # What a screen reader announces: the computed role and name, as Chromium gives them.
        walked.append((el.aria_role, el.accessible_name))
    start = walked.index(("button", "Subscription"))
    assert walked[start:start + len(toolbar)] == [("button", name) for name in toolbar], walked
    region = browser.find_element(By.CSS_SELECTOR, "#billing-widget [aria-live]")
    assert region.get_attribute("aria-live") == "polite"
    browser.find_element(By.CSS_SELECTOR, "button[data-tool=cancel_subscription]").click()
    group = wait(browser, ec.presence_of_element_located((By.CSS_SELECTOR, ".preview")))
    assert group.aria_role == "group" and group.accessible_name == "Please confirm"
    names = {b.accessible_name for b in group.find_elements(By.TAG_NAME, "button")}
    assert names == {"Confirm", "Cancel"}, names
    group.find_element(By.XPATH, ".//button[text()='Cancel']").click()


def test_a_cancel_previewed_in_the_widget_waits_for_the_click(browser, api):
    sub = subscription(need("DEMO_ACTIVE_CUSTOMER"))
    path = f"/v1/subscriptions/{sub['id']}"
    before = posts_to(path)
    written = writes_recorded("cancel_subscription")
    open_widget(browser)
    browser.find_element(By.CSS_SELECTOR, "button[data-tool=cancel_subscription]").click()
    confirm = wait(browser, ec.element_to_be_clickable((By.XPATH, "//div[@class='preview']//button[text()='Confirm']")))
    assert "cancel" in browser.find_element(By.CSS_SELECTOR, ".preview").text.lower()
    time.sleep(1)
    assert posts_to(path) == before, "the preview changed Stripe"
    assert stripe("GET", path)["cancel_at_period_end"] is False
    confirm.click()
    wait(browser, lambda b: "Done" in b.find_element(By.CSS_SELECTOR, "#billing-widget .card").text)
    # Focus follows the answer, for keyboard and screen-reader users.
    assert browser.switch_to.active_element.tag_name == "h3"
    assert posts_to(path) == before + 1
    assert stripe("GET", path)["cancel_at_period_end"] is True
    assert writes_recorded("cancel_subscription") == written + 1
    # Put it back for the tests after this one, the same two calls any client makes.
    from conftest import mint
    token = mint(need("DEMO_ACTIVE_USER"))
    _, preview = api.tool("resume_subscription", token)
    status, done = api.tool("resume_subscription", token, {"confirm": preview["confirmation"]["token"]})
    assert status == 200 and done["status"] == "done", done


def test_a_page_from_another_origin_gets_no_data(browser):
    # The same page, at an origin the tenant did not allow: the browser itself refuses the
    # answers (no CORS grant), so the widget shows nothing of the visitor's.
    other = need("DEMO_PAGE_URL").replace("localhost", "127.0.0.1")
    open_widget(browser, other)
    card = browser.find_element(By.CSS_SELECTOR, "#billing-widget .card")
    wait(browser, lambda b: "could not be reached" in card.text)
    plan = subscription(need("DEMO_ACTIVE_CUSTOMER"))["items"]["data"][0]["price"]["product"]["name"]
    assert plan not in text_of(browser)


@pytest.fixture(scope="module")
def busy_customer():
    """A customer with 5 paid invoices and 5 payments (five subscriptions, each billed at
    once), so the panel's "last 5 invoices" and "3 most recent payments" are both full."""
    cus = stripe("POST", "/v1/customers", {"email": f"busy-{time.time_ns()}@example.com", "name": "Busy Bea",
                                           "payment_method": "pm_card_visa",
                                           "invoice_settings[default_payment_method]": "pm_card_visa"})
    for _ in range(6):
        stripe("POST", "/v1/subscriptions", {"customer": cus["id"], "items[0][price]": need("DEMO_PRICE_STARTER")})
    return cus


def panel_rows(b, heading: str) -> int:
    section = b.find_element(By.XPATH, f"//section[h2[text()='{heading}']]")
    return len(section.find_elements(By.CSS_SELECTOR, "tbody tr"))


def open_panel(b, url: str) -> None:
    # From a blank page, so a URL differing only in its fragment loads the panel afresh.
    b.get("about:blank")
    b.get(url)


def test_the_panel_shows_the_customers_invoices_and_payments(browser, busy_customer):
    open_panel(browser, f"{need('DEMO_PANEL_URL')}&customer_id={busy_customer['id']}")
    wait(browser, lambda b: "Busy Bea" in text_of(b))
    assert panel_rows(browser, "Invoices") == 5
    assert panel_rows(browser, "Recent payments") == 3
    body = text_of(browser)
    assert "Visa ending 4242" in body or "visa ending 4242" in body.lower(), body
    # The key is gone from the address bar once read.
    assert "key=" not in browser.current_url
    # The README's picture: the demo's active customer, as an agent sees them.
    open_panel(browser, f"{need('DEMO_PANEL_URL')}&customer_id={need('DEMO_ACTIVE_CUSTOMER')}")
    wait(browser, lambda b: b.find_elements(By.XPATH, "//section[h2[text()='Invoices']]"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / "panel.png"))


def test_the_panel_takes_chatwoots_app_context(browser, busy_customer):
    open_panel(browser, need("DEMO_PANEL_URL"))
    wait(browser, lambda b: "customer_id=" in text_of(b))
    context = {"event": "appContext", "data": {"conversation": {"id": 1}, "contact": {
        "id": 7, "email": busy_customer["email"], "custom_attributes": {"stripe_customer_id": busy_customer["id"]}}}}
    browser.execute_script("window.postMessage(arguments[0], '*');", json.dumps(context))
    wait(browser, lambda b: "Busy Bea" in text_of(b))
    assert panel_rows(browser, "Invoices") == 5 and panel_rows(browser, "Recent payments") == 3


@pytest.mark.parametrize("key", ["bbp_wrong-key-0123456789", ""])
def test_a_bad_or_missing_panel_key_shows_a_plain_error_and_no_data(browser, busy_customer, key):
    url = need("DEMO_PANEL_URL").split("#")[0] + (f"#key={key}&" if key else "#") + f"customer_id={busy_customer['id']}"
    open_panel(browser, url)
    wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "[role=alert]"))
    body = text_of(browser)
    assert "Busy Bea" not in body and busy_customer["email"] not in body and "Invoices" not in body


def test_the_panel_page_sets_its_csp_and_frame_ancestors():
    r = requests.get(need("DEMO_PANEL_URL").split("#")[0], timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors http://localhost:3000" in csp
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp and "unsafe" not in csp
    assert "connect-src 'self'" in csp
    assert r.headers["referrer-policy"] == "no-referrer"
    # The page holds no data and no credential of its own.
    assert need("PANEL_KEY") not in r.text and need("DEMO_ACTIVE_CUSTOMER") not in r.text


def test_the_widget_script_is_one_small_file():
    r = requests.get(f"{need('API_URL')}/v1/{need('TENANT')}/widget.js", timeout=10)
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    import gzip
    assert len(gzip.compress(r.content)) < 30_000
    assert "BillingWidget" in r.text


def test_an_agent_approves_a_waiting_refund_in_the_panel_and_it_is_refunded_once(browser):
    from test_approvals import Tenant, paid_charge, refunds_to
    t = Tenant()
    customer, charge = paid_charge()
    t.ask(customer, charge)
    assert refunds_to(charge) == 0
    open_panel(browser, f"{need('API_URL')}/v1/{t.id}/agent/panel#key={t.panel}&customer_id={customer}")
    section = wait(browser, ec.presence_of_element_located(
        (By.XPATH, "//section[h2[text()='Waiting for approval']]")))
    assert "refund" in section.text.lower() and "over the" in section.text, section.text
    section.find_element(By.XPATH, ".//button[text()='Approve']").click()
    wait(browser, lambda b: "Approved." in section.text)
    assert refunds_to(charge) == 1


def test_the_pay_now_page_shows_the_invoice_and_card_and_pays_once_on_a_click(browser):
    """A failed payment's email, as the customer opens it: the pay-now link in Chromium shows
    the invoice and the saved card (brand, last 4) and one named button; the card is updated
    (as the page's update-card link leads to), and one click pays it, once."""
    import re

    import stripe as stripe_sdk

    from conftest import sent_mail, until
    from seed_demo import set_card
    v1 = stripe_sdk.StripeClient(need("STRIPE_API_KEY"), base_addresses={"api": need("STRIPE_API_BASE")},
                                 max_network_retries=0).v1
    email = f"payer-{int(time.time() * 1000)}@example.com"
    customer = v1.customers.create(params={"email": email, "name": "Pat Payer"})
    set_card(v1, customer.id, "pm_card_chargeCustomerFail")
    # The first invoice's payment fails, as a renewal's would: the customer is emailed.
    v1.subscriptions.create(params={"customer": customer.id,
                                    "items": [{"price": need("DEMO_PRICE_STARTER")}]})
    mail = until(lambda: sent_mail(email), timeout=20)
    assert len(mail) == 1, mail
    link = next(u for u in re.findall(r'href="([^"]+)"', mail[0]["body"]) if not u.endswith("/card"))

    browser.get(link)
    button = wait(browser, ec.element_to_be_clickable((By.CSS_SELECTOR, "form button")))
    page = text_of(browser)
    assert "$19.00" in page and "Visa ending 0341" in page, page
    assert button.accessible_name == "Pay $19.00 now" and browser.find_element(By.TAG_NAME, "h1").text
    assert browser.find_element(By.LINK_TEXT, "Use a different card").get_attribute("href") == f"{link}/card"
    browser.save_screenshot(str(SHOTS / "pay.png"))

    set_card(v1, customer.id, "pm_card_visa")
    invoice = v1.invoices.list(params={"customer": customer.id, "limit": 1}).data[0]
    pays = f"/v1/invoices/{invoice.id}/pay"
    before = posts_to(pays)
    button.click()
    wait(browser, lambda b: "Paid, thank you" in text_of(b))
    assert posts_to(pays) == before + 1
    # Back and click again: the link is spent, nothing more is paid.
    browser.get(link)
    wait(browser, lambda b: "This link was used" in text_of(b))
    assert not browser.find_elements(By.CSS_SELECTOR, "form button")
    assert posts_to(pays) == before + 1
    assert v1.invoices.retrieve(invoice.id).status == "paid"
