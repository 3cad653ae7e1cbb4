"""The learner's view as a learner uses it, in Chromium: the annotations' text where the graded PDF has
it (same lines, same places), at 1280 and 390 px; numbers in the learner's language; the keyboard only,
with where the focus lands and what the live regions say; axe-core's WCAG 2.1 A/AA checks.

learner_1's graded copy gets (through the demo host's own models) a long free text near the right
margin and a comment box of several lines on its first page, and 3.75 points on the 0.25-step
question (a rubric item of 3 points applied, and an adjustment of 0.75); its PDF is rendered again with them; the instructor releases the results from the dashboard.
"""
import json
import re
from decimal import Decimal

import pymupdf
import pytest
from playwright.sync_api import expect

from .axe import assert_accessible
from .conftest import VIEWPORT
from .test_results import learner_region, release

pytestmark = pytest.mark.browser

FREE_TEXT = "Attention : la limite en plus l'infini se justifie par le théorème de comparaison, pas par le calcul"
COMMENT = "Raisonnement par récurrence : l'initialisation manque, l'hérédité est juste mais mal rédigée."

ANNOTATE = """
import json
from decimal import Decimal
from viatique_xblock.grading import rendering
from viatique_xblock.models import Annotation, Copy, QuestionPoints
from viatique_xblock.states import Grading
copy = Copy.objects.get(learner_username="learner_1")
page = copy.pages.filter(discarded=False).order_by("position", "id").first()
Annotation.objects.create(copy=copy, page=page, kind="text", x=0.80, y=0.62, width=0.12, height=0.02,
                          text=FREE_TEXT, author="staff_1")
Annotation.objects.create(copy=copy, page=page, kind="comment", x=0.06, y=0.40, width=0.30, height=0.04,
                          text=COMMENT, author="staff_1")
QuestionPoints.objects.filter(copy=copy, question_id="q4").update(points=Decimal("3.75"), adjustment=Decimal("0.75"))
from viatique_xblock.models import AppliedItem, RubricItem
item = RubricItem.objects.create(exam=copy.exam, question_id="q4", text="Méthode juste", points=Decimal("3"))
AppliedItem.objects.create(copy=copy, question_id="q4", item=item)
copy.total_points = sum(row.points for row in copy.points.all())
copy.grading_state = Grading.SUBMITTED
copy.save()
print(json.dumps({"state": rendering.render_copy(copy.pk, scale=20), "total": str(copy.total_points.normalize())}))
"""


@pytest.fixture
def released_host(fresh_demo_host, page, demo_facts):
    """A demo host where learner_1's copy holds the texts above, its PDF rendered again, results released."""
    script = f"FREE_TEXT = {FREE_TEXT!r}\nCOMMENT = {COMMENT!r}\n" + ANNOTATE
    done = json.loads(fresh_demo_host.manage("shell", "-v", "0", "-c", script).strip().splitlines()[-1])
    assert done["state"] == "graded"
    fresh_demo_host.total = Decimal(done["total"])
    try:
        release(page, fresh_demo_host, demo_facts)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{fresh_demo_host.server_log()}") from None
    return fresh_demo_host


def open_learner_view(page, host, student="learner_1"):
    page.goto(host.url(student=student))
    region = learner_region(page)
    image = region.locator(".viatique-learner-image")
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    return region


SCREEN_LINES = """() => {
  const image = document.querySelector('.viatique-learner-image').getBoundingClientRect();
  return Array.from(document.querySelectorAll('.viatique-mark-laid')).map(box => ({
    kind: box.dataset.kind,
    box: (r => ({x0: (r.left - image.left) / image.width, y0: (r.top - image.top) / image.height,
                 x1: (r.right - image.left) / image.width, y1: (r.bottom - image.top) / image.height}))(
      box.getBoundingClientRect()),
    lines: Array.from(box.querySelectorAll('.viatique-mark-line')).map(line => {
      const r = line.getBoundingClientRect();
      return {text: line.textContent, x0: (r.left - image.left) / image.width, x1: (r.right - image.left) / image.width,
              cy: (r.top + r.height / 2 - image.top) / image.height, height: r.height / image.height,
              fontSize: parseFloat(getComputedStyle(line).fontSize) / image.width};
    })
  }));
}"""


def pdf_lines(data, page_number=0):
    """The text lines PyMuPDF finds on a page of the PDF: text, x0, x1 and vertical centre, as fractions."""
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        page = doc[page_number]
        width, height = page.rect.width, page.rect.height
        found = []
        for block in page.get_text("dict")["blocks"]:
            for line in block.get("lines", []):
                text = "".join(span["text"] for span in line["spans"])
                x0, y0, x1, y1 = line["bbox"]
                found.append({"text": text.strip(), "x0": x0 / width, "x1": x1 / width, "cy": (y0 + y1) / 2 / height,
                              "size": line["spans"][0]["size"] / width})
        return found


def test_a_text_annotation_has_the_same_lines_at_the_same_places_on_screen_and_in_the_pdf(released_host, page):
    region = open_learner_view(page, released_host)
    expect(region.locator(".viatique-mark-laid")).to_have_count(2)
    screen = page.evaluate(SCREEN_LINES)
    link = region.get_by_role("link", name="Download your graded copy (PDF)")
    response = page.request.get(link.evaluate("a => a.href"))
    assert response.ok
    pdf = pdf_lines(response.body())

    by_text = {line["text"]: line for line in pdf}
    for box in screen:
        texts = [line["text"] for line in box["lines"]]
        source = FREE_TEXT if box["kind"] == "text" else COMMENT
        assert " ".join(texts) == source  # every word, in lines (none dropped, none added)
        assert len(texts) > 2, f"the {box['kind']} should wrap in its narrow box: {texts}"
        for line in box["lines"]:
            assert line["text"] in by_text, f"screen line {line['text']!r} is no line of the PDF: {sorted(by_text)}"
            printed = by_text[line["text"]]
            # the same place: within a fifth of a line's height vertically, 1 % of the page's width horizontally
            assert abs(line["cy"] - printed["cy"]) < 0.2 * line["height"], (line, printed)
            assert abs(line["x0"] - printed["x0"]) < 0.01, (line, printed)
            # the same size, relative to the page
            assert line["fontSize"] == pytest.approx(printed["size"], rel=0.02)
        # the box on screen stays on the page
        assert 0 <= box["box"]["x0"] and box["box"]["x1"] <= 1.0001 and box["box"]["y1"] <= 1.0001

    # at 390 px the page is scaled down with its texts: the same lines at the same fractions of the page
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    region = open_learner_view(page, released_host)
    expect(region.locator(".viatique-mark-laid")).to_have_count(2)
    small = page.evaluate(SCREEN_LINES)
    for wide, narrow in zip(screen, small):
        assert [line["text"] for line in narrow["lines"]] == [line["text"] for line in wide["lines"]]
        for line_wide, line_narrow in zip(wide["lines"], narrow["lines"]):
            assert abs(line_wide["cy"] - line_narrow["cy"]) < 0.005
            assert abs(line_wide["x0"] - line_narrow["x0"]) < 0.005
            assert line_narrow["x1"] <= 1.0, f"{line_narrow['text']!r} runs off the page"
    # no horizontal scrolling of the page, and the page image fits the screen
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    image_box = region.locator(".viatique-learner-image").bounding_box()
    assert image_box["x"] >= 0 and image_box["x"] + image_box["width"] <= 390
    assert_accessible(page, state="in the learner view at 390 px")


@pytest.fixture
def french_page(chromium, browser_errors, request):
    context = chromium.new_context(viewport=VIEWPORT, locale="fr-FR", extra_http_headers={"Accept-Language": "fr"})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("console", browser_errors.on_console)
    page.on("pageerror", browser_errors.on_page_error)
    yield page
    context.close()


def test_a_french_learner_reads_numbers_with_a_decimal_comma(released_host, french_page):
    region = open_learner_view(french_page, released_host)
    total = f"{released_host.total}".replace(".", ",")
    assert "," in total  # 3.75 points make a total with decimals
    expect(region.locator('[data-region="total"]')).to_have_text(f"Total : {total} / 20")
    row = region.locator('[data-question="q4"] [data-field="points"]')
    expect(row).to_have_text("3,75 / 5")
    # the rubric item applied with its points, then the adjustment, signed, in French
    expect(region.locator('[data-question="q4"] [data-region="rubric-items"] li')).to_have_text(["Méthode juste (+3)"])
    expect(region.locator('[data-question="q4"] [data-field="adjustment"]')).to_have_text("Ajustement : +0,75")
    assert "3.75" not in region.inner_text()
    # one annotation on page 4 in the alternative text: the singular
    region.locator('[data-region="viewer"]').focus()
    french_page.keyboard.press("End")
    expect(region.locator(".viatique-learner-image")).to_have_attribute("alt", re.compile(r"avec 1 annotation \("))


def test_learner_view_by_keyboard_only(released_host, page):
    region = open_learner_view(page, released_host)
    assert_accessible(page, state="in the learner view")
    # Tab from the top of the page to the pager, then through every page with Enter on "Next page"
    page.locator("body").focus()
    next_button = region.get_by_role("button", name="Next page")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement && document.activeElement.dataset.action") == "next-page":
            break
    expect(next_button).to_be_focused()
    label = region.locator('[data-region="page-label"]')
    expect(label).to_have_attribute("aria-live", "polite")
    for number in range(2, 5):
        page.keyboard.press("Enter")
        expect(label).to_have_text(f"Page {number} of 4")
    # on the last page the button can do no more: it says so, and keeps the focus
    expect(next_button).to_have_attribute("aria-disabled", "true")
    expect(next_button).to_be_focused()
    page.keyboard.press("Enter")
    expect(label).to_have_text("Page 4 of 4")
    expect(next_button).to_be_focused()

    # the regrade form: its own error, on the field, announced; then the request sent
    form = region.locator('[data-region="regrade-form"]')
    messages = region.locator('[data-region="regrade-messages"]')
    live_region = messages.element_handle()  # present before it speaks, and still the same element after
    expect(messages).to_have_attribute("role", "status")
    form.get_by_label("Question").focus()
    page.keyboard.press("Tab")
    message = form.get_by_label("Why should it be looked at again?")
    expect(message).to_be_focused()
    page.keyboard.press("Tab")
    expect(form.get_by_role("button", name="Ask for a regrade")).to_be_focused()
    page.keyboard.press("Enter")
    error = form.locator('[data-region="message-error"]')
    expect(error).to_have_text("Write a message.")
    expect(message).to_be_focused()
    expect(message).to_have_attribute("aria-invalid", "true")
    expect(message).to_have_attribute("aria-describedby", error.get_attribute("id"))
    expect(message).to_have_accessible_description("Write a message.")
    assert_accessible(page, state="with the regrade form's error")
    page.keyboard.type("La question 2 mérite une relecture.")
    expect(message).not_to_have_attribute("aria-invalid", "true")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(messages).to_have_text("Your request was sent.")
    assert messages.element_handle().evaluate("(node, old) => node === old", live_region)
    sent = region.locator('[data-region="my-requests"] li').first
    expect(sent).to_be_focused()
    expect(sent).to_contain_text("Waiting for an answer")
    assert_accessible(page, state="after a regrade request")
