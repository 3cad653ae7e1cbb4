"""The workbench's URLs, with the CSRF cookie set on pages (the block's scripts send it back)."""
from django.urls import re_path
from django.views.decorators.csrf import ensure_csrf_cookie
from workbench import views
from workbench.urls import urlpatterns as workbench_urlpatterns

urlpatterns = [
    re_path(r"^$", ensure_csrf_cookie(views.index), name="workbench_index"),
    re_path(r"^scenario/(?P<scenario_id>[^/]+)/(?P<view_name>[^/]+)/$",
            ensure_csrf_cookie(views.show_scenario), name="scenario"),
    re_path(r"^scenario/(?P<scenario_id>[^/]+)/$",
            ensure_csrf_cookie(views.show_scenario), name="workbench_show_scenario"),
] + workbench_urlpatterns
