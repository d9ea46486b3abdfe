"""The visible stamp of a sealed report (:mod:`services.pdf_seal`): its text box, its QR code
and its place on the last page, and the CJK font it is written in.

A CJK font has some 65,000 glyphs: the face is taken out of Debian's ``.ttc`` collection once
(:func:`cjk_font_path`), and cut to the stamp's characters once per distinct text
(``_subset_font``), both cached on disk, so a Chinese stamp costs a seal some milliseconds.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyhanko.pdf_utils import misc, text
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import LayoutError
from pyhanko.pdf_utils.writer import init_xobject_dictionary
from pyhanko.stamp import QRStampStyle
from pyhanko.stamp.qr import QRStamp

from .pki_errors import SealError

_FONT_DIR_ENV = "MEDDEV_ESIGN_FONT_CACHE"
_FONT_LOCK = threading.Lock()


def _font_cache_dir() -> Path:
    configured = os.environ.get(_FONT_DIR_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(base) / "meddev_esign" / "fonts"
    try:
        path.mkdir(parents=True, exist_ok=True)
        return path
    except OSError:
        return Path(tempfile.gettempdir())


@functools.cache
def cjk_font_path(font_path: str) -> str:
    """A single-face font file pyHanko can load and subset, made from ``font_path``.

    pyHanko opens fonts with fontTools without a face number, so it cannot read a ``.ttc``
    collection such as Debian's ``NotoSansCJK-Regular.ttc``. For a collection, the face whose
    PostScript name ends in ``sc`` (Simplified Chinese), else the first, is written once as an
    ``.otf`` in the cache folder (``$MEDDEV_ESIGN_FONT_CACHE``, else
    ``~/.cache/meddev_esign/fonts``) and its path returned; other fonts are returned as they are.

    :param font_path: An ``.otf``, ``.ttf`` or ``.ttc`` file.
    :return: The path of a single-face font.
    :raises SealError: ``"font"`` if the file is missing or not a font.
    """
    source = Path(font_path)
    if not source.is_file():
        raise SealError("font", f"The stamp font {font_path} does not exist.")
    if source.suffix.lower() not in (".ttc", ".otc"):
        return str(source)
    try:
        from fontTools.ttLib import TTCollection  # noqa: PLC0415 - only for collections

        stat = source.stat()
        target = _font_cache_dir() / f"{source.stem}-{stat.st_size}-{int(stat.st_mtime)}.otf"
        with _FONT_LOCK:
            if target.is_file():
                return str(target)
            collection = TTCollection(str(source), lazy=True)
            faces = collection.fonts
            chosen = next(
                (
                    face
                    for face in faces
                    if str(face["name"].getDebugName(6) or "").lower().endswith("sc-regular")
                    or str(face["name"].getDebugName(6) or "").lower().endswith("sc")
                ),
                faces[0],
            )
            partial = target.with_suffix(f".{os.getpid()}.part")
            chosen.save(str(partial))
            partial.replace(target)
            return str(target)
    except (OSError, ValueError, KeyError, IndexError, ImportError) as exc:
        raise SealError("font", f"The stamp font {font_path} cannot be read: {exc}") from exc


_BASE_CHARS = "".join(chr(code) for code in range(0x20, 0x7F))
"""Kept in every stamp font: dates, counts and Latin names change from print to print."""


@functools.lru_cache(maxsize=64)
def _subset_font(face_path: str, chars: str) -> str:
    """A font with only printable ASCII and ``chars``, cut from ``face_path`` once.

    A CJK face has some 65,000 glyphs: loading and subsetting it for each seal costs half a
    second. A stamp's text changes in its digits only (the company name and the translated
    words stay), so the font cut for its other characters is written once in the cache folder,
    keyed by the face and the characters, and each seal loads that small file.

    :param face_path: A single-face font (:func:`cjk_font_path`).
    :param chars: The non-ASCII characters the stamp needs, sorted.
    :return: The small font's path.
    :raises SealError: ``"font"`` if the face cannot be read or subset.
    """
    try:
        from fontTools import subset  # noqa: PLC0415 - only for non-Latin stamps

        stat = os.stat(face_path)
        key = f"v2\0{face_path}\0{stat.st_size}\0{stat.st_mtime_ns}\0{chars}".encode()
        target = _font_cache_dir() / f"stamp-{hashlib.sha256(key).hexdigest()[:32]}.otf"
        with _FONT_LOCK:
            if target.is_file():
                return str(target)
            options = subset.Options()
            # No GSUB/GPOS: a stamp line needs no ligatures or contextual forms, and those
            # tables cost more to load at each seal than all the glyphs.
            options.layout_features = []
            options.name_IDs = ["*"]
            options.notdef_outline = True
            font = subset.load_font(face_path, options)
            subsetter = subset.Subsetter(options)
            subsetter.populate(unicodes=[ord(char) for char in _BASE_CHARS + chars])
            subsetter.subset(font)
            partial = target.with_suffix(f".{os.getpid()}.part")
            subset.save_font(font, str(partial), options)
            partial.replace(target)
            return str(target)
    except (OSError, ValueError, KeyError, IndexError, ImportError, AssertionError) as exc:
        raise SealError("font", f"The stamp font {face_path} cannot be subset: {exc}") from exc


_QR_VERSIONS: dict[tuple, int] = {}
"""{the shape of the QR data (each segment's mode and length): the smallest symbol version}."""


def _qr_symbol(url: str) -> list[list[bool]]:
    """The modules of the QR code of ``url`` (error correction M, mask 2), rows top down.

    Made by the ``qrcode`` package. The symbol's version (its size) follows from the length
    and encoding of the data alone; the package finds it by trial (twice per symbol), so the
    version found for one shape of data is kept for the next URL of the same shape (the
    verification URLs differ only in their random token).
    """
    import qrcode  # noqa: PLC0415 - pyHanko imports it lazily too

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, mask_pattern=2)
    code.add_data(url)
    shape = tuple((chunk.mode, len(chunk)) for chunk in code.data_list)
    version = _QR_VERSIONS.get(shape)
    if version is None:
        code.best_fit()
        version = code.version
        if len(_QR_VERSIONS) >= 64:
            _QR_VERSIONS.clear()
        _QR_VERSIONS[shape] = version
    code.version = version
    code.make(fit=False)
    return code.modules


def qr_stream(modules: list[list[bool]], border: int = 4) -> tuple[bytes, int]:
    """The PDF content stream that draws a QR symbol, and its side in the stream's units.

    One filled path: a rectangle per horizontal run of dark modules (rather than one per
    module), drawn in a one-unit-per-module grid with the quiet zone of ``border`` modules
    around it, y pointing down as the symbol's rows.
    """
    count = len(modules)
    parts = [b"0 0 0 rg 0 0 0 RG", b"1 0 0 -1 %d %d cm" % (border, border + count)]
    for y, row in enumerate(modules):
        x = 0
        while x < count:
            if row[x]:
                start = x
                while x < count and row[x]:
                    x += 1
                parts.append(b"%d %d %d 1 re" % (start, y, x - start))
            else:
                x += 1
    parts.append(b"f")
    return b"\n".join(parts), count + 2 * border


class _QuickQRStamp(QRStamp):
    """pyHanko's QR stamp with a cheaper QR code: a fixed mask pattern, the symbol's version
    kept per data shape (:func:`_qr_symbol`), and the dark modules drawn as runs.

    The ``qrcode`` package otherwise builds the symbol eight times to score each mask (about
    a quarter of a seal's time); any mask is valid (ISO/IEC 18004 section 7.8) and readers
    decode them all. Error correction M, as pyHanko uses.
    """

    def _qr_xobject(self):  # noqa: ANN202 - pyHanko's private hook
        stream, size = qr_stream(_qr_symbol(self.url))
        xobject = init_xobject_dictionary(stream, size, size)
        xobject.compress()
        return self.writer.add_object(xobject), size


@dataclass(frozen=True)
class _QuickQRStampStyle(QRStampStyle):
    def create_stamp(self, writer, box, text_params):  # noqa: ANN001, ANN201 - pyHanko's hook
        try:
            url = text_params.pop("url")
        except KeyError as exc:
            raise LayoutError("A QR stamp needs a 'url' text parameter.") from exc
        return _QuickQRStamp(writer, style=self, url=url, text_params=text_params, box=box)


def stamp_style(font_path: str | None, lines: Sequence[str]) -> QRStampStyle:
    """pyHanko's QR stamp style for ``lines``, in the font cut from ``font_path`` if any."""
    font = None
    if font_path:
        from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory  # noqa: PLC0415

        chars = "".join(sorted(set("".join(lines)) - set(_BASE_CHARS)))
        face = cjk_font_path(font_path)
        font = GlyphAccumulatorFactory(_subset_font(face, chars), font_size=10)
    else:
        for line in lines:
            try:
                line.encode("latin-1")
            except UnicodeEncodeError as exc:
                raise SealError(
                    "font", "The stamp text is not Latin-1: give a font_path (e.g. Noto CJK)."
                ) from exc
    box_style = (
        text.TextBoxStyle(font=font, font_size=8, leading=10)
        if font is not None
        else text.TextBoxStyle(font_size=8, leading=10)
    )
    return _QuickQRStampStyle(
        # pyHanko interpolates the text with %-formatting: escape the caller's percent signs.
        stamp_text="\n".join(line.replace("%", "%%") for line in lines),
        text_box_style=box_style,
        border_width=1,
        innsep=4,
    )


_STAMP_WIDTH = 250.0
_STAMP_HEIGHT = 72.0
_STAMP_MARGIN = 18.0


def _page_box(writer: IncrementalPdfFileWriter) -> list[float]:
    """The last page's crop (else media) box; A4 when it cannot be read."""
    try:
        node = writer.find_page_for_modification(-1)[0].get_object()
        for _depth in range(32):  # MediaBox may be inherited from the page tree
            found = node.get("/CropBox") or node.get("/MediaBox")
            if found is not None:
                return [float(value) for value in found]
            if "/Parent" not in node:
                break
            node = node["/Parent"].get_object()
    except (misc.PdfError, KeyError, IndexError, TypeError, ValueError, AttributeError):
        return [0.0, 0.0, 595.0, 842.0]
    return [0.0, 0.0, 595.0, 842.0]


def given_box(box: Sequence[float]) -> tuple[int, int, int, int]:
    try:
        x1, y1, x2, y2 = (int(round(float(value))) for value in box)
    except (TypeError, ValueError) as exc:
        raise SealError("bad_input", f"The stamp box {box!r} is not four numbers.") from exc
    if x2 - x1 < 60 or y2 - y1 < 30:
        raise SealError("bad_input", f"The stamp box {box!r} is too small for the QR code.")
    return x1, y1, x2, y2


def stamp_box(
    writer: IncrementalPdfFileWriter, bottom: float | None = None
) -> tuple[int, int, int, int]:
    """The stamp's rectangle: the right of the last page, ``bottom`` points above its bottom
    edge (the report's bottom margin, where its footer is drawn), else 18 pt from the edge.

    :raises SealError: ``"bad_input"`` when ``bottom`` is negative or leaves no room.
    """
    left, low, right, top = _page_box(writer)
    if bottom is None:
        y1 = low + _STAMP_MARGIN
    else:
        try:
            y1 = low + float(bottom)
        except (TypeError, ValueError) as exc:
            raise SealError("bad_input", f"The stamp's bottom {bottom!r} is no number.") from exc
        if float(bottom) < 0 or y1 + _STAMP_HEIGHT > top:
            raise SealError("bad_input", f"The stamp's bottom {bottom!r} is off the page.")
    x2 = right - _STAMP_MARGIN
    x1 = max(left + _STAMP_MARGIN, x2 - _STAMP_WIDTH)
    return int(x1), int(round(y1)), int(x2), int(round(y1)) + int(_STAMP_HEIGHT)
