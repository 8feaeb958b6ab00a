"""Help-desk articles in English and Chinese, and labelled queries with the articles that should come first."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fixture:
    slug: str
    title: str
    body: str
    language: str
    category: str
    tags: tuple[str, ...]
    internal: bool = False


ARTICLES = [
    Fixture(
        "reset-password",
        "Reset your password",
        """If you forgot your password, open the sign-in page and choose **Forgot password**. We email you a reset
link that works for 30 minutes. Choose a new password of at least 12 characters.

If the email does not arrive, check your spam folder or ask us to send the reset link again.""",
        "en",
        "account",
        ("password", "sign-in", "login"),
    ),
    Fixture(
        "account-locked",
        "Account locked after too many sign-in attempts",
        """After five wrong passwords in a row your account is locked for 15 minutes to protect it. Wait and try
again, or reset your password to unlock it at once. Contact support if it stays locked.""",
        "en",
        "account",
        ("locked", "login", "security"),
    ),
    Fixture(
        "two-factor",
        "Set up two-factor authentication",
        """Two-factor authentication asks for a code from your phone each time you sign in. Open **Settings >
Security**, choose *Enable two-factor*, and scan the QR code with an authenticator app. Keep the backup codes
somewhere safe: you need them if you lose your phone.""",
        "en",
        "account",
        ("2fa", "security", "authenticator"),
    ),
    Fixture(
        "printer-offline",
        "Printer shows offline",
        """When your printer shows *offline*, first turn it off and on again. Check that it is on the same WiFi
network as your computer. On Windows open **Devices and Printers**, right-click the printer and clear *Use
printer offline*. Reinstall the printer driver if it still does not print.""",
        "en",
        "devices",
        ("printer", "offline", "printing"),
    ),
    Fixture(
        "printer-paper-jam",
        "Clear a paper jam",
        """Open the front cover and pull the jammed paper out slowly with both hands. Check the rear tray for torn
pieces. Use paper of the weight the printer supports; damp paper jams more often.""",
        "en",
        "devices",
        ("printer", "paper", "jam"),
    ),
    Fixture(
        "vpn-connect",
        "VPN does not connect",
        """If the VPN client cannot connect, check your internet connection first, then your date and time: a
wrong clock makes the certificate invalid. Update the VPN client to the latest version. Error 809 means your home
router blocks the VPN ports.""",
        "en",
        "network",
        ("vpn", "remote", "connection"),
    ),
    Fixture(
        "wifi-router-reset",
        "Restart or reset your WiFi router",
        """A slow or dropping WiFi connection is often fixed by restarting the router: unplug it for 30 seconds.
A factory reset (hold the reset button for 10 seconds) erases the WiFi name and password you set.""",
        "en",
        "network",
        ("wifi", "router", "internet"),
    ),
    Fixture(
        "email-phone-setup",
        "Set up your email on a phone",
        """On iPhone open **Settings > Mail > Accounts > Add Account**; on Android open the Gmail app and add an
account of type IMAP. Use imap.example.com, port 993 with SSL, and smtp.example.com port 465 for sending mail.""",
        "en",
        "email",
        ("email", "iphone", "android", "imap"),
    ),
    Fixture(
        "download-invoice",
        "Download an invoice",
        """Your invoices are under **Billing > Invoices**. Choose a month and select *Download PDF*. Invoices for
the last seven years are kept. Need a company name or VAT number on the invoice? Add it under Billing details
before the next billing date.""",
        "en",
        "billing",
        ("invoice", "billing", "pdf", "vat"),
    ),
    Fixture(
        "refund-policy",
        "Refunds and returns",
        """You can return a product within 30 days of delivery for a full refund. Start a return from **Orders**,
print the label and drop the parcel at any post office. The refund reaches your card within 5 to 10 business
days after we receive the parcel.""",
        "en",
        "billing",
        ("refund", "return", "money back"),
    ),
    Fixture(
        "update-payment-card",
        "Change your payment card",
        """To pay with another card, open **Billing > Payment methods**, add the new card and make it the default.
An expired card makes the next payment fail; we retry three times over a week before pausing the service.""",
        "en",
        "billing",
        ("payment", "card", "credit card"),
    ),
    Fixture(
        "cancel-subscription",
        "Cancel your subscription",
        """You can cancel at any time under **Billing > Subscription > Cancel**. The service runs until the end of
the period you paid for; nothing more is charged. Cancelling does not delete your data.""",
        "en",
        "billing",
        ("subscription", "cancel", "plan"),
    ),
    Fixture(
        "track-order",
        "Track your order",
        """Every shipped order gets a tracking number by email. Open **Orders**, choose the order and select
*Track parcel* to see where the delivery is. Parcels usually arrive within 3 business days.""",
        "en",
        "orders",
        ("order", "delivery", "tracking", "parcel"),
    ),
    Fixture(
        "change-delivery-address",
        "Change the delivery address of an order",
        """You can change the delivery address until the order ships: open **Orders**, choose the order and edit
the address. Once the parcel has shipped, ask the courier to redirect it with the tracking number.""",
        "en",
        "orders",
        ("address", "delivery", "shipping"),
    ),
    Fixture(
        "app-crashes",
        "The app crashes when it starts",
        """If the mobile app closes right after it opens, update it from the app store, then restart your phone.
Still crashing? Clear the app's cache (Android) or delete and reinstall it (iPhone). Your data is kept on our
servers.""",
        "en",
        "devices",
        ("app", "crash", "mobile"),
    ),
    Fixture(
        "warranty-claim",
        "Make a warranty claim",
        """Devices have a two-year warranty. To claim, open a case with the serial number and a photo of the fault;
we send a technician or a prepaid shipping label. Damage from drops or water is not covered.""",
        "en",
        "devices",
        ("warranty", "repair", "broken"),
    ),
    Fixture(
        "escalation-internal",
        "Escalating a VIP complaint (internal)",
        """Agents: a complaint from a high-value customer goes to the team lead within one hour. Tag the case
*vip-escalation* and note the refund you offered.""",
        "en",
        "internal",
        ("vip", "escalation", "complaint"),
        internal=True,
    ),
    Fixture(
        "zh-reset-password",
        "重置密码",
        """忘记密码时,在登录页面点击 **忘记密码**。我们会向您的邮箱发送重置链接,链接 30 分钟内有效。新密码至少需要
12 个字符。如果没有收到邮件,请检查垃圾邮件文件夹。""",
        "zh",
        "account",
        ("密码", "登录"),
    ),
    Fixture(
        "zh-account-locked",
        "账户被锁定",
        """连续输错五次密码后,为了保护您的账户,账户会被锁定 15 分钟。请稍后再试,或者重置密码立即解锁。""",
        "zh",
        "account",
        ("锁定", "登录", "安全"),
    ),
    Fixture(
        "zh-printer-offline",
        "打印机显示脱机",
        """打印机显示脱机时,先关闭再打开打印机。确认打印机和电脑连接的是同一个无线网络。
在 Windows 中打开 **设备和打印机**,
右键点击打印机并取消 *脱机使用打印机*。仍然无法打印请重新安装驱动程序。""",
        "zh",
        "devices",
        ("打印机", "脱机"),
    ),
    Fixture(
        "zh-download-invoice",
        "下载发票",
        """发票位于 **账单 > 发票**。选择月份后点击 *下载 PDF*。我们保存最近七年的发票。如需在发票上显示公司名称或税号,
请在下一个账单日之前在账单信息中填写。""",
        "zh",
        "billing",
        ("发票", "账单"),
    ),
    Fixture(
        "zh-refund",
        "退款和退货",
        """收货后 30 天内可以退货并获得全额退款。在 **订单** 中发起退货,打印快递单后寄回包裹。我们收到包裹后,
退款会在 5 到 10 个工作日内退回您的银行卡。""",
        "zh",
        "billing",
        ("退款", "退货"),
    ),
    Fixture(
        "zh-change-address",
        "修改订单的收货地址",
        """订单发货前可以修改收货地址:打开 **订单**,选择订单并编辑地址。包裹发货后,请凭快递单号联系快递公司改派。""",
        "zh",
        "orders",
        ("地址", "收货", "配送"),
    ),
    Fixture(
        "zh-track-order",
        "查询物流信息",
        """每个已发货的订单都会通过邮件发送快递单号。打开 **订单**,选择订单并点击 *跟踪包裹* 查看配送进度。包裹通常在
3 个工作日内送达。""",
        "zh",
        "orders",
        ("物流", "快递", "包裹"),
    ),
    Fixture(
        "zh-wifi-router",
        "重启或重置无线路由器",
        """无线网络慢或经常断开时,重启路由器通常可以解决:拔掉电源 30 秒。恢复出厂设置(按住复位键 10 秒)会清除您设置的
无线网络名称和密码。""",
        "zh",
        "network",
        ("无线", "路由器", "网络"),
    ),
    Fixture(
        "zh-cancel-subscription",
        "取消订阅",
        """您可以随时在 **账单 > 订阅 > 取消** 中取消订阅。服务会持续到已付费周期结束,
之后不会再扣费。取消订阅不会删除您的数据。""",
        "zh",
        "billing",
        ("订阅", "取消"),
    ),
    Fixture(
        "zh-change-card",
        "更换付款银行卡",
        """如需使用其他银行卡付款,打开 **账单 > 付款方式**,添加新卡并设为默认。银行卡过期会导致扣款失败。""",
        "zh",
        "billing",
        ("付款", "银行卡", "信用卡"),
    ),
]


@dataclass(frozen=True)
class Labelled:
    query: str
    language: str
    relevant: tuple[str, ...]  # slugs; the first is the one that should come first


QUERIES = [
    Labelled("forgot my password", "en", ("reset-password", "account-locked")),
    Labelled("how do I reset my password", "en", ("reset-password", "account-locked")),
    Labelled("my account is locked", "en", ("account-locked",)),
    Labelled("too many login attempts", "en", ("account-locked", "reset-password")),
    Labelled("two-factor authentication code on my phone", "en", ("two-factor",)),
    Labelled("printer says offline", "en", ("printer-offline",)),
    Labelled("paper stuck in the printer", "en", ("printer-paper-jam", "printer-offline")),
    Labelled("vpn error 809", "en", ("vpn-connect",)),
    Labelled("wifi keeps dropping", "en", ("wifi-router-reset",)),
    Labelled("set up mail on my iphone", "en", ("email-phone-setup",)),
    Labelled("imap settings for android", "en", ("email-phone-setup",)),
    Labelled("where can I download my invoice", "en", ("download-invoice",)),
    Labelled("VAT number on invoice", "en", ("download-invoice",)),
    Labelled("I want a refund", "en", ("refund-policy",)),
    Labelled("return a product", "en", ("refund-policy",)),
    Labelled("my card expired, payment failed", "en", ("update-payment-card",)),
    Labelled("cancel subscription", "en", ("cancel-subscription",)),
    Labelled("where is my parcel", "en", ("track-order", "change-delivery-address")),
    Labelled("tracking number", "en", ("track-order", "change-delivery-address")),
    Labelled("change shipping address", "en", ("change-delivery-address",)),
    Labelled("app crashes on start", "en", ("app-crashes",)),
    Labelled("device broken, warranty repair", "en", ("warranty-claim",)),
    Labelled('"reset link"', "en", ("reset-password",)),
    Labelled("pasword reset", "en", ("reset-password", "account-locked")),
    Labelled("printr ofline", "en", ("printer-offline",)),
    Labelled("subscripton cancelation", "en", ("cancel-subscription",)),
    Labelled("can't connect to the office network from home", "en", ("vpn-connect", "wifi-router-reset")),
    Labelled("money back for a parcel I sent back", "en", ("refund-policy",)),
    Labelled("忘记密码", "zh", ("zh-reset-password", "zh-account-locked")),
    Labelled("账户被锁定了怎么办", "zh", ("zh-account-locked",)),
    Labelled("打印机脱机", "zh", ("zh-printer-offline",)),
    Labelled("如何下载发票", "zh", ("zh-download-invoice",)),
    Labelled("我要退款", "zh", ("zh-refund",)),
    Labelled("修改收货地址", "zh", ("zh-change-address",)),
    Labelled("快递到哪里了", "zh", ("zh-track-order", "zh-change-address")),
    Labelled("路由器无线网络很慢", "zh", ("zh-wifi-router",)),
    Labelled("取消订阅", "zh", ("zh-cancel-subscription",)),
    Labelled("银行卡过期", "zh", ("zh-change-card",)),
    Labelled("退货", "zh", ("zh-refund",)),
]


async def publish_fixtures(session, now) -> dict[str, int]:
    """Publish every fixture article through the service; return their ids by slug."""
    from knowledge_base.models import ArticleStatus, Visibility
    from knowledge_base.service import ArticleDraft, Author, do_create_article

    ids = {}
    for fixture in ARTICLES:
        draft = ArticleDraft(
            title=fixture.title,
            body=fixture.body,
            language=fixture.language,
            category=fixture.category,
            tags=list(fixture.tags),
            visibility=Visibility.INTERNAL if fixture.internal else Visibility.PUBLIC,
            status=ArticleStatus.PUBLISHED,
            slug=fixture.slug,
        )
        article = await do_create_article(session, draft, Author("Sam", 1), now)
        ids[fixture.slug] = article.id or 0
    return ids
