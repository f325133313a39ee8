from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "highseas.api"
    label = "api"
