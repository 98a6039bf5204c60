"""Promotion posters: a PNG of a phone's size whose QR code a scanner reads back as the invite link, and
whose words stay inside the card however long the title."""

from io import BytesIO

import pytest
import zxingcpp
from PIL import Image

from distribution import posters

INVITE_URL = "http://127.0.0.1:8000/r/AB12CD34"
LONG_TITLE = "腾讯视频VIP会员月卡 官方直充 自动发货 全国通用 三十天 腾讯视频VIP会员月卡 官方直充 自动发货 全国通用"
SHORT_TITLE = "网易云音乐黑胶VIP"


@pytest.fixture(autouse=True)
def fresh_font_cache():
    """The font lookup is cached per process; a test that changes where fonts are must not leak."""
    posters.find_font_file.cache_clear()
    posters.load_font.cache_clear()
    yield
    posters.find_font_file.cache_clear()
    posters.load_font.cache_clear()


def poster(**overrides) -> bytes:
    arguments = {
        "title": LONG_TITLE,
        "price": "¥12.30",
        "invite_url": INVITE_URL,
        "shop_name": "卡盟 kamen",
        "subtitle": "自动发货 · 秒到",
    }
    return posters.render_poster(**(arguments | overrides))


def image_bytes(image: Image.Image, format: str) -> bytes:
    buffer = BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


def decoded_qr_codes(png: bytes, *, scale: float = 1.0) -> list[str]:
    image = Image.open(BytesIO(png))
    if scale != 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)
    return [barcode.text for barcode in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


# ---------------------------------------------------------------- the poster


def test_poster_is_a_png_the_size_of_a_phone_screen():
    image = Image.open(BytesIO(poster()))

    assert image.format == "PNG"
    assert image.size == (750, 1334)
    image.verify()


def test_poster_qr_code_decodes_to_the_invite_url():
    assert decoded_qr_codes(poster()) == [INVITE_URL]


def test_poster_qr_code_still_decodes_from_a_shrunk_screenshot():
    # A screenshot forwarded in a chat arrives smaller than it was drawn.
    assert decoded_qr_codes(poster(title=SHORT_TITLE, subtitle=""), scale=0.5) == [INVITE_URL]


def test_poster_qr_code_carries_a_long_invite_url_exactly():
    url = "https://shop.example.com/r/AB12CD34?utm_source=poster&utm_medium=wechat&utm_campaign=spring-sale-2026"

    assert decoded_qr_codes(poster(invite_url=url)) == [url]


def test_poster_draws_the_cover_image():
    # given a cover of one colour, square, as product shots usually are
    blue = (22, 119, 255)
    cover = image_bytes(Image.new("RGB", (400, 400), blue), "JPEG")

    # when
    image = Image.open(BytesIO(poster(cover=cover))).convert("RGB")

    # then the middle of the cover frame is the cover, and the QR code still reads
    cover_top = posters.CARD_BOX[1] + posters.CARD_PADDING
    middle_x = posters.CONTENT_LEFT + posters.CONTENT_WIDTH // 2
    assert all(abs(a - b) <= 6 for a, b in zip(image.getpixel((middle_x, cover_top + 60)), blue, strict=True))
    assert decoded_qr_codes(image_bytes(image, "PNG")) == [INVITE_URL]


def test_poster_takes_a_cover_with_transparency():
    cover = image_bytes(Image.new("RGBA", (800, 450), (255, 0, 0, 128)), "PNG")

    assert decoded_qr_codes(poster(cover=cover)) == [INVITE_URL]


@pytest.mark.parametrize(
    "cover",
    [
        b"not an image",
        image_bytes(Image.new("RGB", (300, 300), "red"), "PNG")[:120],  # a truncated upload
        b"",
    ],
    ids=["not-an-image", "truncated-png", "empty"],
)
def test_poster_skips_a_cover_it_cannot_read(cover):
    drawn = poster(cover=cover)

    assert drawn == poster(cover=None)
    assert decoded_qr_codes(drawn) == [INVITE_URL]


def test_poster_draws_nothing_outside_the_card_content_box():
    # Wrapping and fitting are meant to keep every word inside the card's padding; look at the pixels.
    image = Image.open(
        BytesIO(poster(shop_name="卡盟 kamen 数字商品自动发货平台 官方旗舰店 " * 2, price="¥1,234,567.89"))
    )
    left, top, right, _bottom = posters.CARD_BOX
    content_right = posters.CONTENT_LEFT + posters.CONTENT_WIDTH
    above_perforation = 800
    white = ((255, 255), (255, 255), (255, 255))

    assert image.crop((left + 30, top + 30, posters.CONTENT_LEFT - 2, above_perforation)).getextrema() == white
    assert image.crop((content_right + 2, top + 30, right - 30, above_perforation)).getextrema() == white


# ---------------------------------------------------------------- wrapping


def test_long_title_wraps_to_three_lines_within_the_box_with_an_ellipsis():
    font = posters.load_font(posters.TITLE_SIZE, bold=True)

    lines = posters.wrap_text(LONG_TITLE, font, posters.CONTENT_WIDTH)

    assert len(lines) == 3
    assert all(font.getlength(line) <= posters.CONTENT_WIDTH for line in lines)
    assert lines[-1].endswith("…")
    # nothing dropped or reordered before the cut: the lines are the title's beginning
    assert LONG_TITLE.replace(" ", "").startswith("".join(lines).removesuffix("…").replace(" ", ""))


def test_short_title_stays_on_one_line_untouched():
    font = posters.load_font(posters.TITLE_SIZE, bold=True)

    assert posters.wrap_text(SHORT_TITLE, font, posters.CONTENT_WIDTH) == [SHORT_TITLE]


def test_wrapping_keeps_latin_words_whole_and_drops_spaces_at_breaks():
    font = posters.load_font(posters.TITLE_SIZE, bold=True)
    title = "Steam Wallet Gift Card 100 USD Global Redeem Code"

    lines = posters.wrap_text(title, font, 400, max_lines=10)

    assert len(lines) > 1
    assert " ".join(lines) == title
    assert all(line == line.strip() for line in lines)


def test_wrapping_splits_a_word_wider_than_the_line():
    font = posters.load_font(posters.TITLE_SIZE, bold=True)

    lines = posters.wrap_text("A" * 60, font, 300, max_lines=10)

    assert "".join(lines) == "A" * 60
    assert all(font.getlength(line) <= 300 for line in lines)


def test_ellipsize_cuts_a_line_to_its_width():
    font = posters.load_font(26)

    cut = posters.ellipsize("月卡 30天 · 官方直充 · 自动发货 · 秒到 · 全国通用 · 支持退款", font, 300)

    assert cut.endswith("…")
    assert font.getlength(cut) <= 300


# ---------------------------------------------------------------- the dashboard's QR code


def test_invite_qr_png_decodes_to_the_url():
    png = posters.invite_qr_png(INVITE_URL)

    assert Image.open(BytesIO(png)).format == "PNG"
    assert decoded_qr_codes(png) == [INVITE_URL]


def test_invite_qr_png_box_size_sets_the_module_size():
    small = Image.open(BytesIO(posters.invite_qr_png(INVITE_URL, box_size=4)))
    large = Image.open(BytesIO(posters.invite_qr_png(INVITE_URL, box_size=8)))

    assert large.width == 2 * small.width


# ---------------------------------------------------------------- fonts


def test_poster_font_setting_comes_first(settings):
    system_font = posters.find_font_file()
    if system_font is None:
        pytest.skip("no CJK font installed to point POSTER_FONT at")
    bold_font = posters.find_font_file(bold=True)
    posters.find_font_file.cache_clear()
    settings.POSTER_FONT = bold_font[0]

    assert posters.find_font_file(bold=False) == bold_font


def test_unusable_poster_font_setting_falls_back_to_the_system_fonts(settings, tmp_path, caplog):
    expected = posters.find_font_file()
    posters.find_font_file.cache_clear()
    not_a_font = tmp_path / "font.ttf"
    not_a_font.write_bytes(b"not a font")
    settings.POSTER_FONT = str(not_a_font)

    assert posters.find_font_file() == expected
    assert "POSTER_FONT" in caplog.text


def test_without_any_cjk_font_a_poster_is_still_drawn(settings, monkeypatch):
    settings.POSTER_FONT = "/nonexistent/font.ttc"
    monkeypatch.setattr(posters, "REGULAR_FONTS", ())
    monkeypatch.setattr(posters, "BOLD_FONTS", ())

    assert posters.find_font_file() is None
    assert decoded_qr_codes(poster()) == [INVITE_URL]
