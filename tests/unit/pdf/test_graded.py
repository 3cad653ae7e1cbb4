"""The graded PDF: the scan pages untouched and upright, the grading drawn over them, a summary page."""
import io

import pymupdf
import pypdf
import pytest
from PIL import Image, ImageChops

from viatique_xblock.pdf.errors import NotAPdf, PdfUnreadable, SourcePageMissing
from viatique_xblock.pdf.graded import render_graded_pdf

from . import builders

MATHS = "Très bien, élève : x ≤ √2, π ≥ 3, ∑ u_n = ∞ − 1, x ∈ ℝ ⇒ ça marche « déjà » 5 × 3 ÷ 2 ± 1"
HOSTILE = ") Tj ET BT /F1 12 Tf (pwned) Tj ( << /S /JavaScript /JS (app.alert(1)) >> \\) endstream endobj %%EOF"


def scan(pages=3, text="scan"):
    """A scanner-style PDF: one JPEG per page."""
    return builders.image_pdf([builders.jpeg(text=f"{text} {number}") for number in range(pages)])


def summary(**overrides):
    values = {
        "title": "Mathématiques — examen final", "code": "MATH1 12-3", "total": "14.5", "max": "20",
        "scale_total": None, "scale": None,
        "questions": [
            {"id": "q1", "label": "Question 1", "points": "4", "max": "5", "comment": "Rigoureux"},
            {"id": "q2", "label": "Question 2", "points": "10.5", "max": "15", "comment": "Il manque ∀ ε > 0"},
        ],
        "general_comment": "Bon travail d'ensemble.", "grader": None,
    }
    values.update(overrides)
    return values


def annotation(page=0, kind="comment", x=0.1, y=0.1, width=0.3, height=0.05, text="", label="", points=None):
    return {"page": page, "kind": kind, "x": x, "y": y, "width": width, "height": height, "text": text,
            "question_label": label, "points": points}


def pages_of(count, source="s", rotation=0):
    return [{"source": source, "index": index, "rotation": rotation} for index in range(count)]


def squeezed(text):
    """Text without any whitespace: extractors differ in where they put spaces and line breaks."""
    return "".join(text.split())


def mupdf_text(data):
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        return [page.get_text() for page in doc]


def pypdf_text(data):
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def both_texts(data):
    """The whole text of the document as PyMuPDF and as pypdf read it, whitespace removed."""
    return squeezed("".join(mupdf_text(data))), squeezed("".join(pypdf_text(data)))


def image_streams(doc):
    return sorted(doc.xref_stream_raw(xref) for xref in range(1, doc.xref_length())
                  if doc.xref_get_key(xref, "Subtype") == ("name", "/Image"))


def test_output_opens_in_both_readers_with_every_annotation_and_the_summary():
    texts = ["Justifier le passage", "Faux", "Relire l'énoncé", "Bien", "Souligné"]
    annotations = [annotation(0, "comment", text=texts[0], label="Q1", points="1.5"),
                   annotation(1, "text", 0.5, 0.5, text=texts[1]),
                   annotation(2, "cross", 0.2, 0.6, 0.1, 0.05, text=texts[2], label="Q2", points="0"),
                   annotation(2, "tick", 0.7, 0.2, 0, 0, text=texts[3]),
                   annotation(0, "highlight", 0.1, 0.7, 0.5, 0.03, text=texts[4])]
    data = render_graded_pdf({"s": scan(3)}, pages_of(3), annotations, summary())

    with pymupdf.open(stream=data, filetype="pdf") as doc:
        assert doc.page_count == 4
    assert len(pypdf.PdfReader(io.BytesIO(data)).pages) == 4
    for text in both_texts(data):
        for expected in texts + ["Q1:1.5", "Q2:0", "Mathématiques—examenfinal", "MATH112-3", "Total:14.5/20",
                                 "Question14/5Rigoureux", "Question210.5/15Ilmanque∀ε>0",
                                 "Bontravaild'ensemble."]:
            assert squeezed(expected) in text
    assert "Gradedby" not in both_texts(data)[0]


def test_each_annotation_is_drawn_on_its_own_page():
    annotations = [annotation(page, text=f"Remarque{page}") for page in range(3)]
    data = render_graded_pdf({"s": scan(3)}, pages_of(3), annotations, summary())

    for reader in (mupdf_text, pypdf_text):
        pages = [squeezed(text) for text in reader(data)]
        for page in range(3):
            assert f"Remarque{page}" in pages[page]
            assert all(f"Remarque{other}" not in pages[page] for other in range(3) if other != page)


def test_scan_images_are_copied_byte_for_byte():
    source = builders.image_pdf([builders.jpeg(text="one"), builders.jpeg(text="two", colorspace=pymupdf.csRGB),
                                 builders.jpeg(text="three")])
    data = render_graded_pdf({"s": source}, [{"source": "s", "index": 2, "rotation": 180},
                                             {"source": "s", "index": 0, "rotation": 0},
                                             {"source": "s", "index": 1, "rotation": 90}],
                             [annotation(page, "highlight", text="vu") for page in range(3)], summary())

    with pymupdf.open(stream=source, filetype="pdf") as original, pymupdf.open(stream=data, filetype="pdf") as out:
        assert image_streams(out) == image_streams(original)
        assert len(image_streams(out)) == 3


def test_a_scanner_page_keeps_its_content_and_images_under_the_drawing():
    """The page is the scan's page object: its image is drawn as it was, not a rendering of it."""
    source = scan(1)
    data = render_graded_pdf({"s": source}, pages_of(1), [annotation(text="Note")], summary())

    with pymupdf.open(stream=data, filetype="pdf") as out:
        images = out[0].get_images()
        assert len(images) == 1
        (info,) = out[0].get_image_info()
        assert pymupdf.Rect(info["bbox"]) == out[0].rect


def upside_down_page(rotate):
    """A page as fed to the scanner the wrong way: its heading reads turned by ``rotate`` degrees
    (counter-clockwise), at what is the top of the page once turned upright."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    # The point of the paper's top-left corner once the page is turned upright by ``rotate`` clockwise.
    corner = {0: (40, 60), 90: (60, 802), 180: (555, 782), 270: (535, 40)}[rotate]
    page.insert_text(corner, "HEADING", fontsize=20, rotate=rotate)
    return doc.tobytes()


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_pages_are_turned_upright_by_their_rotation_and_the_drawing_with_them(rotation):
    data = render_graded_pdf({"s": upside_down_page(rotation)}, pages_of(1, rotation=rotation),
                             [annotation(0, "comment", x=0.5, y=0.8, width=0.4, height=0.05, text="CORRECTION")],
                             summary())

    with pymupdf.open(stream=data, filetype="pdf") as doc:
        page = doc[0]
        assert page.rotation == rotation
        assert page.get_images() == [] and doc.page_count == 2  # turned by /Rotate, not rendered
        upright = page.rect
        found = {}
        for block in page.get_text("dict")["blocks"]:
            for line in block.get("lines", ()):
                text = "".join(span["text"] for span in line["spans"])
                turn = pymupdf.Matrix(page.rotation_matrix)
                turn.e = turn.f = 0
                found[text] = (pymupdf.Rect(line["bbox"]) * page.rotation_matrix, pymupdf.Point(line["dir"]) * turn)
        heading, heading_direction = found["HEADING"]
        correction, correction_direction = found["CORRECTION"]
    assert tuple(heading_direction) == pytest.approx((1, 0), abs=1e-6)  # reads left to right, upright
    assert heading.y1 < upright.height * 0.15 and heading.x0 < upright.width * 0.15
    assert tuple(correction_direction) == pytest.approx((1, 0), abs=1e-6)
    assert correction.x0 == pytest.approx(upright.width * 0.5, abs=8)
    assert upright.height * 0.8 < correction.y0 < upright.height * 0.85


def test_accents_and_mathematical_signs_survive_extraction():
    data = render_graded_pdf({"s": scan(1)}, pages_of(1),
                             [annotation(0, "comment", text=MATHS, label="Q1", points="2")],
                             summary(general_comment=MATHS, questions=[{"id": "q", "label": "Q1 ∫ dx", "points": "2",
                                                                        "max": "3", "comment": MATHS}]))

    mupdf, pypdf_ = both_texts(data)
    for text in (mupdf, pypdf_):
        assert text.count(squeezed(MATHS)) == 3
        assert "Q1∫dx" in text


def test_hostile_text_is_only_text():
    data = render_graded_pdf({"s": scan(1)}, pages_of(1),
                             [annotation(0, "comment", text=HOSTILE, label="<<Q1>>", points="(1)"),
                              annotation(0, "text", 0.1, 0.5, text=HOSTILE)],
                             summary(title=HOSTILE, general_comment=HOSTILE, code="<</JS>>"))

    for text in both_texts(data):
        assert text.count(squeezed(HOSTILE)) == 4
        assert "<<Q1>>:(1)" in text
    assert b"pwned" not in data and b"app.alert" not in data
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        keys = {key for xref in range(1, doc.xref_length()) for key in doc.xref_get_keys(xref)}
        assert not keys & {"JS", "JavaScript", "OpenAction", "AA"}
        assert len(doc[0].get_images()) == 1 and doc.page_count == 2


def test_a_very_long_comment_is_continued_and_complete():
    words = [f"mot{number:04d}" for number in range(900)]
    long_comment = " ".join(words)
    data = render_graded_pdf({"s": scan(2)}, pages_of(2),
                             [annotation(1, "comment", 0.6, 0.9, 0.3, 0.05, text=long_comment, label="Q3"),
                              annotation(0, "text", 0.8, 0.95, 0.1, 0.02, text=long_comment)],
                             summary())

    for reader in (mupdf_text, pypdf_text):
        pages = [squeezed(text) for text in reader(data)]
        whole = "".join(pages[2:])
        assert whole.count("".join(words)) == 2  # both continued in full on the summary pages
        assert "mot0000" in pages[0] and "mot0000" in pages[1]  # begun on their page
        assert "note1" in pages[0] and "note2" in pages[1]
        assert "Note1,page1" in whole and "Note2,page2,Q3" in whole
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        assert doc.page_count > 3  # the notes take more than one summary page
        for page in doc:  # every line of text stays within its page
            for block in page.get_text("dict")["blocks"]:
                for line in block.get("lines", ()):
                    assert page.rect.contains(pymupdf.Rect(line["bbox"]))


def test_long_summary_texts_go_on_over_several_pages_in_order():
    questions = [{"id": f"q{n}", "label": f"Question {n}", "points": n, "max": 10,
                  "comment": " ".join(f"q{n:02d}w{w:02d}" for w in range(60))} for n in range(40)]
    general = " ".join(f"general{n:04d}" for n in range(1500))
    data = render_graded_pdf({"s": scan(1)}, pages_of(1), [], summary(questions=questions, general_comment=general,
                                                                      grader="Ada Lovelace"))

    for reader in (mupdf_text, pypdf_text):
        pages = reader(data)
        assert len(pages) > 4
        whole = squeezed("".join(pages[1:]))
        assert squeezed(general) in whole
        positions = [whole.index(f"Question{n}{n}/10") for n in range(40)]
        assert positions == sorted(positions)
        # every word of every comment, in order (a row may go on over a page, after the header again)
        for question in questions:
            positions = [whole.index(word) for word in question["comment"].split()]
            assert positions == sorted(positions)
        assert "GradedbyAdaLovelace" in whole
        header_pages = [page for page in pages[1:] if "Points" in page and "Comment" in page]
        assert len(header_pages) > 1  # the table's header is repeated on the pages it goes on


def test_total_on_a_scale():
    data = render_graded_pdf({"s": scan(1)}, pages_of(1), [],
                             summary(total="14.50", max="20", scale_total="7.25", scale="10"))

    for text in both_texts(data):
        assert "Total:14.5/20" in text
        assert "On10:7.25/10" in text


def test_points_are_drawn_beside_their_annotation():
    data = render_graded_pdf({"s": scan(1)}, pages_of(1),
                             [annotation(0, "tick", 0.4, 0.5, 0.05, 0.03, label="Q4", points="2.5")], summary())

    with pymupdf.open(stream=data, filetype="pdf") as doc:
        page = doc[0]
        (badge,) = [pymupdf.Rect(word[:4]) for word in page.get_text("words") if word[4] == "2.5"]
        mark = pymupdf.Rect(0.4 * page.rect.width, 0.5 * page.rect.height, 0.45 * page.rect.width,
                            0.53 * page.rect.height)
        assert abs(badge.y0 - mark.y0) < 20 and 0 <= badge.x0 - mark.x1 < 60
        drawings = page.get_drawings()
        assert any(drawing["type"] == "s" and len(drawing["items"]) >= 2 for drawing in drawings)  # the tick's strokes


def test_marks_are_vector_graphics():
    data = render_graded_pdf({"s": scan(1)}, pages_of(1),
                             [annotation(0, "tick", 0.1, 0.1, 0.05, 0.05), annotation(0, "cross", 0.3, 0.1, 0.05, 0.05),
                              annotation(0, "highlight", 0.1, 0.5, 0.5, 0.03)], summary())

    with pymupdf.open(stream=data, filetype="pdf") as doc:
        drawings = doc[0].get_drawings()
        assert len(doc[0].get_images()) == 1
    strokes = [drawing for drawing in drawings if drawing["type"] == "s"]
    fills = [drawing for drawing in drawings if drawing["type"] == "f"]
    assert len(strokes) == 3  # the tick, the cross's two lines
    (highlight,) = fills
    assert highlight["fill_opacity"] < 1


def test_empty_annotations_and_questions_make_pages_and_a_summary():
    data = render_graded_pdf({"s": scan(2)}, pages_of(2), [], summary(questions=[], general_comment=""))

    with pymupdf.open(stream=data, filetype="pdf") as doc:
        assert doc.page_count == 3
    for text in both_texts(data):
        assert "Total:14.5/20" in text and "Generalcomment" not in text


def test_pages_come_from_several_sources_in_the_given_order():
    first, second = scan(2, text="first"), scan(2, text="second")
    pages = [{"source": "b", "index": 1, "rotation": 0}, {"source": "a", "index": 0, "rotation": 0},
             {"source": 7, "index": 0, "rotation": 0}]
    data = render_graded_pdf({"a": first, "b": second, 7: second}, pages,
                             [annotation(n, text=f"Sur{n}") for n in range(3)], summary())

    with pymupdf.open(stream=data, filetype="pdf") as out, pymupdf.open(stream=first, filetype="pdf") as a, \
            pymupdf.open(stream=second, filetype="pdf") as b:
        expected = [b.xref_stream_raw(b[1].get_images()[0][0]), a.xref_stream_raw(a[0].get_images()[0][0]),
                    b.xref_stream_raw(b[0].get_images()[0][0])]
        assert [out.xref_stream_raw(out[n].get_images()[0][0]) for n in range(3)] == expected
        assert len(image_streams(out)) == 3


def test_sources_may_be_paths(tmp_path):
    path = builders.write(tmp_path, "scan.pdf", scan(2))
    data = render_graded_pdf({"s": path, "t": str(path)}, [{"source": "s", "index": 1, "rotation": 0},
                                                          {"source": "t", "index": 0, "rotation": 0}], [], summary())

    with pymupdf.open(stream=data, filetype="pdf") as doc:
        assert doc.page_count == 3


def test_fonts_are_embedded_subsets_and_the_file_stays_small():
    source = scan(8)
    annotations = [annotation(n % 8, ("comment", "text", "tick")[n % 3], 0.1, 0.1 * (n % 9), text=MATHS,
                              label="Q1", points="1") for n in range(30)]
    data = render_graded_pdf({"s": source}, pages_of(8), annotations, summary())

    with pymupdf.open(stream=data, filetype="pdf") as doc:
        fonts = {font[3] for number in range(doc.page_count) for font in doc.get_page_fonts(number)}
    assert fonts and all("+" in name for name in fonts)  # subset fonts are named ABCDEF+Name
    assert len(data) - len(source) < 150_000


def test_a_source_that_is_not_a_pdf_is_refused(tmp_path):
    png = pymupdf.Pixmap(pymupdf.csGRAY, pymupdf.IRect(0, 0, 10, 10), 0).tobytes("png")
    with pytest.raises(NotAPdf):
        render_graded_pdf({"s": png}, pages_of(1), [], summary())
    with pytest.raises(NotAPdf):
        render_graded_pdf({"s": builders.write(tmp_path, "scan.pdf", builders.jpeg())}, pages_of(1), [], summary())
    with pytest.raises(PdfUnreadable):
        render_graded_pdf({"s": b"%PDF-1.7\n" + b"\0garbage" * 50}, pages_of(1), [], summary())


def test_a_page_missing_from_its_source_is_refused():
    with pytest.raises(SourcePageMissing) as refused:
        render_graded_pdf({"s": scan(2)}, pages_of(3), [], summary())
    assert refused.value.code == "source_page_missing" and refused.value.params == {"page": 3}
    with pytest.raises(SourcePageMissing) as refused:
        render_graded_pdf({"s": scan(2)}, pages_of(1) + [{"source": "other", "index": 0, "rotation": 0}], [],
                          summary())
    assert refused.value.params == {"page": 2}


def test_a_scan_file_no_longer_stored_is_refused(tmp_path):
    with pytest.raises(SourcePageMissing):
        render_graded_pdf({"s": tmp_path / "gone.pdf"}, pages_of(1), [], summary())


def test_labels_are_translated_by_the_given_gettext():
    french = {"Total: {total} / {max}": "Note : {total} / {max}", "Question": "Question", "Points": "Points",
              "Comment": "Appréciation", "General comment": "Appréciation générale", "Copy {code}": "Copie {code}"}
    data = render_graded_pdf({"s": scan(1)}, pages_of(1), [], summary(), gettext=lambda text: french.get(text, text))

    for text in both_texts(data):
        assert "Note:14.5/20" in text and "CopieMATH112-3" in text and "Appréciationgénérale" in text


def test_numbers_are_written_by_the_given_formatter_in_the_summary_and_beside_annotations():
    def comma(value):
        return "—" if value is None else str(value).replace(".", ",")

    data = render_graded_pdf({"s": scan(1)}, pages_of(1), [annotation(text="vu", label="Q1", points="1.5")],
                             summary(), number=comma)

    for text in both_texts(data):
        assert "Total:14,5/20" in text and "10,5/15" in text and "Q1:1,5" in text
        assert "14.5" not in text and "10.5" not in text


def test_an_annotation_on_a_page_the_copy_does_not_have_is_a_programming_error():
    with pytest.raises(ValueError):
        render_graded_pdf({"s": scan(1)}, pages_of(1), [annotation(page=1, text="x")], summary())


def test_control_characters_and_lone_surrogates_are_dropped():
    text = "avant\x00\x07\x1b[31m\ud800\u2028après\tfin"
    data = render_graded_pdf({"s": scan(1)}, pages_of(1), [annotation(text=text, label="Q\x0c1", points="1")],
                             summary(title=text))

    for extracted in both_texts(data):
        assert extracted.count("avant[31maprèsfin") == 2 and "Q1:1" in extracted


def red_pixels_box(page):
    """The box (in pixels at 72 dpi, the page as shown) of what is drawn in the grader's red."""
    pix = page.get_pixmap(dpi=72, colorspace=pymupdf.csRGB, alpha=False)
    red, green, blue = Image.frombytes("RGB", (pix.width, pix.height), pix.samples).split()
    mask = ImageChops.multiply(ImageChops.multiply(red.point(lambda v: 255 if v > 150 else 0),
                                                   green.point(lambda v: 255 if v < 80 else 0)),
                               blue.point(lambda v: 255 if v < 80 else 0))
    return mask.getbbox(), (pix.width, pix.height)


@pytest.mark.parametrize("own_rotation", [0, 90])
@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_drawing_lands_where_it_was_placed_on_a_cropped_and_turned_page(own_rotation, rotation):
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.set_cropbox(pymupdf.Rect(20, 30, 592, 772))
    page.set_rotation(own_rotation)
    data = render_graded_pdf({"s": doc.tobytes()}, pages_of(1, rotation=rotation),
                             [annotation(0, "cross", 0.1, 0.2, 0.1, 0.05)], summary())

    with pymupdf.open(stream=data, filetype="pdf") as out:
        box, (width, height) = red_pixels_box(out[0])
    assert (width, height) == ((742, 572) if (own_rotation + rotation) % 180 else (572, 742))
    expected = (0.1 * width, 0.2 * height, 0.2 * width, 0.25 * height)
    assert box == pytest.approx(expected, abs=2.5)
