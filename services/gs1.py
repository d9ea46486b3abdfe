"""GS1 identifiers and UDI carriers (21 CFR 801.20/830, REQUIREMENTS R26).

A UDI is encoded as a GS1 element string with the application identifiers
(01) GTIN, (11) production date, (17) expiry date, (10) lot and (21) serial, in
that order, and printed as a GS1 DataMatrix (FNC1 in first position, read back
with symbology identifier ``]d2``) next to its human-readable interpretation.

Encoding is done by zint (``zint-bindings``), parsing by ``biip``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import zint
from biip import ParseError
from biip.gs1_element_strings import GS1ElementString
from biip.gs1_messages import GS1Message

from .errors import InvalidGTINError, UDIEncodingError, UDIParseError

__all__ = [
    "GS",
    "GS1_SYMBOLOGY_IDENTIFIERS",
    "UDI",
    "build_element_string",
    "build_hri",
    "build_hri_elements",
    "format_label_date",
    "gtin_check_digit",
    "is_valid_gtin",
    "parse_element_string",
    "parse_hri",
    "render_datamatrix_png",
    "render_datamatrix_svg",
    "validate_gtin",
]

GS = "\x1d"
"""ASCII group separator: ends a variable-length element that is not last."""

GS1_SYMBOLOGY_IDENTIFIERS = frozenset({"]d2", "]C1", "]Q3", "]e0", "]J1"})
"""Symbology identifiers a scanner sends before GS1 data (DataMatrix, GS1-128,
QR, DataBar, DotCode). Any other identifier means the symbol had no FNC1 and
is not GS1 data at all."""

_GTIN_LENGTHS = frozenset({8, 12, 13, 14})
_DIGITS_RE = re.compile(r"[0-9]+")
# GS1 AI encodable character set 82 (GS1 General Specifications, section 7.11).
_CSET82_RE = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}")
_VARIABLE_LENGTH_AIS = frozenset({"10", "21"})
_UDI_AIS = ("01", "11", "17", "10", "21")
_SVG_ROOT_RE = re.compile(r'<svg width="([0-9.]+)" height="([0-9.]+)"')


def _is_digits(value: object) -> bool:
    """Tell whether ``value`` is a non-empty string of ASCII digits.

    :param value: Anything.
    :return: ``True`` for text made only of ``0``-``9``. ``str.isdigit`` is
        not used because it also accepts digits such as ``"٣"`` or ``"²"``.
    """
    return isinstance(value, str) and _DIGITS_RE.fullmatch(value) is not None


def gtin_check_digit(body: str) -> str:
    """Compute the GS1 mod-10 check digit.

    :param body: The digits before the check digit (7, 11, 12 or 13 of them
        for a GTIN; the algorithm is the same for any length).
    :return: The check digit, ``"0"`` to ``"9"``.
    :raises InvalidGTINError: If ``body`` is empty or not only ASCII digits.
    """
    if not _is_digits(body):
        raise InvalidGTINError(body, "not_digits")
    # Weights 3,1,3,1... start from the digit nearest the check digit, so
    # GTIN-8/12/13/14 all share one loop without padding.
    weights = (3, 1)
    total = sum(int(digit) * weights[index % 2] for index, digit in enumerate(reversed(body)))
    # The check digit tops the weighted sum up to a multiple of ten.
    return str(-total % 10)


def validate_gtin(gtin: str) -> str:
    """Check a GTIN-8, -12, -13 or -14 and normalise it to 14 digits.

    :param gtin: The GTIN, digits only (no spaces or dashes).
    :return: The GTIN left-padded with zeros to 14 digits, as in AI (01).
    :raises InvalidGTINError: On non-digits, a wrong length or a wrong check
        digit; its ``problem`` attribute says which.
    """
    if not _is_digits(gtin):
        raise InvalidGTINError(gtin, "not_digits")
    if len(gtin) not in _GTIN_LENGTHS:
        raise InvalidGTINError(gtin, "bad_length")
    expected = gtin_check_digit(gtin[:-1])
    if gtin[-1] != expected:
        raise InvalidGTINError(gtin, "bad_check_digit", expected_check_digit=expected)
    return gtin.zfill(14)


def is_valid_gtin(gtin: object) -> bool:
    """Tell whether ``gtin`` is a valid GTIN-8, -12, -13 or -14.

    :param gtin: Anything.
    :return: ``True`` if :func:`validate_gtin` accepts it.
    """
    try:
        validate_gtin(gtin)  # type: ignore[arg-type]
    except InvalidGTINError:
        return False
    return True


def _gs1_century_year(two_digit_year: int, today: date) -> int:
    """Expand a two-digit year as GS1 General Specifications 7.12 does.

    :param two_digit_year: ``0`` to ``99``.
    :param today: The reference date.
    :return: The four-digit year, at most 49 years back or 50 ahead.
    """
    century = today.year - today.year % 100
    difference = two_digit_year - today.year % 100
    if 51 <= difference <= 99:
        return century - 100 + two_digit_year
    if -99 <= difference <= -50:
        return century + 100 + two_digit_year
    return century + two_digit_year


def _check_date(field: str, value: object) -> None:
    """Check a UDI date.

    :param field: The UDI field name, for the error.
    :param value: The value.
    :raises UDIEncodingError: If it is not a plain date, or its year would be
        read back as another century from the two-digit YY.
    """
    if isinstance(value, datetime) or not isinstance(value, date):
        raise UDIEncodingError(field, value, "It must be a date without a time.")
    if _gs1_century_year(value.year % 100, date.today()) != value.year:
        raise UDIEncodingError(
            field,
            value,
            "A GS1 date has a two-digit year, so it must lie between 49 years ago "
            "and 50 years from now.",
        )


def _check_cset82(field: str, value: object) -> None:
    """Check a lot or serial number.

    :param field: The UDI field name, for the error.
    :param value: The value.
    :raises UDIEncodingError: If it is not 1 to 20 characters of GS1 AI
        character set 82.
    """
    if not isinstance(value, str) or not _CSET82_RE.fullmatch(value):
        raise UDIEncodingError(
            field,
            value,
            "It must be 1 to 20 characters: letters A-Z and a-z, digits, and "
            "! \" % & ' ( ) * + , - . / : ; < = > ? _ (no spaces).",
        )


@dataclass(frozen=True, kw_only=True)
class UDI:
    """A unique device identifier: device identifier plus production identifiers.

    Built with keywords only, in AI order.

    :param gtin: GTIN-8/12/13/14 (AI 01); stored normalised to 14 digits.
    :param production_date: Manufacturing date (AI 11), optional.
    :param expiry_date: Expiry date (AI 17), optional.
    :param lot: Lot or batch number (AI 10), GS1 character set 82, 1-20 chars.
    :param serial: Serial number (AI 21), same rules as ``lot``, optional.
    :raises InvalidGTINError: If the GTIN is invalid.
    :raises UDIEncodingError: If another field cannot be encoded, or the
        expiry date is before the production date.
    """

    gtin: str
    production_date: date | None = None
    expiry_date: date | None = None
    lot: str
    serial: str | None = None

    def __post_init__(self) -> None:
        """Validate the fields and normalise the GTIN.

        :raises InvalidGTINError: If the GTIN is invalid.
        :raises UDIEncodingError: If another field is invalid.
        """
        object.__setattr__(self, "gtin", validate_gtin(self.gtin))
        if self.production_date is not None:
            _check_date("production_date", self.production_date)
        if self.expiry_date is not None:
            _check_date("expiry_date", self.expiry_date)
        if (
            self.production_date is not None
            and self.expiry_date is not None
            and self.expiry_date < self.production_date
        ):
            raise UDIEncodingError(
                "expiry_date", self.expiry_date, "It is before the production date."
            )
        _check_cset82("lot", self.lot)
        if self.serial is not None:
            _check_cset82("serial", self.serial)


def _elements(udi: UDI) -> list[tuple[str, str]]:
    """List the UDI's (AI, data) pairs in encoding order.

    :param udi: The UDI.
    :return: Fixed-length AIs (01, 11, 17) first, then (10) and (21), so only
        the lot can need a separator.
    """
    elements = [("01", udi.gtin)]
    if udi.production_date is not None:
        elements.append(("11", udi.production_date.strftime("%y%m%d")))
    if udi.expiry_date is not None:
        elements.append(("17", udi.expiry_date.strftime("%y%m%d")))
    elements.append(("10", udi.lot))
    if udi.serial is not None:
        elements.append(("21", udi.serial))
    return elements


def build_element_string(udi: UDI) -> str:
    """Build the raw GS1 element string, as a scanner transmits it.

    :param udi: The UDI.
    :return: AIs and data run together, with :data:`GS` after a
        variable-length element only when another element follows.
    """
    elements = _elements(udi)
    parts: list[str] = []
    for index, (ai, data) in enumerate(elements):
        parts.append(ai + data)
        if ai in _VARIABLE_LENGTH_AIS and index < len(elements) - 1:
            parts.append(GS)
    return "".join(parts)


def build_hri(udi: UDI) -> str:
    """Build the human-readable interpretation printed under the symbol.

    :param udi: The UDI.
    :return: E.g. ``(01)09506000134352(11)250101(17)270131(10)LOT-42(21)SN1``.
    """
    return "".join(build_hri_elements(udi))


def build_hri_elements(udi: UDI) -> list[str]:
    """The human-readable interpretation, one ``(AI)data`` element string each.

    A printed copy may wrap the text between these, never inside one: a lot number cut in
    two reads as two values.

    :param udi: The UDI.
    :return: E.g. ``["(01)09506000134352", "(11)250101", "(10)LOT-42"]``; joined, they are
        :func:`build_hri`.
    """
    return [f"({ai}){data}" for ai, data in _elements(udi)]


def format_label_date(day: date) -> str:
    """Format a date for label text, as 21 CFR 801.18 requires.

    :param day: The date.
    :return: ``YYYY-MM-DD``.
    :raises UDIEncodingError: If ``day`` is not a date or is a datetime.
    """
    if isinstance(day, datetime) or not isinstance(day, date):
        raise UDIEncodingError("label_date", day, "It must be a date without a time.")
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def _render(data: str, filetype: str, zint_scale: float) -> bytes:
    """Encode bracketed GS1 data as a GS1 DataMatrix file in memory.

    :param data: AIs in square brackets, e.g. ``[01]09506000134352[10]A``.
        Zint's bracket form is used rather than GS1PARENS because ``(`` and
        ``)`` are legal in lot and serial numbers, while ``[`` ``]`` are not.
    :param filetype: ``"png"`` or ``"svg"``.
    :param zint_scale: Zint's scale (raster: half the pixels per module).
    :return: The file's bytes.
    :raises UDIEncodingError: If zint refuses the data or warns about it.
    """
    symbol = zint.Symbol()
    symbol.symbology = zint.Symbology.DATAMATRIX
    # GS1 mode makes zint put FNC1 first (so readers report ]d2) and check
    # each AI's format and check digit; FAIL_ALL turns warnings into errors.
    symbol.input_mode = zint.InputMode.GS1
    symbol.warn_level = zint.WarningLevel.FAIL_ALL
    # Square only, so a label layout does not change shape with the data.
    symbol.option_3 = zint.DataMatrixOptions.SQUARE
    # ISO/IEC 16022 requires a one-module quiet zone around the symbol.
    symbol.output_options = (
        zint.OutputOptions.BARCODE_MEMORY_FILE | zint.OutputOptions.BARCODE_QUIET_ZONES
    )
    symbol.outfile = f"udi.{filetype}"
    symbol.scale = zint_scale
    try:
        symbol.encode(data)
        symbol.print()
    except RuntimeError as exc:
        raise UDIEncodingError("symbol", data, f"The barcode encoder refused it: {exc}") from exc
    if symbol.memfile is None:
        raise UDIEncodingError("symbol", data, "The barcode encoder produced no output.")
    return bytes(symbol.memfile)


def _bracketed(udi: UDI) -> str:
    """Write the UDI in zint's GS1 input form.

    :param udi: The UDI.
    :return: E.g. ``[01]09506000134352[10]LOT-42``.
    """
    return "".join(f"[{ai}]{data}" for ai, data in _elements(udi))


def render_datamatrix_png(udi: UDI, scale: int = 8) -> bytes:
    """Render the UDI as a GS1 DataMatrix PNG.

    :param udi: The UDI.
    :param scale: Pixels per module (1 to 50), quiet zone included in output.
    :return: PNG bytes.
    :raises UDIEncodingError: If the scale is out of range or zint fails.
    """
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= 50:
        raise UDIEncodingError("scale", scale, "It must be a whole number from 1 to 50.")
    # Zint's raster scale 1 draws 2 pixels per module.
    return _render(_bracketed(udi), "png", scale / 2)


def render_datamatrix_svg(udi: UDI) -> str:
    """Render the UDI as a GS1 DataMatrix SVG.

    The SVG is 2 user units per module and gets a ``viewBox``, which zint
    omits, so a report can size it with CSS without clipping it.

    :param udi: The UDI.
    :return: SVG text.
    :raises UDIEncodingError: If zint fails.
    """
    svg = _render(_bracketed(udi), "svg", 1.0).decode("utf-8")
    match = _SVG_ROOT_RE.search(svg)
    if match is not None and "viewBox" not in svg:
        width, height = match.groups()
        svg = svg.replace(match.group(0), f'{match.group(0)} viewBox="0 0 {width} {height}"', 1)
    return svg


def _strip_symbology_identifier(text: str) -> str:
    """Remove a leading GS1 symbology identifier sent by a scanner.

    :param text: Scanned text.
    :return: The text without ``]d2``, ``]C1``...
    :raises UDIParseError: If the identifier is present but not a GS1 one
        (e.g. ``]d1``: a DataMatrix without FNC1 is not a GS1 symbol).
    """
    if not text.startswith("]"):
        return text
    if text[:3] not in GS1_SYMBOLOGY_IDENTIFIERS:
        raise UDIParseError(text, f"The symbology identifier {text[:3]!r} does not mark GS1 data.")
    return text[3:]


def _udi_from_message(text: str, message: GS1Message) -> UDI:
    """Turn parsed GS1 element strings into a :class:`UDI`.

    :param text: The original text, for errors.
    :param message: What biip parsed.
    :return: The UDI.
    :raises InvalidGTINError: If the GTIN is invalid.
    :raises UDIParseError: If an AI is foreign to a UDI, repeated or missing,
        or the values do not form a valid UDI.
    """
    found: dict[str, GS1ElementString] = {}
    for element in message.element_strings:
        ai = element.ai.ai
        if ai not in _UDI_AIS:
            raise UDIParseError(text, f"The application identifier ({ai}) is not part of a UDI.")
        if ai in found:
            raise UDIParseError(text, f"The application identifier ({ai}) appears twice.")
        found[ai] = element
    for ai, name in (("01", "GTIN"), ("10", "lot")):
        if ai not in found:
            raise UDIParseError(text, f"The {name} ({ai}) is missing.")

    gtin_element = found["01"]
    # biip does not raise on a bad GTIN check digit: it sets gtin_error.
    if gtin_element.gtin is None or gtin_element.gtin_error is not None:
        validate_gtin(gtin_element.value)
        raise UDIParseError(text, f"The GTIN was rejected: {gtin_element.gtin_error}")

    dates: dict[str, date | None] = {}
    for ai in ("11", "17"):
        date_element = found.get(ai)
        # biip expands YY per GS1 General Specifications 7.12 and reads day
        # "00" as the last day of the month, which is what (17) means by it.
        if date_element is not None and date_element.date is None:
            raise UDIParseError(text, f"The date in ({ai}) cannot be read.")
        dates[ai] = None if date_element is None else date_element.date

    serial = found.get("21")
    try:
        return UDI(
            gtin=gtin_element.value,
            production_date=dates["11"],
            expiry_date=dates["17"],
            lot=found["10"].value,
            serial=None if serial is None else serial.value,
        )
    except UDIEncodingError as exc:
        raise UDIParseError(text, exc.message) from exc


def parse_element_string(text: str) -> UDI:
    """Parse a raw GS1 element string (as scanned) into a :class:`UDI`.

    A leading GS1 symbology identifier (``]d2``...) is accepted and removed.
    The date of an element string with day ``00`` comes back as the last
    day of that month, so re-encoding gives the explicit day.

    :param text: The element string, with :data:`GS` after variable-length
        elements that are not last.
    :return: The UDI.
    :raises InvalidGTINError: If the GTIN is invalid (including its check
        digit).
    :raises UDIParseError: If the text is not a UDI element string.
    """
    if not isinstance(text, str):
        raise UDIParseError(repr(text), "It must be text.")
    try:
        message = GS1Message.parse(_strip_symbology_identifier(text))
    except ParseError as exc:
        raise UDIParseError(text, f"The GS1 parser reported: {exc}") from exc
    return _udi_from_message(text, message)


def parse_hri(text: str) -> UDI:
    """Parse a human-readable interpretation such as ``(01)…(10)LOT``.

    Because ``(`` may appear inside a lot or serial number, an HRI holding
    one is ambiguous; it is refused rather than guessed at. Parse the element
    string instead.

    :param text: The HRI; whitespace is ignored.
    :return: The UDI.
    :raises InvalidGTINError: If the GTIN is invalid.
    :raises UDIParseError: If the text is not a UDI HRI.
    """
    if not isinstance(text, str):
        raise UDIParseError(repr(text), "It must be text.")
    try:
        message = GS1Message.parse_hri(text)
    except ParseError as exc:
        raise UDIParseError(text, f"The GS1 parser reported: {exc}") from exc
    # biip's HRI pattern silently skips text it cannot match (e.g. after a
    # "(" inside a lot), so make sure every character was accounted for.
    if message.as_hri() != "".join(text.split()):
        raise UDIParseError(
            text, "Part of it could not be read; a lot or serial containing '(' is ambiguous."
        )
    return _udi_from_message(text, message)
