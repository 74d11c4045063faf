from django.contrib.admin.apps import AdminConfig


class RaamAdminConfig(AdminConfig):
    default_site = "raamcrm.admin_site.RaamAdminSite"
