from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "highseas.web"
    label = "web"
