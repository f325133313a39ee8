from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

admin.site.site_header = "HighSeas 公海 CRM"
admin.site.site_title = "HighSeas"
handler404 = "highseas.api.routers.not_found"

urlpatterns = [
    path("api/v1/", include("highseas.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("i18n/setlang/", set_language, name="set_language"),
    path("", include("highseas.web.urls")),
]
