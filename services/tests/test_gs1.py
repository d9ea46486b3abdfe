"""Tests for services.gs1: GTINs, UDI element strings, HRI and GS1 DataMatrix.

Verifies: R26
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime

import pytest
import zint
import zxingcpp
from biip.gs1_messages import GS1Message
from PIL import Image, ImageDraw

from services import gs1
from services.errors import InvalidGTINError, UDIEncodingError, UDIParseError

FULL = gs1.UDI(
    gtin="09506000134352",
    production_date=date(2025, 1, 1),
    expiry_date=date(2027, 1, 31),
    lot="LOT-42",
    serial="SN1",
)
FULL_ELEMENT_STRING = "0109506000134352112501011727013110LOT-42\x1d21SN1"
FULL_HRI = "(01)09506000134352(11)250101(17)270131(10)LOT-42(21)SN1"


def _decode(image: Image.Image) -> zxingcpp.Barcode:
    """Decode one DataMatrix with raw text (GS kept as \\x1d)."""
    result = zxingcpp.read_barcode(
        image,
        formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.DataMatrix),
        text_mode=zxingcpp.TextMode.Plain,
    )
    assert result is not None, "no DataMatrix found"
    return result


def _decode_png(png: bytes) -> zxingcpp.Barcode:
    return _decode(Image.open(io.BytesIO(png)))


def _rasterise_zint_svg(svg: str, factor: int = 4) -> Image.Image:
    """Draw zint's SVG (one background rect, one path of rectangles) with PIL."""
    root = ET.fromstring(svg)
    width, height = (float(root.attrib[key]) for key in ("width", "height"))
    image = Image.new("L", (int(width * factor), int(height * factor)), 255)
    draw = ImageDraw.Draw(image)
    path = root.find(".//{http://www.w3.org/2000/svg}path")
    assert path is not None
    rectangles = re.findall(r"M([\d.]+) ([\d.]+)h([\d.]+)v([\d.]+)h-[\d.]+Z", path.attrib["d"])
    assert rectangles
    for x, y, w, h in ((float(v) * factor for v in rect) for rect in rectangles):
        draw.rectangle((x, y, x + w - 1, y + h - 1), fill=0)
    return image


# --- GTIN ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gtin", "normalised"),
    [
        ("09506000134352", "09506000134352"),  # GTIN-14 (GS1 example)
        ("4006381333931", "04006381333931"),  # GTIN-13
        ("036000291452", "00036000291452"),  # GTIN-12 (UPC-A)
        ("96385074", "00000096385074"),  # GTIN-8
    ],
)
def test_valid_gtins_normalise_to_14_digits(gtin: str, normalised: str) -> None:
    assert gs1.validate_gtin(gtin) == normalised
    assert gs1.is_valid_gtin(gtin)
    assert gs1.gtin_check_digit(gtin[:-1]) == gtin[-1]


@pytest.mark.parametrize(
    ("gtin", "expected"),
    [("09506000134353", "2"), ("4006381333932", "1"), ("036000291450", "2"), ("96385070", "4")],
)
def test_bad_check_digit_is_rejected(gtin: str, expected: str) -> None:
    assert not gs1.is_valid_gtin(gtin)
    with pytest.raises(InvalidGTINError) as caught:
        gs1.validate_gtin(gtin)
    assert caught.value.problem == "bad_check_digit"
    assert caught.value.expected_check_digit == expected
    assert caught.value.gtin == gtin


@pytest.mark.parametrize(
    "gtin",
    [
        "0950600013435A",
        "09506000-134352",
        " 4006381333931",
        "٠٩٥٠٦٠٠٠١٣٤٣٥٢",  # Arabic-Indic digits pass str.isdigit()
        "",
        4006381333931,
        None,
    ],
)
def test_non_digit_gtin_is_rejected(gtin: object) -> None:
    assert not gs1.is_valid_gtin(gtin)
    with pytest.raises(InvalidGTINError) as caught:
        gs1.validate_gtin(gtin)  # type: ignore[arg-type]
    assert caught.value.problem == "not_digits"


@pytest.mark.parametrize("gtin", ["1234565", "123456789", "12345678901", "123456789012345"])
def test_wrong_length_gtin_is_rejected(gtin: str) -> None:
    with pytest.raises(InvalidGTINError) as caught:
        gs1.validate_gtin(gtin)
    assert caught.value.problem == "bad_length"


@pytest.mark.parametrize("body", ["", "12a4", "١٢"])
def test_check_digit_of_non_digits_is_refused(body: str) -> None:
    with pytest.raises(InvalidGTINError):
        gs1.gtin_check_digit(body)


# --- UDI construction -----------------------------------------------------------


def test_udi_normalises_gtin() -> None:
    udi = gs1.UDI(gtin="4006381333931", lot="A")
    assert udi.gtin == "04006381333931"


def test_udi_with_bad_gtin_is_refused() -> None:
    with pytest.raises(InvalidGTINError):
        gs1.UDI(gtin="4006381333932", lot="A")


def test_lot_and_serial_accept_all_of_cset_82() -> None:
    udi = gs1.UDI(gtin="09506000134352", lot="!\"%&'()*+,-./:;<=>?", serial="_azAZ09")
    assert udi.lot == "!\"%&'()*+,-./:;<=>?"


@pytest.mark.parametrize(
    "bad",
    ["LOT 42", "LOTé", "LOT[1]", "LOT#1", "LOT\x1d1", "", "A" * 21, 42],
)
@pytest.mark.parametrize("field", ["lot", "serial"])
def test_lot_or_serial_with_illegal_content_is_refused(field: str, bad: object) -> None:
    values: dict[str, object] = {"gtin": "09506000134352", "lot": "OK"}
    values[field] = bad
    with pytest.raises(UDIEncodingError) as caught:
        gs1.UDI(**values)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert caught.value.value == bad


def test_dates_in_gs1_window_are_accepted() -> None:
    udi = gs1.UDI(
        gtin="09506000134352",
        production_date=date.today(),
        expiry_date=date(date.today().year + 5, 12, 31),
        lot="A",
    )
    assert udi.expiry_date is not None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("production_date", datetime(2025, 1, 1, 12, 0)),
        ("expiry_date", "2027-01-31"),
        ("production_date", date(1970, 1, 1)),  # YY 70 would read back as 2070
        ("expiry_date", date(date.today().year + 60, 1, 1)),
    ],
)
def test_bad_dates_are_refused(field: str, value: object) -> None:
    with pytest.raises(UDIEncodingError) as caught:
        gs1.UDI(gtin="09506000134352", lot="A", **{field: value})  # type: ignore[arg-type]
    assert caught.value.field == field


def test_expiry_before_production_is_refused() -> None:
    with pytest.raises(UDIEncodingError) as caught:
        gs1.UDI(
            gtin="09506000134352",
            production_date=date(2026, 1, 2),
            expiry_date=date(2026, 1, 1),
            lot="A",
        )
    assert caught.value.field == "expiry_date"


# --- element string and HRI -----------------------------------------------------


def test_element_string_is_exact() -> None:
    assert gs1.build_element_string(FULL) == FULL_ELEMENT_STRING


def test_hri_is_exact() -> None:
    assert gs1.build_hri(FULL) == FULL_HRI


def test_hri_elements_keep_each_value_whole() -> None:
    assert gs1.build_hri_elements(FULL) == [
        "(01)09506000134352",
        "(11)250101",
        "(17)270131",
        "(10)LOT-42",
        "(21)SN1",
    ]
    assert "".join(gs1.build_hri_elements(FULL)) == FULL_HRI


def test_hri_elements_of_a_lot_with_brackets_stay_one_element() -> None:
    """Twin: a lot holding "(" and ")" (GS1 character set 82 allows them) is not split."""
    udi = gs1.UDI(gtin="09506000134352", lot="A(10)B")
    assert gs1.build_hri_elements(udi) == ["(01)09506000134352", "(10)A(10)B"]


def test_element_string_has_no_trailing_gs() -> None:
    without_serial = gs1.UDI(gtin="09506000134352", lot="LOT-42")
    assert gs1.build_element_string(without_serial) == "0109506000134352" + "10LOT-42"
    assert not gs1.build_element_string(FULL).endswith(gs1.GS)


def test_gs_separates_lot_from_serial() -> None:
    element_string = gs1.build_element_string(FULL)
    assert element_string.count(gs1.GS) == 1
    assert "10LOT-42\x1d21SN1" in element_string


def test_without_gs_the_serial_is_swallowed_by_the_lot() -> None:
    # Twin of the test above: the GS is what keeps (21) out of the lot.
    parsed = gs1.parse_element_string(FULL_ELEMENT_STRING.replace(gs1.GS, ""))
    assert parsed.lot == "LOT-4221SN1"
    assert parsed.serial is None


def test_fixed_length_dates_need_no_gs() -> None:
    udi = gs1.UDI(gtin="09506000134352", expiry_date=date(2027, 1, 31), lot="A", serial="B")
    assert gs1.build_element_string(udi) == "0109506000134352" + "17270131" + "10A\x1d21B"


def test_element_string_round_trips_through_biip() -> None:
    element_string = gs1.build_element_string(FULL)
    message = GS1Message.parse(element_string)
    assert message.as_hri() == FULL_HRI
    assert gs1.parse_element_string(element_string) == FULL


def test_changed_element_string_does_not_round_trip() -> None:
    tampered = FULL_ELEMENT_STRING.replace("LOT-42", "LOT-43")
    assert gs1.parse_element_string(tampered) != FULL


def test_hri_round_trips() -> None:
    assert gs1.parse_hri(FULL_HRI) == FULL
    assert gs1.parse_hri(" (01)09506000134352 (10)LOT-42 ") == gs1.UDI(
        gtin="09506000134352", lot="LOT-42"
    )


@pytest.mark.parametrize(
    "hri",
    [
        "(01)09506000134352(10)A(B)",  # biip alone would silently read lot "A"
        "(01)09506000134352(15)270131(10)A",  # (15) best-before is not a UDI AI
        "(01)09506000134352(21)SN1",  # no lot
        "(10)A",  # no GTIN
        "01095060001343521 0A",
        "(01)09506000134352(17)271331(10)A",  # month 13
    ],
)
def test_bad_hri_is_refused(hri: str) -> None:
    with pytest.raises(UDIParseError) as caught:
        gs1.parse_hri(hri)
    assert caught.value.text == hri


def test_biip_does_not_raise_on_bad_gtin_but_we_do() -> None:
    bad = "0109506000134353" + "10A"
    element = GS1Message.parse(bad).element_strings[0]
    assert element.gtin is None and element.gtin_error  # biip only records it
    with pytest.raises(InvalidGTINError) as caught:
        gs1.parse_element_string(bad)
    assert caught.value.problem == "bad_check_digit"
    with pytest.raises(InvalidGTINError):
        gs1.parse_hri("(01)09506000134353(10)A")


def test_good_gtin_parses() -> None:
    assert gs1.parse_element_string("0109506000134352" + "10A").gtin == "09506000134352"


@pytest.mark.parametrize(
    ("element_string", "expiry"),
    [
        ("0109506000134352" + "17270200" + "10A", date(2027, 2, 28)),
        ("0109506000134352" + "17280200" + "10A", date(2028, 2, 29)),  # leap year
        ("0109506000134352" + "17271200" + "10A", date(2027, 12, 31)),
    ],
)
def test_expiry_day_00_means_last_day_of_month(element_string: str, expiry: date) -> None:
    assert gs1.parse_element_string(element_string).expiry_date == expiry


@pytest.mark.parametrize(
    "element_string",
    [
        "0109506000134352" + "17271300" + "10A",  # month 13
        "0109506000134352" + "17270231" + "10A",  # 31 February
        "0109506000134352" + "11270201" + "17270101" + "10A",  # expires before made
    ],
)
def test_impossible_dates_are_refused(element_string: str) -> None:
    with pytest.raises(UDIParseError):
        gs1.parse_element_string(element_string)


def test_gs1_symbology_identifier_is_accepted() -> None:
    assert gs1.parse_element_string("]d2" + FULL_ELEMENT_STRING) == FULL


@pytest.mark.parametrize(
    "element_string",
    [
        "]d1" + FULL_ELEMENT_STRING,  # plain DataMatrix: not GS1 data
        "0109506000134352" + "10A\x1d10B",  # (10) twice
        "0109506000134352" + "15270131" + "10A",  # (15) is not a UDI AI
        "0109506000134352",  # no lot
        "10A",  # no GTIN
        "01095060001343",  # truncated GTIN
        "",
    ],
)
def test_bad_element_string_is_refused(element_string: str) -> None:
    with pytest.raises(UDIParseError):
        gs1.parse_element_string(element_string)


def test_label_date_is_iso() -> None:
    assert gs1.format_label_date(date(2027, 1, 31)) == "2027-01-31"


@pytest.mark.parametrize("value", [datetime(2027, 1, 31, 23, 0), "2027-01-31", None])
def test_label_date_refuses_non_dates(value: object) -> None:
    with pytest.raises(UDIEncodingError):
        gs1.format_label_date(value)  # type: ignore[arg-type]


# --- GS1 DataMatrix ---------------------------------------------------------------


@pytest.mark.parametrize(
    "udi",
    [
        FULL,
        gs1.UDI(gtin="4006381333931", lot="A"),
        gs1.UDI(gtin="09506000134352", lot="!\"%&'()*+,-./:;<=>?", serial="_azAZ09"),
    ],
)
def test_png_decodes_as_gs1_datamatrix(udi: gs1.UDI) -> None:
    result = _decode_png(gs1.render_datamatrix_png(udi, scale=4))
    assert result.format == zxingcpp.BarcodeFormat.DataMatrix
    assert result.symbology_identifier == "]d2"  # FNC1 in first position
    assert result.content_type == zxingcpp.ContentType.GS1
    assert result.text == gs1.build_element_string(udi)
    assert gs1.parse_element_string(result.symbology_identifier + result.text) == udi


def test_plain_datamatrix_of_same_data_is_not_gs1() -> None:
    # Twin of the test above: same bytes without FNC1 read as ]d1, not GS1.
    symbol = zint.Symbol()
    symbol.symbology = zint.Symbology.DATAMATRIX
    symbol.output_options = zint.OutputOptions.BARCODE_MEMORY_FILE
    symbol.outfile = "plain.png"
    symbol.scale = 2
    symbol.encode(FULL_ELEMENT_STRING)
    symbol.print()
    assert symbol.memfile is not None
    result = _decode_png(bytes(symbol.memfile))
    assert result.text == FULL_ELEMENT_STRING
    assert result.symbology_identifier == "]d1"
    assert result.content_type != zxingcpp.ContentType.GS1
    with pytest.raises(UDIParseError):
        gs1.parse_element_string(result.symbology_identifier + result.text)


def test_png_scale_is_pixels_per_module() -> None:
    small = Image.open(io.BytesIO(gs1.render_datamatrix_png(FULL, scale=1)))
    large = Image.open(io.BytesIO(gs1.render_datamatrix_png(FULL, scale=5)))
    assert large.size == (small.size[0] * 5, small.size[1] * 5)
    assert small.size[0] == small.size[1]  # square symbol


@pytest.mark.parametrize("scale", [0, 51, 2.5, True])
def test_png_bad_scale_is_refused(scale: object) -> None:
    with pytest.raises(UDIEncodingError) as caught:
        gs1.render_datamatrix_png(FULL, scale=scale)  # type: ignore[arg-type]
    assert caught.value.field == "scale"


def test_svg_has_viewbox_and_decodes_as_gs1_datamatrix() -> None:
    svg = gs1.render_datamatrix_svg(FULL)
    root = ET.fromstring(svg)
    assert root.attrib["viewBox"] == f"0 0 {root.attrib['width']} {root.attrib['height']}"
    result = _decode(_rasterise_zint_svg(svg))
    assert result.symbology_identifier == "]d2"
    assert result.text == FULL_ELEMENT_STRING


def test_svg_of_other_udi_decodes_to_other_data() -> None:
    other = gs1.UDI(gtin="09506000134352", lot="LOT-43", serial="SN1")
    svg = gs1.render_datamatrix_svg(other)
    assert svg != gs1.render_datamatrix_svg(FULL)
    assert _decode(_rasterise_zint_svg(svg)).text != FULL_ELEMENT_STRING


def test_zint_refusal_is_wrapped() -> None:
    # A UDI cannot hold a bad check digit, so feed the encoder directly.
    with pytest.raises(UDIEncodingError) as caught:
        gs1._render("[01]09506000134353[10]A", "png", 1.0)
    assert caught.value.field == "symbol"
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_zint_accepts_valid_bracketed_data() -> None:
    assert gs1._render("[01]09506000134352[10]A", "png", 1.0).startswith(b"\x89PNG")
