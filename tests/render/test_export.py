"""Saving by extension: PNG decodes, SVG parses as XML, PDF starts with %PDF; all atomic."""

import xml.etree.ElementTree as ET

import cv2
import matplotlib
import numpy as np
import pytest
from figure_samples import bumps, ink_image

from thulium_desktop.render import overlay_figure, save_figure, save_image


@pytest.fixture(scope="module")
def figure():
    image = ink_image(32, 96)
    return overlay_figure(image, bumps(image, 1)[0], label="a", caption="model \u00b7 gradient")


def test_png_decodes_at_the_chosen_dpi(figure, tmp_path):
    save_figure(figure, tmp_path / "f.png", dpi=50)
    save_figure(figure, tmp_path / "g.PNG", dpi=100)
    small = cv2.imread(str(tmp_path / "f.png"))
    large = cv2.imread(str(tmp_path / "g.PNG"))
    assert small is not None and large is not None
    assert large.shape[1] == pytest.approx(2 * small.shape[1], rel=0.05)


def test_svg_is_xml(figure, tmp_path):
    save_figure(figure, tmp_path / "f.svg")
    root = ET.parse(tmp_path / "f.svg").getroot()
    assert root.tag.endswith("svg")


def test_pdf_starts_with_its_magic_and_is_reproducible(figure, tmp_path):
    save_figure(figure, tmp_path / "a.pdf")
    save_figure(figure, tmp_path / "b.pdf")
    data = (tmp_path / "a.pdf").read_bytes()
    assert data.startswith(b"%PDF")
    assert data == (tmp_path / "b.pdf").read_bytes()  # no creation date inside


def test_unknown_extension_is_refused_before_writing(figure, tmp_path):
    with pytest.raises(ValueError, match=r"\.png, \.svg, \.pdf"):
        save_figure(figure, tmp_path / "f.jpg")
    assert list(tmp_path.iterdir()) == []


def test_a_failing_render_keeps_the_previous_file(figure, tmp_path, monkeypatch):
    target = tmp_path / "f.png"
    save_figure(figure, target, dpi=30)
    before = target.read_bytes()

    def half_written(handle, **_):
        handle.write(b"\x89PNG partial")
        raise MemoryError("renderer ran out of memory")

    monkeypatch.setattr(figure, "savefig", half_written)
    with pytest.raises(MemoryError):
        save_figure(figure, target, dpi=600)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["f.png"]


def test_save_image_writes_an_overlay_by_extension(tmp_path):
    image = np.zeros((5, 7, 3), np.uint8)
    image[..., 2] = 200
    save_image(image, tmp_path / "o.png")
    assert (cv2.imread(str(tmp_path / "o.png")) == image).all()
    with pytest.raises(ValueError):
        save_image(image, tmp_path / "o.notaformat")
    assert [p.name for p in tmp_path.iterdir()] == ["o.png"]


def test_pdf_embeds_truetype_fonts_and_no_type3(figure, tmp_path):
    """Journals reject Type 3 fonts; the setting applies to this save only."""
    before = dict(matplotlib.rcParams)
    save_figure(figure, tmp_path / "f.pdf")
    data = (tmp_path / "f.pdf").read_bytes()
    assert b"/FontFile2" in data  # TrueType outlines (a Type 0 font for the caption's "\u00b7")
    assert b"/Type3" not in data
    assert dict(matplotlib.rcParams) == before


def test_svg_keeps_text_as_text(figure, tmp_path):
    save_figure(figure, tmp_path / "f.svg")
    root = ET.parse(tmp_path / "f.svg").getroot()
    texts = ["".join(node.itertext()) for node in root.iter("{http://www.w3.org/2000/svg}text")]
    assert any("model \u00b7 gradient" in text for text in texts)
