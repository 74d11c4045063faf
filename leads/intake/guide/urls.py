from django.urls import path

from leads.intake.guide import views

urlpatterns = [
    path("integration/", views.integration_index, name="integration-index"),
    path("integration/<slug:slug>/", views.integration_guide, name="integration-guide"),
]
