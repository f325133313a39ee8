"""Existing customers' provinces and cities in their one spelling (浙江省 → 浙江, 杭州市 →
杭州), as ``customers.regions`` now writes them on every create and edit."""

from typing import Any

from django.db import migrations


def normalize(apps: Any, schema_editor: Any) -> None:
    from highseas.customers.regions import normalize_city, normalize_province

    customer = apps.get_model("customers", "Customer")
    pairs = customer.objects.values_list("province", "city").distinct()
    for province, city in list(pairs):
        new_province = normalize_province(province)
        new_city = normalize_city(city, new_province)
        if (new_province, new_city) != (province, city):
            customer.objects.filter(province=province, city=city).update(
                province=new_province, city=new_city
            )


class Migration(migrations.Migration):
    dependencies = [("customers", "0014_public_search_settings")]

    operations = [migrations.RunPython(normalize, migrations.RunPython.noop, elidable=True)]
