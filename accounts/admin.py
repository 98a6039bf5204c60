"""Accounts admin: e-mail users, read-only wallets and their append-only ledger, staff credits.

A credit goes through `accounts.services.credit_wallet`; no wallet or ledger line is ever edited here.
"""

import secrets
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm
from unfold.forms import UserChangeForm as ThemedUserChangeForm
from unfold.forms import UserCreationForm as ThemedUserCreationForm

from kamen.admin import ReadOnlyAdmin, RefusesBadLookupsMixin, ShopAdmin
from kamen.money import cny
from kamen.templatetags.money import yuan

from . import alerts, levels, services
from .models import (
    AlertChannel,
    Announcement,
    LevelChange,
    MemberLevel,
    Message,
    PointsAccount,
    PointsEntry,
    StaffAlert,
    User,
    Wallet,
    WalletEntry,
)

admin.site.site_header = gettext_lazy("kamen administration")
admin.site.site_title = gettext_lazy("kamen admin")


# ---------------------------------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------------------------------
class _LowercaseEmailMixin:
    """The manager stores e-mails in lower case; the admin forms must too, or one person gets two accounts."""

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].lower()
        others = User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(_("A user with that e-mail address already exists."))
        return email


class UserCreationForm(_LowercaseEmailMixin, ThemedUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserChangeForm(_LowercaseEmailMixin, ThemedUserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(MemberLevel)
class MemberLevelAdmin(ShopAdmin):
    list_display = ("name", "rank", "discount", "upgrade_at", "upgrade_at_topup", "price", "badge", "member_count")
    ordering = ("rank",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(members_count=Count("members"))

    @admin.display(description=gettext_lazy("members"), ordering="members_count")
    def member_count(self, level: MemberLevel) -> int:
        return level.members_count


@admin.register(LevelChange)
class LevelChangeAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "from_level", "to_level", "reason", "paid_total", "reference", "actor")
    list_filter = ("reason", "to_level")
    list_select_related = ("user", "from_level", "to_level", "actor")
    search_fields = ("user__email", "=reference")
    fields = list_display


@admin.register(User)
class UserAdmin(RefusesBadLookupsMixin, DjangoUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (gettext_lazy("Personal info"), {"fields": ("first_name", "last_name")}),
        (gettext_lazy("Member level"), {"fields": ("level", "paid_total")}),
        (
            gettext_lazy("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (gettext_lazy("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "usable_password", "password1", "password2")}),)
    list_display = ("email", "first_name", "last_name", "level", "is_staff", "is_active", "date_joined", "balance")
    list_select_related = ("wallet", "level")
    # A level set by hand must leave an audit row, which this form would not: read-only here.
    readonly_fields = ("level", "paid_total")
    search_fields = ("email", "first_name", "last_name")
    ordering = ("-date_joined", "-id")
    change_form_template = "admin/accounts/user/change_form.html"

    @admin.display(description=gettext_lazy("balance"))
    def balance(self, user: User) -> str:
        wallet = getattr(user, "wallet", None)
        return yuan(wallet.balance) if wallet else "—"

    def get_urls(self):
        view = self.admin_site.admin_view(self.set_level_view)
        return [path("<int:user_id>/level/", view, name="accounts_user_level"), *super().get_urls()]

    def set_level_view(self, request, user_id: int):
        """Set a member's level by hand, with a note, into the audited level changes; needs `accounts.change_user`."""
        if not request.user.has_perm("accounts.change_user"):
            raise PermissionDenied
        member = get_object_or_404(User.objects.select_related("level"), pk=user_id)
        form = SetLevelForm(request.POST) if request.method == "POST" else SetLevelForm(initial={"level": member.level})
        if form.is_bound and form.is_valid():
            level = form.cleaned_data["level"]
            if levels.set_level(member.pk, level, actor=request.user, note=form.cleaned_data["note"]):
                self.message_user(
                    request,
                    _("%(user)s is now at %(level)s.") % {"user": member, "level": level or _("the lowest level")},
                    messages.SUCCESS,
                )
            else:
                self.message_user(request, _("%(user)s is at that level already.") % {"user": member}, messages.INFO)
            return redirect("admin:accounts_user_change", member.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Member level of %(user)s") % {"user": member},
            "opts": self.opts,
            "member": member,
            "form": form,
        }
        return TemplateResponse(request, "admin/accounts/user/level.html", context)


# ---------------------------------------------------------------------------------------------------
# Wallets and the ledger
# ---------------------------------------------------------------------------------------------------
class WalletCreditForm(forms.Form):
    # One key per rendered form: a double-clicked or re-sent form credits once (the ledger refuses a repeat).
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=32, initial=lambda: secrets.token_hex(16))
    amount = forms.DecimalField(
        label=gettext_lazy("Amount (CNY)"), max_digits=10, decimal_places=2, min_value=Decimal("0.01")
    )
    note = forms.CharField(
        label=gettext_lazy("Note"),
        max_length=WalletEntry._meta.get_field("note").max_length,
        help_text=gettext_lazy("Why the money is credited; the buyer may see it in their ledger."),
    )


class SetLevelForm(forms.Form):
    level = forms.ModelChoiceField(
        label=gettext_lazy("Member level"),
        queryset=MemberLevel.objects.all(),
        required=False,
        empty_label=gettext_lazy("None (the lowest level)"),
    )
    note = forms.CharField(
        label=gettext_lazy("Note"),
        max_length=LevelChange._meta.get_field("note").max_length,
        help_text=gettext_lazy("Why the level is set by hand; kept in the level changes."),
    )


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    list_display = ("user", "current_balance", "updated_at", "credit_link")
    list_select_related = ("user",)
    search_fields = ("user__email",)
    fields = ("user", "balance", "updated_at", "ledger")
    readonly_fields = fields
    change_form_template = "admin/accounts/wallet/change_form.html"

    def get_urls(self):
        view = self.admin_site.admin_view(self.credit_view)
        return [path("credit/<int:user_id>/", view, name="accounts_wallet_credit"), *super().get_urls()]

    @admin.display(description=gettext_lazy("balance"), ordering="balance")
    def current_balance(self, wallet: Wallet) -> str:
        return yuan(wallet.balance)

    @admin.display(description=gettext_lazy("credit"))
    def credit_link(self, wallet: Wallet) -> str:
        url = reverse("admin:accounts_wallet_credit", args=[wallet.user_id])
        return format_html('<a href="{}">{}</a>', url, _("Credit"))

    @admin.display(description=gettext_lazy("ledger"))
    def ledger(self, wallet: Wallet) -> str:
        url = reverse("admin:accounts_walletentry_changelist") + f"?wallet__id__exact={wallet.pk}"
        return format_html('<a href="{}">{}</a>', url, _("%(count)s entries") % {"count": wallet.entries.count()})

    def credit_view(self, request, user_id: int):
        """Credit a user's wallet (creating it if needed); needs `accounts.add_walletentry`."""
        if not request.user.has_perm("accounts.add_walletentry"):
            raise PermissionDenied
        user = get_object_or_404(User, pk=user_id)
        form = WalletCreditForm(request.POST) if request.method == "POST" else WalletCreditForm()
        if form.is_bound and form.is_valid():
            amount = cny(form.cleaned_data["amount"])
            change = services.credit_wallet(
                user,
                amount,
                actor=request.user,
                note=form.cleaned_data["note"],
                reference=f"admin:{form.cleaned_data['request_key']}",
            )
            self.message_user(
                request,
                _("Credited %(amount)s to %(user)s; the balance is now %(balance)s.")
                % {"amount": yuan(amount), "user": user, "balance": yuan(change.wallet.balance)},
                messages.SUCCESS,
            )
            # Redirect after the POST, so reloading the page cannot credit twice.
            return redirect("admin:accounts_wallet_change", change.wallet.pk)
        wallet = Wallet.objects.filter(user=user).first()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Credit wallet of %(user)s") % {"user": user},
            "opts": self.opts,
            "credited_user": user,
            "wallet": wallet,
            "balance": yuan(wallet.balance if wallet else cny(0)),
            "form": form,
        }
        return TemplateResponse(request, "admin/accounts/wallet/credit.html", context)


@admin.register(WalletEntry)
class WalletEntryAdmin(ReadOnlyAdmin):
    """The ledger is append-only: a correction is a new entry, so nothing here changes or deletes one."""

    list_display = (
        "id",
        "wallet_user",
        "kind",
        "entry_amount",
        "entry_balance",
        "reference",
        "note",
        "actor",
        "created_at",
    )
    list_filter = ("kind", "created_at")
    list_select_related = ("wallet__user", "actor")
    search_fields = ("=wallet__user__email", "=reference")
    fields = ("id", "wallet", "kind", "amount", "balance_after", "reference", "note", "actor", "created_at")
    readonly_fields = fields

    @admin.display(description=gettext_lazy("user"), ordering="wallet__user__email")
    def wallet_user(self, entry: WalletEntry) -> User:
        return entry.wallet.user

    @admin.display(description=gettext_lazy("amount"), ordering="amount")
    def entry_amount(self, entry: WalletEntry) -> str:
        return yuan(entry.amount)

    @admin.display(description=gettext_lazy("balance after"))
    def entry_balance(self, entry: WalletEntry) -> str:
        return yuan(entry.balance_after)


@admin.register(PointsAccount)
class PointsAccountAdmin(ReadOnlyAdmin):
    list_display = ("user", "balance", "streak", "last_check_in", "updated_at")
    list_select_related = ("user",)
    search_fields = ("user__email",)


@admin.register(PointsEntry)
class PointsEntryAdmin(ReadOnlyAdmin):
    """The points ledger is append-only, like the wallet's."""

    list_display = ("id", "account", "kind", "points", "balance_after", "reference", "note", "created_at")
    list_filter = ("kind", "created_at")
    list_select_related = ("account__user",)
    search_fields = ("=account__user__email", "=reference")


@admin.register(Announcement)
class AnnouncementAdmin(ShopAdmin):
    list_display = ("title", "published_at", "until", "is_active")
    list_editable = ("is_active",)
    search_fields = ("title",)


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    """What members and guests were told, and whether its e-mail went out."""

    list_display = ("created_at", "email", "kind", "title", "read_at", "emailed_at")
    list_filter = ("kind", "created_at")
    search_fields = ("=email", "key")


class AlertChannelForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        label=gettext_lazy("events"),
        choices=AlertChannel.Event.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = AlertChannel
        fields = ("name", "kind", "target", "secret", "events", "allow_private_address", "is_active")
        widgets = {"target": forms.TextInput(attrs={"size": 80}), "secret": forms.PasswordInput(render_value=True)}


@admin.register(AlertChannel)
class AlertChannelAdmin(ShopAdmin):
    form = AlertChannelForm
    list_display = ("name", "kind", "event_names", "is_active")
    actions = ("send_test_alert",)

    @admin.display(description=gettext_lazy("events"))
    def event_names(self, channel: AlertChannel) -> str:
        names = dict(AlertChannel.Event.choices)
        return "、".join(str(names[event]) for event in channel.events if event in names) or "—"

    @admin.action(description=gettext_lazy("Send a test alert"), permissions=["change"])
    def send_test_alert(self, request, queryset):
        """Send a line to each chosen channel now, so staff see at once whether it arrives."""
        for channel in queryset:
            try:
                alerts.deliver(channel, _("Test alert from the shop: this channel works."))
            except (OSError, ValidationError) as error:
                self.message_user(request, f"{channel}: {error}", messages.ERROR)
            else:
                self.message_user(request, _("%(channel)s: sent.") % {"channel": channel}, messages.SUCCESS)


@admin.register(StaffAlert)
class StaffAlertAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "channel", "event", "text", "sent_at", "attempts", "last_error")
    list_filter = ("event", "channel", "sent_at")
    list_select_related = ("channel",)
