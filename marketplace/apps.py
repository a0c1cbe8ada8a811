from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = "Marketplace"

    def ready(self):
        from .bulk import register_lookups
        from .observability import connect_celery_signals

        connect_celery_signals()
        register_lookups()
