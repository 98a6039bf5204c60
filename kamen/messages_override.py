"""Messages of Django and allauth that their own Simplified Chinese catalogs leave in English.

Marked here so `make messages` keeps them in our catalog, which Django reads before theirs
(LOCALE_PATHS); nothing imports this module.
"""

from django.utils.translation import ngettext_lazy

# Django 5.2's MinimumLengthValidator says it with %d; its zh_Hans catalog has only the %(min_length)d wording.
PASSWORD_TOO_SHORT = ngettext_lazy(
    "This password is too short. It must contain at least %d character.",
    "This password is too short. It must contain at least %d characters.",
    8,
)
