"""Promotion posters (推广海报): a phone-sized PNG a reseller shares in WeChat, with their invite QR code.

Pure drawing, no models: the caller passes the words, the price already formatted and the invite link.
"""

import logging
import re
from functools import lru_cache
from io import BytesIO
from pathlib import Path

import qrcode
from django.conf import settings
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps
from qrcode.constants import ERROR_CORRECT_M

logger = logging.getLogger(__name__)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

POSTER_SIZE = (750, 1334)

# The site's colours (static/css/site.css).
BRAND_LIGHT = (255, 126, 31)  # --brand-grad start
BRAND_DEEP = (255, 74, 0)  # --brand-grad end
BRAND = (255, 80, 0)
BRAND_SOFT = (255, 243, 236)
PRICE = (242, 39, 12)
TEXT = (31, 35, 41)
TEXT_2 = (78, 89, 105)
LINE_2 = (223, 226, 230)
BG = (244, 245, 247)
WHITE = (255, 255, 255)

# The card and what goes in it, in poster pixels.
HEADER_HEIGHT = 330
CARD_BOX = (40, 196, 710, 1294)
CARD_PADDING = 40
CONTENT_LEFT = CARD_BOX[0] + CARD_PADDING
CONTENT_WIDTH = CARD_BOX[2] - CARD_BOX[0] - 2 * CARD_PADDING
TITLE_SIZE = 40
TITLE_LINE_HEIGHT = 58
TITLE_MAX_LINES = 3
QR_SIZE = 300  # two fifths of the width: WeChat's long press still finds it in a shrunk screenshot
QR_CAPTION = "长按识别二维码 立即购买"
ELLIPSIS = "…"

# Debian/Ubuntu (fonts-noto-cjk, fonts-wqy-*), Arch, Fedora, then a developer's Mac or Windows machine.
REGULAR_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)
BOLD_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Bold.ttc",
    "C:/Windows/Fonts/msyhbd.ttc",
)

# A run of Latin letters, digits and the punctuation inside words ("VIP", "12.30", "Wi-Fi") stays on one
# line; anything else (a Chinese character, a space) is a token of its own.
TOKEN = re.compile(r"[0-9A-Za-z][0-9A-Za-z.\-_/+%]*|\s+|.", re.DOTALL)


# ---------------------------------------------------------------- fonts


@lru_cache
def find_font_file(*, bold: bool = False) -> tuple[str, int] | None:
    """The CJK font to draw with, as (path, face index): settings.POSTER_FONT (one file, for both weights),
    then the bold system fonts (for bold), then the regular ones; None when there is none and Pillow's own
    font must do. Cached: looking inside a 20 MB collection once per process is enough."""
    configured = getattr(settings, "POSTER_FONT", "")
    candidates = [configured] if configured else []
    candidates += [*BOLD_FONTS, *REGULAR_FONTS] if bold else REGULAR_FONTS
    for path in candidates:
        index = _simplified_chinese_face(path) if Path(path).is_file() else None
        if index is not None:
            return path, index
        if path == configured:
            logger.warning("POSTER_FONT %r is not a font file Pillow can open; looking for a system font", path)
    return None


def _simplified_chinese_face(path: str) -> int | None:
    """The face to use in a font file: in a collection (.ttc), the first Simplified Chinese face, so 骨 and
    直 take their mainland shapes; else the first face. None if FreeType cannot open the file."""
    faces = []
    for index in range(32):
        try:
            faces.append(ImageFont.truetype(path, 12, index=index).getname()[0] or "")
        except OSError:
            break
    if not faces:
        return None
    simplified = [i for i, family in enumerate(faces) if re.search(r"\bSC\b|GB|Simplified", family)]
    monospaced = {i for i, family in enumerate(faces) if "Mono" in family}
    preferred = [i for i in simplified if i not in monospaced]
    return (preferred or simplified or [0])[0]


@lru_cache
def load_font(size: int, *, bold: bool = False) -> Font:
    """The poster's font at `size` pixels; Pillow's built-in font if no CJK font is installed (then Chinese
    shows as boxes, but a poster is still drawn)."""
    found = find_font_file(bold=bold)
    if found is not None:
        path, index = found
        return ImageFont.truetype(path, size, index=index)
    return ImageFont.load_default(size=size)


# ---------------------------------------------------------------- text


def wrap_text(text: str, font: Font, max_width: float, *, max_lines: int = TITLE_MAX_LINES) -> list[str]:
    """`text` broken into at most `max_lines` lines no wider than `max_width` pixels in `font`.

    Widths are measured, not counted: Chinese has no spaces and a Chinese character is about twice as wide
    as a Latin letter. Latin words are not split unless a word alone is wider than a line. Text that does
    not fit ends the last line with an ellipsis."""
    tokens = TOKEN.findall(" ".join(text.split()))
    lines: list[str] = []
    line = ""
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not line and token.isspace():  # no line starts with a space
            i += 1
            continue
        if font.getlength(line + token) <= max_width:
            line += token
            i += 1
            continue
        if token.isspace():  # a space where the line breaks is dropped
            i += 1
        elif not line:  # one word wider than a whole line: split it by characters
            fits = _longest_prefix(token, font, max_width)
            line, tokens[i] = token[:fits], token[fits:]
        lines.append(line.rstrip())
        line = ""
        if len(lines) == max_lines:
            if "".join(tokens[i:]).strip():
                lines[-1] = ellipsize(lines[-1] + ELLIPSIS, font, max_width)
            return lines
    if line:
        lines.append(line.rstrip())
    return lines


def _longest_prefix(text: str, font: Font, max_width: float) -> int:
    """How many leading characters of `text` fit in `max_width` (at least one, so wrapping always ends)."""
    count = 1
    while count < len(text) and font.getlength(text[: count + 1]) <= max_width:
        count += 1
    return count


def ellipsize(text: str, font: Font, max_width: float) -> str:
    """`text` on one line, cut and ended with an ellipsis if it is wider than `max_width`."""
    text = " ".join(text.split())
    if font.getlength(text) <= max_width:
        return text
    body = text.removesuffix(ELLIPSIS)
    while body and font.getlength(body.rstrip() + ELLIPSIS) > max_width:
        body = body[:-1]
    return body.rstrip() + ELLIPSIS


# ---------------------------------------------------------------- QR codes


def _qr_image(url: str, *, box_size: int, border: int) -> Image.Image:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=border)
    code.add_data(url)
    code.make(fit=True)
    return code.make_image().get_image().convert("L")


def invite_qr_png(url: str, *, box_size: int = 8) -> bytes:
    """The invite link as a QR code PNG (for the dashboard and the poster)."""
    buffer = BytesIO()
    _qr_image(url, box_size=box_size, border=4).save(buffer, format="PNG")
    return buffer.getvalue()


def _poster_qr(url: str) -> Image.Image:
    """The QR code at the largest whole number of pixels per module that fits QR_SIZE, so it stays crisp.
    No quiet zone of its own: the white card around it is one."""
    modules = _qr_image(url, box_size=1, border=0).width
    return _qr_image(url, box_size=max(QR_SIZE // modules, 1), border=0)


# ---------------------------------------------------------------- drawing helpers


def _rounded_mask(size: tuple[int, int], radius: int) -> Image.Image:
    """A rounded-rectangle mask with smooth corners: one corner drawn four times larger and scaled down,
    then mirrored into the other three (scaling the whole mask would cost most of a poster's time)."""
    width, height = size
    radius = max(min(radius, width // 2, height // 2), 1)
    big = Image.new("L", (radius * 8, radius * 8), 0)
    ImageDraw.Draw(big).ellipse((0, 0, big.width - 1, big.height - 1), fill=255)
    corner = big.resize((radius * 2, radius * 2), Image.Resampling.LANCZOS).crop((0, 0, radius, radius))
    mask = Image.new("L", size, 255)
    mask.paste(corner, (0, 0))
    mask.paste(corner.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (width - radius, 0))
    mask.paste(corner.transpose(Image.Transpose.FLIP_TOP_BOTTOM), (0, height - radius))
    mask.paste(corner.transpose(Image.Transpose.ROTATE_180), (width - radius, height - radius))
    return mask


def _paste_rounded(poster: Image.Image, image: Image.Image, xy: tuple[int, int], radius: int) -> None:
    poster.paste(image, xy, _rounded_mask(image.size, radius))


def _gradient(size: tuple[int, int], start: tuple[int, ...], end: tuple[int, ...]) -> Image.Image:
    """A left-to-right gradient, as the site's --brand-grad."""
    ramp = Image.linear_gradient("L").rotate(90).resize(size)
    return Image.composite(Image.new("RGB", size, end), Image.new("RGB", size, start), ramp)


def _fit_font(text: str, size: int, max_width: float, *, bold: bool = True, smallest: int = 24) -> Font:
    """The font at `size`, or smaller until `text` fits in `max_width` (a long price must not spill)."""
    while size > smallest and load_font(size, bold=bold).getlength(text) > max_width:
        size -= 2
    return load_font(size, bold=bold)


def _read_cover(cover: bytes | None, box: tuple[int, int]) -> Image.Image | None:
    """The cover image fitted into `box`, or None if there is none or Pillow cannot read it."""
    if not cover:
        return None
    try:
        with Image.open(BytesIO(cover)) as image:
            image.draft("RGB", (box[0] * 2, box[1] * 2))  # JPEGs decode at a fraction of their size
            image = ImageOps.exif_transpose(image)
            rgba = image.convert("RGBA")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    flat = Image.new("RGB", rgba.size, WHITE)
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return _letterbox(flat, box)


def _letterbox(image: Image.Image, box: tuple[int, int]) -> Image.Image:
    """The whole image inside `box`, over a blurred, lightened copy of itself: a square product shot in a
    wide frame keeps its edges and the frame has no bars."""
    backdrop = ImageOps.fit(image, box).filter(ImageFilter.GaussianBlur(24))
    backdrop = Image.blend(backdrop, Image.new("RGB", box, WHITE), 0.35)
    image = ImageOps.contain(image, box, Image.Resampling.LANCZOS)
    backdrop.paste(image, ((box[0] - image.width) // 2, (box[1] - image.height) // 2))
    return backdrop


# ---------------------------------------------------------------- the poster


def render_poster(
    *, title: str, price: str, invite_url: str, shop_name: str, subtitle: str = "", cover: bytes | None = None
) -> bytes:
    """A promotion poster PNG, 750×1334 (a phone screen, what WeChat users share): the shop's name, the
    product title (Chinese, wrapped over up to 3 lines, ellipsis after), the price ("¥12.30" passed in
    already formatted), an optional subtitle line (e.g. the spec or "自动发货 · 秒到"), the cover image if
    given (bytes of any image Pillow reads; skip it silently if it cannot be read), the invite QR code
    large enough to scan from a screenshot, and a caption under it such as "长按识别二维码 立即购买"."""
    poster = Image.new("RGB", POSTER_SIZE, BG)
    _draw_header(poster, shop_name)
    _draw_card(poster)
    divider_y = _draw_qr_section(poster, invite_url)
    _draw_product(poster, title=title, price=price, subtitle=subtitle, cover=cover, bottom=divider_y - 36)
    buffer = BytesIO()
    poster.save(buffer, format="PNG")
    return buffer.getvalue()


def _draw_header(poster: Image.Image, shop_name: str) -> None:
    """The brand band across the top with the shop's name; the card overlaps its lower part."""
    band = _gradient((POSTER_SIZE[0], HEADER_HEIGHT), BRAND_LIGHT, BRAND_DEEP)
    glow = Image.new("L", band.size, 0)
    ImageDraw.Draw(glow).ellipse((480, -160, 900, 260), fill=40)  # a soft light in the corner
    ImageDraw.Draw(glow).ellipse((-140, 150, 200, 490), fill=26)
    band.paste(Image.new("RGB", band.size, WHITE), mask=glow.filter(ImageFilter.GaussianBlur(2)))
    poster.paste(band, (0, 0))
    draw = ImageDraw.Draw(poster)
    name_font = _fit_font(shop_name, 46, POSTER_SIZE[0] - 120)
    draw.text(
        (POSTER_SIZE[0] / 2, 96),
        ellipsize(shop_name, name_font, POSTER_SIZE[0] - 120),
        font=name_font,
        fill=WHITE,
        anchor="mm",
    )
    tagline_font = load_font(26)
    draw.text(
        (POSTER_SIZE[0] / 2, 148), "好友为你推荐 · 扫码即可下单", font=tagline_font, fill=(255, 232, 218), anchor="mm"
    )


def _draw_card(poster: Image.Image) -> None:
    left, top, right, bottom = CARD_BOX
    shadow = Image.new("L", POSTER_SIZE, 0)
    ImageDraw.Draw(shadow).rounded_rectangle((left + 6, top + 14, right - 6, bottom + 10), radius=28, fill=60)
    poster.paste(Image.new("RGB", POSTER_SIZE, (190, 110, 70)), mask=shadow.filter(ImageFilter.GaussianBlur(16)))
    _paste_rounded(poster, Image.new("RGB", (right - left, bottom - top), WHITE), (left, top), 24)


def _draw_qr_section(poster: Image.Image, invite_url: str) -> int:
    """The QR code and its caption at the foot of the card, under a ticket-style perforation. Returns the
    perforation's y, the bottom of the space left for the product."""
    left, _top, right, bottom = CARD_BOX
    draw = ImageDraw.Draw(poster)
    caption_font = load_font(28)
    caption_y = bottom - 56
    draw.text((POSTER_SIZE[0] / 2, caption_y), QR_CAPTION, font=caption_font, fill=TEXT_2, anchor="mm")
    qr = _poster_qr(invite_url)
    qr_top = caption_y - 52 - qr.height  # at least four modules of white: the quiet zone scanners need
    poster.paste(qr, ((POSTER_SIZE[0] - qr.width) // 2, qr_top))
    divider_y = qr_top - 44
    for x in range(left + 34, right - 34, 20):
        draw.line((x, divider_y, x + 10, divider_y), fill=LINE_2, width=2)
    notch = _rounded_mask((32, 32), 16)  # a smooth circle
    for cx in (left, right):  # the notches of a ticket, in the page colour
        poster.paste(BG, (cx - 16, divider_y - 16, cx + 16, divider_y + 16), notch)
    return divider_y


def _draw_product(
    poster: Image.Image, *, title: str, price: str, subtitle: str, cover: bytes | None, bottom: int
) -> None:
    """Cover, title, subtitle and price, top down; the cover takes what height the words leave."""
    draw = ImageDraw.Draw(poster)
    title_font = load_font(TITLE_SIZE, bold=True)
    lines = wrap_text(title, title_font, CONTENT_WIDTH) or [""]
    words_height = len(lines) * TITLE_LINE_HEIGHT + (58 if subtitle.strip() else 0) + 100
    top = CARD_BOX[1] + CARD_PADDING
    cover_height = max(min(bottom - top - words_height - 30, 420), 160)
    box = (CONTENT_WIDTH, cover_height)
    _paste_rounded(poster, _read_cover(cover, box) or _placeholder(title, box), (CONTENT_LEFT, top), 16)
    y = top + cover_height + 30
    for line in lines:
        draw.text((CONTENT_LEFT, y + TITLE_LINE_HEIGHT / 2), line, font=title_font, fill=TEXT, anchor="lm")
        y += TITLE_LINE_HEIGHT
    if subtitle.strip():
        _draw_pill(draw, subtitle, (CONTENT_LEFT, y + 14))
        y += 58
    _draw_price(draw, price, baseline=y + 86)


def _placeholder(title: str, box: tuple[int, int]) -> Image.Image:
    """Where a product has no picture (most card codes have none): a soft brand panel with the title's first
    character on a white tile, like an app icon."""
    panel = _gradient(box, BRAND_SOFT, (255, 226, 208))
    side = min(box[1] - 60, 180)
    tile = Image.new("RGB", (side, side), WHITE)
    initial = next((char for char in title if not char.isspace()), "卡")
    ImageDraw.Draw(tile).text(
        (side / 2, side / 2), initial.upper(), font=load_font(side * 55 // 100, bold=True), fill=BRAND, anchor="mm"
    )
    panel.paste(tile, ((box[0] - side) // 2, (box[1] - side) // 2), _rounded_mask(tile.size, side // 5))
    return panel


def _draw_pill(draw: ImageDraw.ImageDraw, text: str, xy: tuple[int, int]) -> None:
    """The subtitle as a tag in the brand colour, as the site's .tag-auto."""
    font = load_font(26)
    text = ellipsize(text, font, CONTENT_WIDTH - 36)
    width = font.getlength(text) + 36
    x, y = xy
    draw.rounded_rectangle((x, y, x + width, y + 44), radius=8, fill=BRAND_SOFT)
    draw.text((x + 18, y + 22), text, font=font, fill=BRAND, anchor="lm")


def _draw_price(draw: ImageDraw.ImageDraw, price: str, *, baseline: int) -> None:
    """The price, big and red, its currency sign smaller as on the product page."""
    price = " ".join(price.split())
    sign = price[0] if price[:1] in ("¥", "￥") else ""
    amount = price[len(sign) :].strip()
    sign_font = load_font(40, bold=True)
    sign_width = sign_font.getlength(sign) + 4 if sign else 0
    amount_font = _fit_font(amount, 80, CONTENT_WIDTH - sign_width)
    if sign:
        draw.text((CONTENT_LEFT, baseline), sign, font=sign_font, fill=PRICE, anchor="ls")
    draw.text(
        (CONTENT_LEFT + sign_width, baseline),
        ellipsize(amount, amount_font, CONTENT_WIDTH - sign_width),
        font=amount_font,
        fill=PRICE,
        anchor="ls",
    )
