"""Django admin registration: read-mostly views for operators and support staff."""
from django.contrib import admin

from viatique_xblock import models


@admin.register(models.Exam)
class ExamAdmin(admin.ModelAdmin):
    list_display = ("title", "course_key", "usage_key", "released_at", "created_at")
    search_fields = ("title", "course_key", "usage_key")


@admin.register(models.ScanBatch)
class ScanBatchAdmin(admin.ModelAdmin):
    list_display = ("original_name", "exam", "state", "pages_done", "page_count", "created_at")
    list_filter = ("state",)
    search_fields = ("original_name", "sha256")
    raw_id_fields = ("exam",)


@admin.register(models.Copy)
class CopyAdmin(admin.ModelAdmin):
    list_display = ("anonymous_code", "exam", "identity_state", "grading_state", "grader", "total_points")
    list_filter = ("identity_state", "grading_state")
    search_fields = ("anonymous_code", "learner_username", "learner_name")
    raw_id_fields = ("exam",)


@admin.register(models.Page)
class PageAdmin(admin.ModelAdmin):
    list_display = ("id", "exam", "batch", "source_index", "copy", "position", "anomaly")
    list_filter = ("anomaly",)
    raw_id_fields = ("exam", "batch", "copy")


@admin.register(models.QuestionPoints)
class QuestionPointsAdmin(admin.ModelAdmin):
    list_display = ("copy", "question_id", "points", "grader", "updated_at")
    raw_id_fields = ("copy",)


@admin.register(models.Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ("copy", "page", "kind", "question_id", "points", "author")
    raw_id_fields = ("copy", "page")


@admin.register(models.Draft)
class DraftAdmin(admin.ModelAdmin):
    list_display = ("copy", "grader", "version", "updated_at")
    raw_id_fields = ("copy",)


@admin.register(models.RubricItem)
class RubricItemAdmin(admin.ModelAdmin):
    list_display = ("exam", "text", "question_id", "points", "created_by", "version")
    raw_id_fields = ("exam", "group")


@admin.register(models.AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit log is append-only: the admin shows it and changes nothing."""

    list_display = ("created_at", "exam", "action", "actor", "actor_role", "copy_id_ref", "client_ip")
    list_filter = ("action", "actor_role")
    search_fields = ("actor", "action")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
