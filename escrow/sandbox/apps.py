from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "escrow.sandbox"
    label = "sandbox"
    verbose_name = "Sandbox payment provider"
