"""Work after commit never turns a committed order into an error page.

The shop's own database connection goes through a loopback proxy in front of PostgreSQL; the test
cuts it the moment the new order commits, before the rest of the request (saving the session,
rendering the answer) has run.
"""

import pytest
from django.db import connection, transaction
from django.db.models.signals import post_save

from kamen.testing import factories
from kamen.testing.outage import TcpProxy
from kamen.testing.pages import guest_checkout
from orders.models import Order

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def database_proxy(transactional_db):
    """Route this process's database connection through a proxy the test can cut."""
    settings = connection.settings_dict
    proxy = TcpProxy((settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432))).start()
    direct = settings["HOST"], settings["PORT"]
    connection.close()
    settings["HOST"], settings["PORT"] = "127.0.0.1", str(proxy.port)
    yield proxy
    proxy.restore() if proxy.is_cut else None
    connection.close()
    settings["HOST"], settings["PORT"] = direct
    proxy.stop()


@pytest.fixture
def cut_when_an_order_commits(database_proxy):
    def cut_after_commit(sender, instance, created, **kwargs):
        if created:
            transaction.on_commit(database_proxy.cut)

    post_save.connect(cut_after_commit, sender=Order)
    yield database_proxy
    post_save.disconnect(cut_after_commit, sender=Order)


def test_a_database_outage_right_after_checkout_commits_is_no_error_page(client, cut_when_an_order_commits):
    # given a guest at checkout, and the database going away as soon as the order is committed
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 3)

    # when the guest places the order
    response = guest_checkout(client, sku, quantity=1)

    # then the answer is the way on to the payment, not a 500
    assert response.status_code == 302
    assert cut_when_an_order_commits.is_cut

    # and once the database is back, this browser still reaches its order: nobody orders twice
    cut_when_an_order_commits.restore()
    connection.close()  # a server closes a broken connection between requests
    order = Order.objects.get()
    assert client.get(response["Location"]).status_code == 302  # payment page → sandbox cashier
    assert client.get(order.get_absolute_url()).status_code == 200
    assert Order.objects.count() == 1
