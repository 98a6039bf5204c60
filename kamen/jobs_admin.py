"""Back-office jobs in admin: each staff member's own jobs, a page with a progress bar, and the download.

Staff see and download only the jobs they asked for (superusers see all), whatever model permissions
they hold: an export of member data or card secrets goes to the one who asked, and nobody else.
"""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.http import FileResponse, Http404, HttpRequest, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from kamen import jobs
from kamen.admin import ReadOnlyAdmin
from kamen.models import AdminJob


def _job_id(object_id: str) -> int:
    object_id = unquote(object_id)
    if not (object_id.isascii() and object_id.isdigit()):
        raise Http404
    return int(object_id)


def job_status(job: AdminJob) -> dict:
    """What the job page's script polls for."""
    return {
        "state": job.state,
        "state_label": str(job.get_state_display()),
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "finished": job.is_finished,
        "summary": job.result.get("summary", ""),
    }


@admin.register(AdminJob)
class AdminJobAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "label", "state", "progress", "requested_by", "created_at", "finished_at")
    list_filter = ("kind", "state")
    list_select_related = ("requested_by",)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request: HttpRequest, obj: AdminJob | None = None) -> bool:
        if not (request.user.is_active and request.user.is_staff):
            return False
        return obj is None or obj.requested_by_id == request.user.pk or request.user.is_superuser

    def get_queryset(self, request: HttpRequest):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(requested_by=request.user)

    def get_urls(self):
        # admin_view also marks every answer never_cache: the status is always fresh, the file never kept.
        status = self.admin_site.admin_view(self.status_view)
        download = self.admin_site.admin_view(self.download_view)
        return [
            path("<path:object_id>/status/", status, name="kamen_adminjob_status"),
            path("<path:object_id>/download/", download, name="kamen_adminjob_download"),
            *super().get_urls(),
        ]

    @admin.display(description=_("what"))
    def label(self, job: AdminJob) -> str:
        return job.parameters.get("label") or job.parameters.get("sku_label", "")

    @admin.display(description=_("progress"))
    def progress(self, job: AdminJob) -> str:
        return f"{job.done} / {job.total}"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The job page: a progress bar while it runs, then its result and, for an export, the file."""
        job = jobs.job_for_viewer(request.user, _job_id(object_id))
        context = {
            **self.admin_site.each_context(request),
            "title": str(job),
            "opts": self.opts,
            "job": job,
            "label": self.label(job),
            "status_url": reverse("admin:kamen_adminjob_status", args=[job.pk]),
            "download_url": reverse("admin:kamen_adminjob_download", args=[job.pk]) if job.output_file else "",
        }
        return TemplateResponse(request, "admin/kamen/adminjob/job.html", context)

    def status_view(self, request, object_id: str):
        job = jobs.job_for_viewer(request.user, _job_id(object_id))
        return JsonResponse(job_status(job))

    def download_view(self, request, object_id: str):
        """The job's file, as an attachment nobody caches, to the one who asked for it (or a superuser)."""
        job = jobs.job_for_viewer(request.user, _job_id(object_id))
        if not job.output_file:
            raise Http404
        try:
            handle = jobs.private_storage().open(job.output_file, "rb")
        except FileNotFoundError:
            raise Http404 from None
        response = FileResponse(handle, as_attachment=True, filename=job.file_name or f"job-{job.pk}")
        response["Cache-Control"] = "no-store"
        return response
