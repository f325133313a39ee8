from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """Installed only to carry the ``highseas`` management commands."""

    name = "highseas.config"
    label = "config"
