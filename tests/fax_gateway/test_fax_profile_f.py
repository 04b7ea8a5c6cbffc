"""The profile-F checker names what a non-conforming TIFF gets wrong."""

from __future__ import annotations

from PIL import Image

from fax_gateway.profile_f import check_tiff_f


def rules(path) -> list[str]:
    return [str(v) for v in check_tiff_f(path)]


def test_plain_group4_tiff_is_not_profile_f(tmp_path):
    path = tmp_path / "plain.tif"
    Image.new("1", (1700, 2000), 1).save(path, compression="group4", dpi=(200, 200))
    found = "\n".join(rules(path))
    for expected in (
        "ImageWidth is 1700",
        "PhotometricInterpretation is 1",
        "XResolution is 200",
        "YResolution is 200",
        "NewSubfileType is None",
        "PageNumber (297) missing",
        "T6Options (293) missing",
    ):
        assert expected in found
    assert all(line.startswith("page 1:") for line in found.splitlines())


def test_wrong_compression_and_strips_are_reported_per_page(tmp_path):
    path = tmp_path / "pages.tif"
    page = Image.new("1", (1728, 1000), 1)
    tags = {254: 2, 266: 1, 292: 0}
    page.save(
        path,
        save_all=True,
        append_images=[page],
        compression="tiff_lzw",
        dpi=(204, 98),
        tiffinfo=tags,
    )
    found = rules(path)
    # Pillow writes no usable PageNumber here; each page is flagged.
    assert any(rule.startswith("page 1: PageNumber") for rule in found)
    assert any(rule.startswith("page 2: PageNumber") for rule in found)
    assert any(rule.startswith("page 2: 4 strips") for rule in found)
    assert any("Compression is 5" in rule for rule in found)


def test_not_a_tiff(tmp_path):
    path = tmp_path / "x.tif"
    path.write_bytes(b"hello")
    assert rules(path)[0].startswith("file: not a readable TIFF file")
