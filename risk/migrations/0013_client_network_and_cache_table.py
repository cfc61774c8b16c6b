"""Fill the client network of existing attempts, and create the database cache's table.

The signup throttles count in Django's default cache. When that is a database cache, its table
is created here, so that `migrate` alone sets a site up (createcachetable skips a table that
exists, and does nothing for other cache backends).
"""

import ipaddress

from django.core.management import call_command
from django.db import migrations


def network_key(ip):
    # The same as risk.client_ip.network_key, frozen here as migrations must be.
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return str(address)


def fill_client_network(apps, schema_editor):
    Attempt = apps.get_model("risk", "SignupAttempt")
    rows = Attempt.objects.filter(client_network="").exclude(client_ip=None).only("client_ip")
    batch = []
    for attempt in rows.iterator(chunk_size=2000):
        attempt.client_network = network_key(attempt.client_ip)
        batch.append(attempt)
        if len(batch) == 2000:
            Attempt.objects.bulk_update(batch, ["client_network"])
            batch = []
    Attempt.objects.bulk_update(batch, ["client_network"])


def create_cache_tables(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("risk", "0012_storable_text_and_client_network")]

    operations = [
        migrations.RunPython(fill_client_network, migrations.RunPython.noop),
        migrations.RunPython(create_cache_tables, migrations.RunPython.noop),
    ]
