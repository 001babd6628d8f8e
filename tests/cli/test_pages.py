"""`read` and `explain` take pages with their PAGE-XML or ALTO: each line is cut out,
read and explained, with its truth from the layout (issue 22)."""

import json

import pytest
from page_builder import alto_xml, compose_page, page_xml, write_image

from thulium_desktop import cli


@pytest.fixture(scope="module")
def page():
    return compose_page()


@pytest.fixture(params=["page", "alto"])
def exported(request, page, tmp_path):
    """A scan and its layout as Transkribus (PAGE in page/) or eScriptorium (ALTO beside) export them."""
    write_image(page, tmp_path / "scan.png")
    if request.param == "page":
        (tmp_path / "page").mkdir()
        layout = tmp_path / "page" / "scan.xml"
        layout.write_bytes(page_xml(page, "scan.png"))
    else:
        layout = tmp_path / "scan.xml"
        layout.write_bytes(alto_xml(page, "scan.png"))
    return layout


def test_read_prints_each_line_of_a_page_with_its_truth_and_cer(exported, page, capsys):
    assert cli.main(["read", str(exported), "--model", "ctc-reader"]) == 0
    header, *rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert header == ["path", "reading", "confidences", "truth", "cer"]
    assert [row[0].rsplit("#", 1)[1] for row in rows] == [line.id for line in page.lines]
    assert [row[3] for row in rows] == [line.truth for line in page.lines]
    assert all(row[1] for row in rows)


def test_explain_writes_a_record_per_line_named_after_page_and_line(exported, page, tmp_path):
    out = tmp_path / "out"
    assert cli.main(["explain", str(exported), "--out", str(out), "--method", "gradient", "--model", "ctc-reader",
                     "--format", "json", "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [record["line"] for record in summary["images"]] == [line.id for line in page.lines]
    for record, line in zip(summary["images"], page.lines):
        assert record["status"] == "ok" and record["path"].endswith("scan.png")
        assert record["truth"] == line.truth and record["cer"] is not None
        assert (out / f"{record['name']}.json").exists()
    [summary_page] = summary["pages"]
    truths = [line.truth for line in page.lines]
    weighted = sum(r["cer"] * len(r["truth"]) for r in summary["images"]) / sum(map(len, truths))
    assert summary_page["lines"] == summary_page["read"] == len(page.lines)
    assert summary_page["path"].endswith("scan.png") and summary_page["cer"] == pytest.approx(weighted)


def test_explain_with_figures_draws_the_whole_page_with_its_lines_and_maps(exported, page, tmp_path):
    """A page figure beside the line figures: the scan at the figure's resolution, its
    lines outlined by CER and their maps inside them, in every figure format asked for."""
    import cv2

    out = tmp_path / "out"
    assert cli.main(["explain", str(exported), "--out", str(out), "--method", "gradient", "--model", "ctc-reader",
                     "--format", "json,png,pdf", "--dpi", "72", "--quiet"]) == 0
    figure = cv2.imread(str(out / "scan.page.png"))
    assert figure is not None and figure.shape[0] > 200 and figure.shape[1] > 200
    assert (out / "scan.page.pdf").read_bytes().startswith(b"%PDF")
    written_as = "page" if exported.parent.name == "page" else "alto"  # the enriched layout keeps its format
    assert [p.name for p in out.glob("scan.*.xml")] == [f"scan.{written_as}.xml"]


def test_shards_split_by_page_so_each_page_is_explained_and_written_whole(page, tmp_path):
    for name in ("p1", "p2"):
        write_image(page, tmp_path / "in" / f"{name}.png")
        (tmp_path / "in" / f"{name}.xml").write_bytes(page_xml(page, f"{name}.png"))
    write_image(page, tmp_path / "in" / "plain.png", scale=0.25)
    out = tmp_path / "out"
    names, documents = [], []
    for index in (0, 1):
        assert cli.main(["explain", str(tmp_path / "in"), "--out", str(out), "--shard", f"{index}/2", "--method",
                         "gradient", "--model", "ctc-reader", "--format", "json", "--quiet"]) == 0
        records = json.loads((out / f"summary.shard-{index}-of-2.json").read_text())["images"]
        names.append([record["name"] for record in records])
        documents.append([record["document"] for record in records if record.get("document")])
    lines = [line.id for line in page.lines]
    assert names == [[f"p1/{i}" for i in lines] + ["plain"], [f"p2/{i}" for i in lines]]
    assert documents == [["p1.page.xml"], ["p2.page.xml"]]  # each written once, by the shard with all its lines


def test_a_pages_cer_weights_each_line_by_its_truths_length():
    """A page CER is its lines' edits over their truths' characters: a 2-character line
    read at 50% and an 8-character line read exactly make 10%, not the mean 25%; a line
    without truth and a failed line count as lines, not in the CER; a plain image is no page."""
    from thulium_desktop.cli.explain import page_summaries

    def line(name, cer, truth, status="ok"):
        return {"name": f"scan/{name}", "line": name, "path": "/in/scan.png", "cer": cer, "truth": truth,
                "status": status}

    records = [line("l1", 0.5, "ab"), line("l2", 0.0, "abcdefgh"), line("l3", None, None),
               line("l4", None, "xyz", status="failed"),
               {"name": "plain", "line": None, "path": "/in/plain.png", "cer": 1.0, "truth": "a", "status": "ok"}]
    assert page_summaries(records) == [{"page": "scan", "path": "/in/scan.png", "lines": 4, "read": 3,
                                        "cer": pytest.approx(0.1)}]
