"""Every image format and mode a client may send decodes to upright 8-bit RGB."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from messy_uploads import class_image, png_header_only, save, write_dicom
from PIL import Image, features

from engines.images import ImageDecodeError, inspect_image, load_rgb, sniff_format


def _rgb(path: Path, **kw: object) -> Image.Image:
    img = load_rgb(path, **kw)
    assert img.mode == "RGB"
    return img


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.jpg", "JPEG"), ("a.png", "PNG"), ("a.bmp", "BMP"), ("a.tif", "TIFF"), ("a.gif", "GIF")],
)
def test_common_formats(tmp_path: Path, name: str, fmt: str) -> None:
    p = save(class_image(0, 1, 40), tmp_path / name)
    img = _rgb(p)
    assert img.size == (40, 40)
    info = inspect_image(p)
    assert info.format == fmt and not info.suffix_mismatch
    assert len(info.sha256) == 64 and info.dhash and info.sharpness is not None


@pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")
def test_webp(tmp_path: Path) -> None:
    p = save(class_image(1, 1, 40), tmp_path / "a.webp")
    assert _rgb(p).size == (40, 40)
    assert inspect_image(p).format == "WEBP"


def test_gif_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (32, 32), c) for c in [(255, 0, 0), (0, 0, 255)]]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100, loop=0)
    img = _rgb(p)
    r, g, b = img.getpixel((5, 5))
    assert r > 200 and b < 50  # the first (red) frame
    assert inspect_image(p).n_frames == 2


def test_sixteen_bit_png_and_tiff(tmp_path: Path) -> None:
    arr = (np.linspace(0, 60000, 64 * 64).reshape(64, 64)).astype(np.uint16)
    p = tmp_path / "deep.png"
    Image.fromarray(arr).save(p)
    img = _rgb(p)
    px = np.asarray(img)
    assert px.min() == 0 and px.max() == 255  # full range, not clipped to white
    info = inspect_image(p)
    assert info.bit_depth == 16 and info.channels == 1
    t = tmp_path / "deep.tif"
    Image.fromarray(arr).save(t)
    assert np.asarray(_rgb(t)).max() == 255


def test_float_tiff(tmp_path: Path) -> None:
    arr = np.linspace(-1, 1, 32 * 32, dtype=np.float32).reshape(32, 32)
    p = tmp_path / "f.tif"
    Image.fromarray(arr, mode="F").save(p)
    px = np.asarray(_rgb(p))
    assert px.min() == 0 and px.max() == 255


def test_grayscale_palette_rgba_cmyk(tmp_path: Path) -> None:
    base = class_image(2, 3, 32)
    gray = save(base.convert("L"), tmp_path / "g.png")
    pal = save(base.convert("P", palette=Image.Palette.ADAPTIVE), tmp_path / "p.png")
    rgba = base.convert("RGBA")
    rgba.putalpha(0)  # fully transparent: must come out white, not black
    rgba_p = save(rgba, tmp_path / "t.png")
    cmyk = save(base.convert("CMYK"), tmp_path / "c.jpg")
    bw = save(base.convert("1"), tmp_path / "b.png")
    for p in (gray, pal, rgba_p, cmyk, bw):
        assert _rgb(p).size == (32, 32)
    assert np.asarray(_rgb(rgba_p)).min() == 255
    assert inspect_image(cmyk).mode == "CMYK"


def test_palette_with_transparency(tmp_path: Path) -> None:
    img = Image.new("P", (16, 16), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.info["transparency"] = 0
    p = save(img, tmp_path / "pt.gif", transparency=0)
    assert np.asarray(_rgb(p))[0, 0].tolist() == [255, 255, 255]


def test_exif_rotation(tmp_path: Path) -> None:
    img = Image.new("RGB", (60, 30), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    p = save(img, tmp_path / "rot.jpg", exif=exif.tobytes())
    assert _rgb(p).size == (30, 60)
    info = inspect_image(p)
    assert info.exif_rotated and (info.width, info.height) == (30, 60)


def test_extension_that_lies(tmp_path: Path) -> None:
    p = tmp_path / "really_png.jpg"
    class_image(0, 0, 32).save(p, format="PNG")
    assert _rgb(p).size == (32, 32)
    info = inspect_image(p)
    assert info.format == "PNG" and info.suffix_mismatch


def test_truncated_and_corrupt(tmp_path: Path) -> None:
    full = save(class_image(0, 0, 64), tmp_path / "ok.jpg", quality=95)
    data = full.read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageDecodeError, match="truncated"):
        load_rgb(cut)
    with pytest.raises(ImageDecodeError):
        inspect_image(cut)
    png = save(class_image(0, 0, 64), tmp_path / "ok.png")
    pcut = tmp_path / "cut.png"
    pcut.write_bytes(png.read_bytes()[:200])
    with pytest.raises(ImageDecodeError):
        inspect_image(pcut)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"this is not an image at all" * 10)
    with pytest.raises(ImageDecodeError, match="not a readable image"):
        load_rgb(junk)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageDecodeError, match="empty file"):
        inspect_image(empty)


def test_decompression_bomb_refused_before_decode(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header_only(30_000, 30_000))  # 900 MP claimed, tiny file
    with pytest.raises(ImageDecodeError, match="too many pixels"):
        load_rgb(bomb)
    with pytest.raises(ImageDecodeError, match="too many pixels"):
        inspect_image(bomb)
    # a per-call limit, without touching Pillow's global setting
    before = Image.MAX_IMAGE_PIXELS
    small = save(class_image(0, 0, 64), tmp_path / "s.png")
    with pytest.raises(ImageDecodeError, match="too many pixels"):
        load_rgb(small, max_pixels=1000)
    assert before == Image.MAX_IMAGE_PIXELS
    assert load_rgb(small).size == (64, 64)


def test_dicom_windowed_with_modality(tmp_path: Path) -> None:
    p = write_dicom(tmp_path / "scan.dcm", modality="CT")
    img = _rgb(p)
    px = np.asarray(img)[:, :, 0]
    assert img.size == (64, 64)
    assert px.max() > px.min()  # the window keeps contrast
    info = inspect_image(p)
    assert info.format == "DICOM" and info.modality == "CT" and info.bit_depth == 16
    # DICOM without an extension is recognised by its DICM marker
    bare = tmp_path / "IMG0001"
    bare.write_bytes(p.read_bytes())
    assert sniff_format(bare.read_bytes()[:132]) == "DICOM"
    assert inspect_image(bare).modality == "CT"


def test_dicom_without_window_and_inverted(tmp_path: Path) -> None:
    p = write_dicom(tmp_path / "x.dcm", modality="CR", window=None, photometric="MONOCHROME1")
    px = np.asarray(_rgb(p))[:, :, 0]
    assert px[32, 32] < px[0, 0]  # the dense disc is dark in MONOCHROME1 data, flipped


def test_skimage_photos_decode(tmp_path: Path) -> None:
    data = pytest.importorskip("skimage.data")
    for name, arr in (("chelsea", data.chelsea()), ("camera", data.camera())):
        p = save(Image.fromarray(arr).resize((96, 64)), tmp_path / f"{name}.jpg")
        assert _rgb(p).size == (96, 64)
        info = inspect_image(p)
        assert info.sharpness and info.sharpness > 10
