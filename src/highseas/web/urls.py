from __future__ import annotations

from django.contrib.auth.views import LogoutView
from django.urls import path

from highseas.web import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
]
