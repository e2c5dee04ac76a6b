"""The web app in real Chromium (Debian's, driven by Playwright): a person answers the
questionnaire, reads the roadmap, tries a what-if, and loads a 20-unit portfolio.

Screenshots of each step go to ``ROADMAP_SCREENSHOTS`` (default ``tests/screenshots/``,
git-ignored).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.server_process import ServerProcess, free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "clients" / "examples"
SHOTS = Path(os.environ.get("ROADMAP_SCREENSHOTS", REPO / "tests" / "screenshots"))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    process = ServerProcess(
        tmp_path_factory.mktemp("web"),
        "--http-listen",
        f"127.0.0.1:{port}",
        "--engine-workers",
        "0",
    )
    process.wait_serving()
    yield f"http://127.0.0.1:{port}/"
    assert process.stop() == 0


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, app: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(app)
    page.wait_for_selector("body[data-ready]")
    yield page
    context.close()
    assert errors == [], f"script errors in the page: {errors}"


def shot(page: Page, name: str) -> None:
    page.screenshot(path=SHOTS / name, full_page=True)


def answer(page: Page, practice: str, label: str) -> None:
    page.locator(f"#practice-{practice}").get_by_label(label, exact=True).check()


def steps(page: Page) -> list[str]:
    return page.locator("ol.steps .step-title").all_inner_texts()


def test_a_person_answers_the_questionnaire_reads_the_roadmap_and_tries_a_what_if(
    page: Page,
) -> None:
    # 1. The questionnaire, generated from the catalogue.
    assert page.locator("fieldset.practice").count() == 113
    page.get_by_label("Unit id").fill("web-shop")
    page.get_by_label("Broad, homogeneous external user base").check()
    page.get_by_label("Keep-the-lights-on share of the IT budget (%)").fill("60")
    for practice in ("continuous-integration", "agile-delivery", "incident-and-request-logging"):
        answer(page, practice, "Adopted")
    answer(page, "knowledge-base", "Partial")
    # A wrong value: the server's violation appears next to the field, as you type.
    page.locator("#progress-knowledge-base").fill("140")
    problem = page.locator("#err-practice-knowledge-base")
    problem.wait_for(state="visible")
    assert "between 0 and 1" in problem.inner_text()
    assert page.locator("#progress-knowledge-base").get_attribute("aria-invalid") == "true"
    page.get_by_label("Self-service share of interactions with IT (%)").fill("30")
    page.locator("#practice-knowledge-base").scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "01-questionnaire-violation.png")  # the viewport, at the field
    page.locator("#progress-knowledge-base").fill("40")
    page.locator("#validity.ok").wait_for()
    assert problem.is_hidden()
    page.locator("#add-service").click()
    page.get_by_label("Name, service 1").fill("Corporate e-mail")
    page.get_by_label("Annual cost, service 1").fill("180000")
    page.get_by_label("Live business requirement?, service 1").select_option("true")
    page.get_by_label("Commodity on the market?, service 1").select_option("true")
    page.get_by_label("Differentiates the business, service 1").select_option("LEVEL_LOW")
    page.locator("#validity.ok").wait_for()
    shot(page, "02-questionnaire.png")

    # The assessment saves as the JSON the command line reads.
    with page.expect_download() as download:
        page.get_by_role("button", name="Save the assessment (JSON)").click()
    saved = Path(download.value.path()).read_text()
    assert '"unit_id": "web-shop"' in saved
    assert '"progress": 0.4' in saved

    # 2. Its roadmap.
    page.locator("#nav-roadmap").click()
    page.locator("#r-summary").wait_for()
    assert page.locator("#r-summary").inner_text() == "Roadmap of web-shop"
    assert int(page.locator("#sum-steps .value").inner_text()) > 5
    assert page.locator("table.heatmap").count() == 4
    assert page.locator("#services-table tbody tr").count() == 1
    assert "outsource" in page.locator("#services-table").inner_text()
    page.locator("ol.steps details").first.locator("summary").click()
    assert "Raised by" in page.locator("ol.steps li").first.inner_text()
    before = steps(page)
    shot(page, "03-roadmap.png")
    svg_width = page.locator("svg.graph").bounding_box()
    frame_width = page.locator(".graph-frame").bounding_box()
    assert svg_width is not None
    assert frame_width is not None
    assert svg_width["width"] <= frame_width["width"] + 1  # the graph fits the page

    # 3. What if one answer changes: the roadmap is computed again, the order changes.
    page.locator("#nav-whatif").click()
    page.get_by_label("Practice", exact=True).select_option("warranty-requirements-in-backlog")
    page.get_by_label("Answer", exact=True).select_option("ADOPTION_ADOPTED")
    page.locator("#order-summary").wait_for()
    assert page.locator("#order-summary").inner_text().startswith("The order changed")
    assert "warranty-requirements-in-backlog" in page.locator("#w-completed").inner_text()
    moved_up = page.locator("ol.order li.order-up").all_inner_texts()
    assert any("Infrastructure as code" in line for line in moved_up), moved_up
    shot(page, "04-what-if.png")
    page.get_by_role("button", name="Keep these changes").click()
    page.locator("#r-summary").wait_for()
    after = steps(page)
    assert after != before
    assert after.index("Infrastructure as code") < before.index("Infrastructure as code")


def test_the_roadmap_prints_without_loss(page: Page) -> None:
    page.locator("#load-assessment").set_input_files(EXAMPLES / "reference-mid-maturity.json")
    page.locator("#validity.ok").wait_for()
    assert page.get_by_label("Unit id").input_value() == "reference-mid-maturity"
    page.locator("#nav-roadmap").click()
    page.locator("#r-summary").wait_for()
    page.emulate_media(media="print")
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    shot(page, "05-roadmap-print.png")
    overflow = page.evaluate(
        "[...document.querySelectorAll('#view-roadmap *')]"
        ".filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)"
        ".map(e => e.tagName + '.' + e.className)"
    )
    assert overflow == [], f"cut off when printed: {overflow[:5]}"
    assert (
        page.locator("ol.steps details[open]").count() == page.locator("ol.steps details").count()
    )
    assert page.locator("nav").is_hidden()


def test_a_portfolio_of_20_units_is_summarised_with_a_link_to_each_roadmap(page: Page) -> None:
    page.locator("#nav-portfolio").click()
    page.locator("#load-portfolio").set_input_files(EXAMPLES / "portfolio-20.jsonl")
    page.locator("#units-table").wait_for()
    assert page.locator("#p-units .value").inner_text() == "20"
    assert page.locator("#units-table tbody tr").count() == 20
    assert page.locator("#blockers-table tbody tr").count() > 0
    assert page.locator("figure.distribution").count() >= 2
    column = page.locator("#units-table tbody td:nth-child(3)")
    page.get_by_role("button", name="Steps").click()  # numbers sort largest first
    assert [int(t) for t in column.all_inner_texts()] == sorted(
        (int(t) for t in column.all_inner_texts()), reverse=True
    )
    assert page.locator("th[aria-sort=descending]").inner_text().startswith("Steps")
    page.get_by_role("button", name="Steps").press("Enter")  # the keyboard sorts too
    assert [int(t) for t in column.all_inner_texts()] == sorted(
        int(t) for t in column.all_inner_texts()
    )
    shot(page, "06-portfolio.png")
    link = page.locator("#units-table tbody a").first
    unit = link.inner_text()
    link.click()
    page.locator("#r-summary").wait_for()
    assert page.locator("#r-summary").inner_text() == f"Roadmap of {unit}"
    shot(page, "07-portfolio-unit-roadmap.png")


def test_every_control_has_a_label_and_the_keyboard_reaches_the_views(page: Page) -> None:
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('input, select, button, textarea')]"
        ".filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')"
        " && !(e.textContent || '').trim())"
        ".map(e => e.outerHTML.slice(0, 80))"
    )
    assert unlabelled == []
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # "2 · Roadmap"
    page.keyboard.press("Enter")
    page.wait_for_function("location.hash === '#roadmap'")
    assert re.search("roadmap", page.title(), re.IGNORECASE)
