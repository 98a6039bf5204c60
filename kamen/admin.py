from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Admin for records that are evidence (ledgers, audit rows, payments): view them, never edit them."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
