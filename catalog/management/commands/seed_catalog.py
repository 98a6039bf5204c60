"""Demo data for a fresh catalog: categories, ~30 products with stock, member levels, a staff login and a
shopper with balance. `seed_demo` (in distribution) runs it through `seed_orders` and adds what sits
above the catalog (coupons, the points mall, a reseller's team).

Idempotent: everything is looked up before it is created, codes are deterministic so the import skips
them by fingerprint, and the shopper's credit carries a reference the ledger accepts once. A second run
adds nothing and changes nothing.
"""

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import second_factor
from accounts import services as accounts_services
from accounts.models import MemberLevel, User
from catalog import services as catalog_services
from catalog.models import BuyerField, CardCode, Category, LevelPrice, Product, Sku, WholesaleTier
from kamen.money import cny

ADMIN_LOGIN = ("admin@kamen.local", "kamen-admin-2026")
SHOPPER_LOGIN = ("shopper@kamen.local", "kamen-shop-2026")
SHOPPER_CREDIT = cny("500.00")
CREDIT_REFERENCE = "seed_demo"

# (slug, name, children); children are (slug, name).
CATEGORIES = [
    ("game-cards", "游戏点卡", [("tencent", "腾讯"), ("netease", "网易"), ("mihoyo", "米哈游"), ("steam", "Steam")]),
    ("memberships", "影音会员", [("video", "视频"), ("music", "音乐")]),
    ("software", "软件激活", [("office", "办公"), ("system", "系统")]),
    ("phone-credit", "话费充值", [("carrier-cards", "三网话费")]),
]


@dataclass(frozen=True)
class DemoField:
    label: str
    kind: str
    pattern: str = ""
    choices: tuple[str, ...] = ()
    hint: str = ""


@dataclass(frozen=True)
class DemoProduct:
    category: str
    title: str
    skus: list[tuple[str, str]]  # (spec, retail price in yuan)
    style: str  # how its codes look, see `_code`
    hot: bool = False
    manual: bool = False
    status: str = Product.Status.APPROVED
    note: str = ""  # how to redeem, shown beside the codes
    brand: str = ""
    keywords: str = ""
    fields: tuple[DemoField, ...] = ()  # what the buyer fills in at checkout
    wholesale: tuple[tuple[int, str], ...] = ()  # (from quantity, share of retail) for every spec


# (name, rank, share of retail paid, badge, upgrade at paid orders of): 普通会员 is everyone's, guests'
# too; 代理 is never reached by spending.
# (name, rank, price factor, badge, upgrade at paid orders of, price to buy outright)
LEVELS = (
    ("普通会员", 0, "1", "", None, None),
    ("白银", 10, "0.95", "银", "500", None),
    ("黄金", 20, "0.88", "金", "2000", None),
    ("代理", 30, "1", "代", None, "199"),
)
P = DemoProduct
F = DemoField
K = BuyerField.Kind
GENSHIN_SERVERS = ("天空岛（官服）", "世界树（B服）", "美服", "欧服", "亚服", "港澳台服")
HONOR_OF_KINGS_AREAS = ("安卓QQ区", "苹果QQ区", "安卓微信区", "苹果微信区")
PRODUCTS = [
    P(
        "tencent",
        "腾讯Q币卡",
        [("10Q币", "9.80"), ("30Q币", "29.40"), ("50Q币", "49.00"), ("100Q币", "98.00")],
        "pair",
        hot=True,
        wholesale=((10, "0.98"), (50, "0.96")),
        note="登录 pay.qq.com 选择“Q币卡充值”，输入卡号和密码。",
        brand="腾讯",
        keywords="QQ币 Q点 QB",
    ),
    P(
        "tencent",
        "王者荣耀点券",
        [("60点券", "6.00"), ("300点券", "30.00"), ("680点券", "68.00")],
        "redeem",
        hot=True,
        note="在游戏内“商城 - 兑换码”中兑换。",
        brand="腾讯",
        keywords="王者 农药 点券",
    ),
    P(
        "tencent",
        "王者荣耀点券直充",
        [("60点券", "6.00"), ("300点券", "30.00"), ("680点券", "68.00")],
        "none",
        manual=True,
        note="点券直接充到你填写的游戏账号，一般 10 分钟内到账，到账后请在游戏内查收邮件。",
        brand="腾讯",
        keywords="王者 农药 直充 代充",
        fields=(
            F("游戏区服", K.CHOICE, choices=HONOR_OF_KINGS_AREAS),
            F("QQ号 / 微信号", K.GAME_ACCOUNT, hint="登录王者荣耀用的 QQ 号或微信号"),
        ),
    ),
    P("tencent", "和平精英点券", [("60点券", "6.00"), ("300点券", "30.00"), ("680点券", "68.00")], "redeem"),
    P(
        "tencent",
        "QQ超级会员",
        [("1个月", "19.80"), ("3个月", "58.00"), ("12个月", "218.00")],
        "redeem",
        note="登录 QQ 会员官网或手机 QQ“我的 - 会员 - 兑换”，输入兑换码。",
        brand="腾讯",
        keywords="SVIP 超会 QQ会员",
    ),
    P(
        "tencent",
        "QQ超级会员直充",
        [("1个月", "19.80"), ("3个月", "58.00")],
        "none",
        manual=True,
        note="直接开通到你填写的 QQ 号，一般 10 分钟内生效。",
        brand="腾讯",
        keywords="SVIP 超会 QQ会员 直充",
        fields=(F("QQ号", K.QQ, hint="要开通会员的 QQ 号"),),
    ),
    P(
        "netease",
        "网易一卡通",
        [("10元", "9.90"), ("30元", "29.70"), ("50元", "49.50"), ("100元", "99.00")],
        "pair",
        hot=True,
        note="登录 ecard.163.com 充值到网易通行证。",
    ),
    P("netease", "梦幻西游点卡", [("50元", "49.50"), ("100元", "99.00")], "pair"),
    P("netease", "蛋仔派对蛋币卡", [("60蛋币", "6.00"), ("300蛋币", "30.00")], "redeem"),
    P("netease", "永劫无间金块", [("60金块", "6.00"), ("300金块", "30.00")], "redeem", status=Product.Status.PENDING),
    P(
        "mihoyo",
        "原神创世结晶",
        [
            ("60创世结晶", "6.00"),
            ("300+30创世结晶", "30.00"),
            ("980+110创世结晶", "98.00"),
            ("1980+260创世结晶", "198.00"),
        ],
        "redeem",
        hot=True,
        note="在官网兑换页面输入兑换码，登录米哈游通行证领取。",
        brand="米哈游",
        keywords="原神 原石 创世结晶",
    ),
    P("mihoyo", "原神空月祝福", [("30天", "30.00")], "redeem"),
    P(
        "mihoyo",
        "崩坏：星穹铁道古老梦华",
        [("60古老梦华", "6.00"), ("300+30古老梦华", "30.00"), ("980+110古老梦华", "98.00")],
        "redeem",
        hot=True,
    ),
    P("mihoyo", "绝区零菲林底片", [("60菲林底片", "6.00"), ("300+30菲林底片", "30.00")], "redeem"),
    P(
        "mihoyo",
        "原神 UID 代充",
        [("6480创世结晶（UID直充）", "648.00")],
        "none",
        manual=True,
        note="客服按你填写的 UID 和服务器人工充值，一般 30 分钟内到账，到账后在游戏内邮件查收。",
        brand="米哈游",
        keywords="原神 代充 直充 原石",
        fields=(
            F("UID", K.NUMBER, pattern=r"[1-9][0-9]{8}", hint="游戏内“派蒙菜单”左下角的 9 位数字"),
            F("服务器", K.CHOICE, choices=GENSHIN_SERVERS),
        ),
    ),
    P(
        "steam",
        "Steam钱包充值卡",
        [("50元", "53.00"), ("100元", "105.00"), ("200元", "208.00")],
        "steam",
        hot=True,
        note="在 Steam 客户端“账户明细 - 充值钱包”中输入钱包码。",
        brand="Steam",
        keywords="蒸汽 V社 钱包码",
    ),
    P("steam", "黑神话：悟空 Steam激活码", [("标准版", "268.00"), ("数字豪华版", "328.00")], "steam", hot=True),
    P("steam", "艾尔登法环 Steam激活码", [("标准版", "298.00")], "steam"),
    P(
        "video",
        "爱奇艺VIP会员",
        [("黄金VIP月卡", "25.00"), ("黄金VIP季卡", "68.00"), ("黄金VIP年卡", "248.00")],
        "redeem",
        hot=True,
        note="登录爱奇艺，在“我的 - 激活码兑换”中使用。",
    ),
    P("video", "腾讯视频VIP", [("月卡", "25.00"), ("季卡", "68.00"), ("年卡", "238.00")], "redeem", hot=True),
    P("video", "优酷VIP会员", [("月卡", "25.00"), ("季卡", "68.00"), ("年卡", "228.00")], "redeem"),
    P("video", "芒果TV VIP", [("月卡", "22.00"), ("年卡", "198.00")], "redeem"),
    P("video", "哔哩哔哩大会员", [("月卡", "25.00"), ("年卡", "148.00")], "redeem"),
    P("music", "QQ音乐绿钻", [("豪华绿钻月卡", "18.00"), ("豪华绿钻年卡", "180.00")], "redeem"),
    P("music", "网易云音乐黑胶VIP", [("月卡", "15.00"), ("季卡", "45.00"), ("年卡", "158.00")], "redeem", hot=True),
    P("music", "酷狗音乐豪华VIP", [("月卡", "15.00"), ("年卡", "138.00")], "redeem"),
    P(
        "office",
        "Office 365 家庭版",
        [("12个月（6用户）", "399.00")],
        "ms",
        hot=True,
        note="登录 microsoft.com/setup 输入产品密钥，绑定微软账户。",
    ),
    P("office", "WPS超级会员", [("月卡", "30.00"), ("季卡", "79.00"), ("年卡", "179.00")], "redeem"),
    P("office", "百度网盘超级会员", [("月卡", "30.00"), ("年卡", "258.00")], "redeem"),
    P(
        "system",
        "Windows 11 专业版密钥",
        [("零售版", "99.00")],
        "ms",
        hot=True,
        note="设置 - 系统 - 激活 - 更改产品密钥。",
    ),
    P("system", "Windows 11 家庭版密钥", [("零售版", "79.00")], "ms"),
    P("system", "Windows 10 专业版密钥", [("零售版", "89.00")], "ms"),
    P(
        "carrier-cards",
        "中国移动充值卡",
        [("50元", "49.50"), ("100元", "99.00")],
        "carrier",
        note="拨打 13800138000 或在中国移动 App 中用卡号和密码充值。",
        brand="中国移动",
        keywords="话费 充值卡 移动",
    ),
    P(
        "carrier-cards",
        "三网话费快充",
        [("50元", "49.80"), ("100元", "99.50")],
        "none",
        manual=True,
        note="直接充到你填写的手机号，移动、联通、电信均可，一般 30 分钟内到账。",
        keywords="话费 快充 移动 联通 电信",
        fields=(F("手机号", K.PHONE, hint="要充值的 11 位手机号"),),
    ),
    P("carrier-cards", "中国联通充值卡", [("50元", "49.50"), ("100元", "99.00")], "carrier"),
    P("carrier-cards", "中国电信充值卡", [("50元", "49.50"), ("100元", "99.00")], "carrier"),
]

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I, as printed cards avoid them


def _groups(digest: bytes, groups: int, size: int) -> str:
    chars = "".join(ALPHABET[b % len(ALPHABET)] for b in digest[: groups * size])
    return "-".join(chars[i : i + size] for i in range(0, groups * size, size))


def _code(style: str, key: str, index: int) -> str:
    """One import line for the `index`-th code of a SKU: the same inputs always give the same line."""
    digest = hashlib.sha256(f"kamen-demo/{key}/{index}".encode()).digest()
    digits = str(int.from_bytes(digest, "big")).rjust(40, "0")
    if style == "pair":
        return f"{digits[:10]} {digits[10:26]}"
    if style == "carrier":
        return f"{digits[:17]} {digits[17:36]}"
    if style == "steam":
        return _groups(digest, 3, 5)
    if style == "ms":
        return _groups(digest, 5, 5)
    return _groups(digest, 4, 4)


def _description(spec: DemoProduct) -> str:
    if spec.manual:
        return "付款后客服按你填写的信息人工处理，处理结果在订单页查看，也会发邮件通知。"
    return "官方渠道卡密，付款后自动发货，在订单页查看。"


class Command(BaseCommand):
    help = "Fill an empty shop with demo categories, products, card codes and two logins (safe to run twice)."

    def add_arguments(self, parser):
        parser.add_argument("--codes-per-sku", type=int, default=150, help="card codes per card SKU (default 150)")

    def handle(self, *args, codes_per_sku: int, **options):
        if settings.PRODUCTION:
            raise CommandError("The demo creates logins with published passwords; it refuses to run in production.")
        with transaction.atomic():
            levels = self._levels()
            categories = self._categories()
            added_codes = sum(self._product(spec, categories, codes_per_sku) for spec in PRODUCTS)
            self._agency_prices(levels["代理"])
            self._users(levels["白银"])
        self.stdout.write(
            f"Demo shop ready: {Category.objects.count()} categories, {Product.objects.count()} products, "
            f"{Sku.objects.count()} SKUs, {CardCode.objects.count()} card codes ({added_codes} added now).\n"
            f"  staff:   {ADMIN_LOGIN[0]} / {ADMIN_LOGIN[1]}  → /admin/\n"
            f"           2FA secret {second_factor.DEMO_TOTP_SECRET} (or `manage.py demo_totp` prints the code)\n"
            f"  shopper: {SHOPPER_LOGIN[0]} / {SHOPPER_LOGIN[1]}  (wallet ¥{SHOPPER_CREDIT.amount})"
        )

    def _categories(self) -> dict[str, Category]:
        by_slug = {}
        for top_order, (slug, name, children) in enumerate(CATEGORIES):
            top, _ = Category.objects.get_or_create(slug=slug, defaults={"name": name, "sort_order": top_order})
            by_slug[slug] = top
            for order, (child_slug, child_name) in enumerate(children):
                by_slug[child_slug], _ = Category.objects.get_or_create(
                    slug=child_slug, defaults={"name": child_name, "parent": top, "sort_order": order}
                )
        return by_slug

    def _product(self, spec: DemoProduct, categories: dict[str, Category], codes_per_sku: int) -> int:
        """Create the product and its SKUs if missing and top up their demo codes; returns codes added."""
        on_shelf = spec.status == Product.Status.APPROVED
        product, _ = Product.objects.get_or_create(
            category=categories[spec.category],
            title=spec.title,
            defaults={
                "description": _description(spec),
                "instructions": spec.note,
                "brand": spec.brand,
                "keywords": spec.keywords,
                "status": spec.status,
                "is_on_shelf": on_shelf,
                "is_hot": spec.hot,
                "max_per_order": 1 if spec.manual else 10,
            },
        )
        if not product.buyer_fields.exists():
            for order, field in enumerate(spec.fields):
                product.buyer_fields.create(
                    label=field.label,
                    kind=field.kind,
                    pattern=field.pattern,
                    choices="\n".join(field.choices),
                    help_text=field.hint,
                    sort_order=order,
                )
        added = 0
        for order, (name, price) in enumerate(spec.skus):
            kind = Sku.DeliveryKind.MANUAL if spec.manual else Sku.DeliveryKind.CARD_CODES
            sku, _ = Sku.objects.get_or_create(
                product=product,
                name=name,
                defaults={"price": cny(price), "delivery_kind": kind, "sort_order": order},
            )
            for quantity, share in spec.wholesale:
                WholesaleTier.objects.get_or_create(
                    sku=sku, min_quantity=quantity, defaults={"unit_price": cny(Decimal(price) * Decimal(share))}
                )
            if not sku.is_manual:
                key = f"{spec.title}/{name}"
                text = "\n".join(_code(spec.style, key, i) for i in range(codes_per_sku))
                added += catalog_services.import_codes(sku, text).added
        return added

    def _levels(self) -> dict[str, MemberLevel]:
        levels = {}
        for name, rank, discount, badge, upgrade_at, price in LEVELS:
            defaults = {"rank": rank, "discount": Decimal(discount), "badge": badge, "staff_priority": bool(price)}
            if upgrade_at:
                defaults["upgrade_at"] = Decimal(upgrade_at)
            if price:
                defaults["price"] = Decimal(price)
            levels[name], _ = MemberLevel.objects.get_or_create(name=name, defaults=defaults)
        return levels

    def _agency_prices(self, agency: MemberLevel) -> None:
        """Resellers (代理) buy the Q币 cards at a fixed 93% of retail."""
        for sku in Sku.objects.filter(product__title="腾讯Q币卡"):
            LevelPrice.objects.get_or_create(
                sku=sku, level=agency, defaults={"unit_price": cny(sku.price.amount * Decimal("0.93"))}
            )

    def _users(self, shopper_level: MemberLevel) -> None:
        admin = User.objects.filter(email=ADMIN_LOGIN[0]).first()
        if admin is None:
            admin = User.objects.create_superuser(ADMIN_LOGIN[0], ADMIN_LOGIN[1])
        shopper = User.objects.filter(email=SHOPPER_LOGIN[0]).first()
        if shopper is None:
            shopper = User.objects.create_user(SHOPPER_LOGIN[0], SHOPPER_LOGIN[1])
        if shopper.level_id is None:
            shopper.level = shopper_level  # the demo shopper sees member prices
            shopper.save(update_fields=["level"])
        # The admin asks staff for a second factor: the demo's staff login has its authenticator already.
        second_factor.give_authenticator(admin, second_factor.DEMO_TOTP_SECRET)
        # Sign-up confirms addresses by mail; the demo logins are confirmed here so they sign in at once.
        for user in (admin, shopper):
            accounts_services.confirm_email(user)
        # The reference makes the credit happen once, however often the command runs.
        accounts_services.credit_wallet(
            shopper, SHOPPER_CREDIT, actor=None, note="演示账户余额", reference=CREDIT_REFERENCE
        )
