from django.urls import path

from . import views

app_name = "distribution"

urlpatterns = [
    path("r/<str:code>/", views.invite, name="invite"),
    path("promote/", views.dashboard, name="dashboard"),
    path("promote/qr.png", views.invite_qr, name="invite_qr"),
    path("promote/bind/", views.bind, name="bind"),
    path("promote/team/", views.team, name="team"),
    path("promote/team/<int:member_id>/", views.team_member, name="team_member"),
    path("promote/commissions/", views.commissions, name="commissions"),
    path("promote/commissions/<int:pk>/", views.commission, name="commission"),
    path("promote/ledger/", views.ledger, name="ledger"),
    path("promote/withdrawals/", views.withdrawals, name="withdrawals"),
    path("promote/withdrawals/<str:number>/", views.withdrawal, name="withdrawal"),
    path("promote/poster/", views.poster, name="poster"),
    path("promote/poster/<int:product_id>.png", views.poster_png, name="poster_png"),
]
