app_name = "escrow"

urlpatterns = []
