"""The message centre (消息中心): a member's messages and the shop's announcements, marked read one by
one or all at once, and whether the optional ones are e-mailed."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kamen.parsing import parse_id

from . import inbox
from .models import Message


class EmailPreferenceForm(forms.Form):
    email_rewards = forms.BooleanField(label=gettext_lazy("E-mail me about levels, coupons and points"), required=False)


@login_required
def message_centre(request: HttpRequest) -> HttpResponse:
    page = Paginator(Message.objects.filter(user=request.user), 20).get_page(request.GET.get("page"))
    context = {
        "announcements": inbox.current_announcements(),
        "page": page,
        "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "inbox_messages": page.object_list,
        "preference_form": EmailPreferenceForm(initial={"email_rewards": request.user.email_rewards}),
    }
    response = render(request, "accounts/messages.html", context)
    response["Cache-Control"] = "no-store, private"
    return response


@login_required
@require_POST
def mark_read(request: HttpRequest) -> HttpResponse:
    """Mark one message read (and open what it is about) or, without one, all of them."""
    message_id = parse_id(request.POST.get("message"))
    inbox.mark_read(request.user, message_id=message_id)
    # Where a message leads is the shop's own path, stored with it: never a link the request brings.
    link = Message.objects.filter(user=request.user, pk=message_id).values_list("link", flat=True).first()
    return HttpResponseRedirect(link) if link else redirect("accounts:messages")


@login_required
@require_POST
def email_preferences(request: HttpRequest) -> HttpResponse:
    form = EmailPreferenceForm(request.POST)
    if form.is_valid():
        request.user.email_rewards = form.cleaned_data["email_rewards"]
        request.user.save(update_fields=["email_rewards"])
        messages.success(request, _("Your e-mail settings are saved."))
    return redirect("accounts:messages")
