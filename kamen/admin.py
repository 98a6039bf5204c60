"""Base classes every admin of the shop uses."""

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError
from djmoney.forms.fields import MoneyField as MoneyFormField
from unfold.admin import ModelAdmin, TabularInline

from kamen.models import StaffAction


class _ValidatedAutocomplete:
    """An autocomplete that re-shows a refused form without querying with ids that cannot be ids.

    Django's widget looks the submitted value up to label it; "²" or "1e999999" for an integer key
    made that lookup raise, and the page with the form's error message became a 500.
    """

    def optgroups(self, name, value, attr=None):
        target = self.field.remote_field.target_field
        return super().optgroups(name, [v for v in value if _converts(target, v)], attr)


class ValidatedAutocompleteSelect(_ValidatedAutocomplete, AutocompleteSelect):
    pass


class ValidatedAutocompleteSelectMultiple(_ValidatedAutocomplete, AutocompleteSelectMultiple):
    pass


def _converts(field, value) -> bool:
    try:
        field.to_python(value)
    except ValidationError:
        return False
    return True


NUMERIC_KEYS = ("AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField")


class RefusesBadLookupsMixin:
    """Bad values in a change list's filters answer as Django's own bad lookups do, not with a 500.

    Django turns a ValueError from its date hierarchy into "invalid lookup" (the list again, with a
    note) but not the OverflowError of year=99999999999, and a list filter's value that the column
    cannot take ("²" for an id) raises while the filter is applied. Both go the same way here.
    """

    def get_object(self, request, object_id, from_field=None):
        """None (Django's "does not exist") for an id that is not ASCII digits where the key is a number.

        Python's int() reads "١٢" or "１２" as 12, so /admin/.../١٢/ would open, and act on, object 12:
        an id is the digits the shop itself writes, nothing else.
        """
        field = self.opts.pk if from_field is None else self.opts.get_field(from_field)
        if field.get_internal_type() in NUMERIC_KEYS and not (object_id.isascii() and object_id.isdigit()):
            return None
        return super().get_object(request, object_id, from_field)

    def get_changelist_instance(self, request):
        try:
            return super().get_changelist_instance(request)
        except (OverflowError, ValueError, ValidationError) as error:
            raise IncorrectLookupParameters(error) from error

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = ValidatedAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = ValidatedAutocompleteSelectMultiple(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ShopAdmin(RefusesBadLookupsMixin, ModelAdmin):
    """The base ModelAdmin of the shop."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(formfield, MoneyFormField) and not formfield.required:
            # django-money builds Money(amount, "") from an optional amount sent without its currency
            # and raises: here a missing currency is "enter a complete value" instead.
            formfield.require_all_fields = False
            formfield.fields[1].required = True
        return formfield


class ReadOnlyMixin:
    """For records that are evidence (ledgers, audit rows, payments, order history): view, never edit."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnlyMixin, ShopAdmin):
    pass


class ShopTabularInline(TabularInline):
    """The base inline of the shop: rows of a table inside a change form, in the admin's theme."""

    hide_title = True


class ReadOnlyInline(ReadOnlyMixin, TabularInline):
    # Rows are read in their columns; the theme's title line above each row would repeat an id.
    hide_title = True
    extra = 0
    can_delete = False
    show_change_link = False


@admin.register(StaffAction)
class StaffActionAdmin(ReadOnlyAdmin):
    """The audit log: who moved money, revealed a secret or changed what the shop sells, and how."""

    list_display = ("created_at", "actor", "kind", "target_label", "note", "ip")
    list_filter = ("kind", ("created_at", admin.DateFieldListFilter))
    list_select_related = ("actor", "target_type")
    search_fields = ("target_label", "target_id", "note", "actor__email", "ip")
    date_hierarchy = "created_at"
    fields = (
        "created_at",
        "actor",
        "kind",
        "target_type",
        "target_id",
        "target_label",
        "before",
        "after",
        "note",
        "ip",
    )


from kamen import jobs_admin, settings_admin  # noqa: E402, F401  (back-office jobs, the shop settings page)
