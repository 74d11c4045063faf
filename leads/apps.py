from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = "MG digital leads"

    def ready(self) -> None:
        from leads import checks  # noqa: F401  (registers the system checks)
