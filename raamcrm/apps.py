from django.contrib.admin.apps import AdminConfig


class RaamAdminConfig(AdminConfig):
    default_site = "raamcrm.admin_site.RaamAdminSite"

    def ready(self) -> None:
        super().ready()  # autodiscovery: django-otp registers its device admin here
        from django.contrib import admin

        from raamcrm.second_factor import replace_device_admin

        replace_device_admin(admin.site)
