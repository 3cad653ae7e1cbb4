"""Page images of turned pages, in Chromium: the scanner's JPEG tagged with an Exif orientation
(:func:`viatique_xblock.pdf.images.page_image`) is shown upright by ``<img>``, at its upright size,
and drawn upright on a canvas, with no script or style of ours."""
import base64
import io

import pymupdf
import pytest
from PIL import Image

from viatique_xblock.pdf.images import page_image

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 400, 566


def scan_page_with_a_dark_top_left_corner():
    image = Image.new("L", (WIDTH, HEIGHT), 255)
    image.paste(0, (0, 0, WIDTH // 5, HEIGHT // 5))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_image(page.rect, stream=out.getvalue(), keep_proportion=False)
    return doc


SHOWN = """() => {
  const img = document.getElementById('page');
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const context = canvas.getContext('2d');
  context.drawImage(img, 0, 0);
  const grey = (x, y) => context.getImageData(x, y, 1, 1).data[0];
  const w = canvas.width, h = canvas.height;
  return {natural: [img.naturalWidth, img.naturalHeight], box: [img.width, img.height],
          corners: {'0,0': grey(10, 10), '1,0': grey(w - 11, 10), '0,1': grey(10, h - 11), '1,1': grey(w - 11, h - 11)}};
}"""


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_a_turned_scan_is_shown_upright(chromium, rotate):
    image = page_image(scan_page_with_a_dark_top_left_corner(), 0, rotate=rotate)
    source = "data:image/jpeg;base64," + base64.b64encode(image.data).decode("ascii")
    page = chromium.new_page()
    try:
        page.set_content(f'<img id="page" alt="" src="{source}">')
        page.wait_for_function("document.getElementById('page').complete")
        shown = page.evaluate(SHOWN)
    finally:
        page.close()
    assert shown["natural"] == [image.width, image.height] == shown["box"]
    dark = min(shown["corners"], key=shown["corners"].get)
    # the scan's top-left corner, turned clockwise by ``rotate``
    assert dark == {90: "1,0", 180: "1,1", 270: "0,1"}[rotate]
    assert shown["corners"][dark] < 60 and sorted(shown["corners"].values())[1] > 200
