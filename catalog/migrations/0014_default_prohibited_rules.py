"""The prohibited-goods policy a new shop starts with, and the review queue's dates for products already
pending (their last edit stands in for the submission nobody recorded)."""

from django.db import migrations
from django.db.models import F

# (rule, why, keywords): what Chinese law or the platforms whose goods a 卡盟 sells forbid outright.
# Words are narrow on purpose: "微信号" alone would hit every top-up that asks for the buyer's WeChat id.
DEFAULT_RULES = [
    (
        "虚拟货币",
        "境内禁止虚拟货币兑换、买卖及相关服务（银发〔2021〕237号）。",
        "虚拟货币\n虚拟币\n加密货币\n比特币\n以太坊\n以太币\n泰达币\n莱特币\n狗狗币\nUSDT\nBTC\nETH\nUSDC",
    ),
    (
        "违规账号买卖",
        "出售、出租实名账号或代为解封，违反《网络安全法》实名制要求和平台规则。",
        "账号买卖\n买卖账号\nQQ号出售\n出售QQ号\nQQ号买卖\n微信号出售\n出售微信号\n微信号买卖\n"
        "实名账号\n实名号\n黑号\n解封\n代解封\n接码",
    ),
    (
        "洗钱与盗刷",
        "帮助转移赃款、使用盗刷卡代充属于违法犯罪。",
        "洗钱\n跑分\n代充黑卡\n黑卡代充\n盗刷\n银行卡四件套\n出售银行卡",
    ),
    (
        "赌博",
        "境内禁止赌博、网络博彩及其推广。",
        "赌博\n博彩\n赌场\n百家乐\n六合彩\n时时彩",
    ),
    (
        "外挂与作弊",
        "制作、销售游戏外挂违反《刑法》第二百八十五条及游戏用户协议。",
        "外挂\n作弊器\n透视挂\n自瞄",
    ),
    (
        "身份证件与个人信息",
        "买卖身份证件、公民个人信息违反《个人信息保护法》和《刑法》第二百五十三条之一。",
        "身份证出售\n出售身份证\n身份证信息\n身份证照片\n手持身份证\n个人信息出售\n社工库",
    ),
]


def add_default_rules(apps, schema_editor):
    ProhibitedRule = apps.get_model("catalog", "ProhibitedRule")
    for name, reason, keywords in DEFAULT_RULES:
        ProhibitedRule.objects.get_or_create(name=name, defaults={"reason": reason, "keywords": keywords})


def date_pending_products(apps, schema_editor):
    Product = apps.get_model("catalog", "Product")
    Product.objects.filter(status="pending", submitted_at=None).update(
        submitted_at=F("updated_at"), review_cause="submitted"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0013_review_queue_and_prohibited_rules"),
    ]

    operations = [
        migrations.RunPython(add_default_rules, migrations.RunPython.noop),
        migrations.RunPython(date_pending_products, migrations.RunPython.noop),
    ]
