"""The console's type-ahead rep picker in Chromium: two typed characters list the matching
reps of the manager's subtree; picking one fills the owner field of the filter and the bulk
bar."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from highseas.accounts.models import Role, User
from highseas.customers.models import Customer
from tests.web.pages import PHONE, fits, in_language, shooter

pytestmark = pytest.mark.django_db(transaction=True)

shoot = shooter("picker-")
LAPTOP = {"width": 1280, "height": 800}


@pytest.fixture
def chens(world: dict[str, Any], make_user: Callable[..., User]) -> dict[str, User]:
    return {
        "east": make_user(Role.REP, "chenjing", display_name="陈静", team=world["east"]),
        "south": make_user(Role.REP, "chendong", display_name="陈东", team=world["south"]),
    }


def _options(page: Any) -> list[str]:
    return [
        " ".join(text.split())
        for text in page.locator("[data-rep-options]:visible [role=option]").all_inner_texts()
    ]


def test_a_manager_types_two_characters_and_picks_a_rep(
    world: dict[str, Any], chens: dict[str, User], sign_in: Any, live_server: Any
) -> None:
    held = world["held_a"][1]
    page = sign_in("mgr_east", **LAPTOP)
    page.goto(f"{live_server.url}/console/customers/")
    assert page.locator("#bulk-owner").is_hidden()  # the full select gives way to the box
    page.check(f"tr[data-customer='{held.pk}'] input[name=ids]")
    box = page.locator("#bulk-owner-q")
    box.press_sequentially("ch", delay=60)
    expect(page.locator("[data-rep-options]:visible [role=option]")).to_have_count(1)
    listed = _options(page)
    assert any(text.startswith("陈静") for text in listed), listed
    assert not any("陈东" in text for text in listed), listed  # another team's rep
    shoot(page, "01-typed-ch")
    page.locator("[data-rep-options]:visible [role=option]", has_text="陈静").click()
    assert page.locator("#bulk-owner").input_value() == str(chens["east"].pk)
    assert box.input_value() == "陈静"
    page.click("[data-bulk-submit]")
    page.locator(".toast.success").last.wait_for()
    assert Customer.objects.get(pk=held.pk).owner_id == chens["east"].pk

    filter_box = page.locator("#t-owner-q")
    filter_box.fill("")
    filter_box.press_sequentially("cj", delay=60)
    expect(page.locator("[data-rep-options]:visible [role=option]")).to_have_count(1)
    page.locator("[data-rep-options]:visible [role=option]", has_text="陈静").click()
    page.click(".filters button[type=submit]")
    page.wait_for_url("**owner=*")
    rows = page.locator("[data-table=team] tbody tr")
    assert rows.count() == 1 and held.name in rows.first.inner_text()
    assert page.locator("#t-owner-q").input_value() == "陈静"


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_the_picker_fits_in_both_languages(
    world: dict[str, Any],
    chens: dict[str, User],
    sign_in: Any,
    live_server: Any,
    language: str,
    size: str,
) -> None:
    page = in_language(sign_in, "mgr_east", language, PHONE if size == "phone" else LAPTOP)
    tag = f"{'zh' if language == 'zh-hans' else 'en'}-{size}"
    page.goto(f"{live_server.url}/console/customers/")
    page.locator("#t-owner-q").press_sequentially("re", delay=60)
    expect(page.locator("[data-rep-options]:visible [role=option]")).to_have_count(2)
    assert [text.split()[0] for text in _options(page)] == ["REP_A", "REP_B"]
    shoot(page, f"02-customers-{tag}")
    fits(page)
    page.goto(f"{live_server.url}/console/sweep/")
    page.locator("#id_owner-q").press_sequentially("陈", delay=60)
    expect(page.locator("[data-rep-options]:visible [role=option]")).to_have_count(1)
    assert [text.split()[0] for text in _options(page)] == ["陈静"]
    shoot(page, f"03-sweep-{tag}")
    fits(page)


def test_a_manager_transfers_from_the_customer_page_with_the_picker(
    world: dict[str, Any], chens: dict[str, User], sign_in: Any, live_server: Any
) -> None:
    held = world["held_a"][1]
    page = sign_in("mgr_east", **LAPTOP)
    page.goto(f"{live_server.url}/customers/{held.pk}/")
    page.click("details.popover:has(#give-owner) > summary")
    page.locator("#give-owner-q").press_sequentially("陈", delay=60)
    expect(page.locator("[data-rep-options]:visible [role=option]")).to_have_count(1)
    shoot(page, "04-customer-give")
    page.locator("[data-rep-options]:visible [role=option]", has_text="陈静").click()
    page.click("details.popover:has(#give-owner) button[type=submit]")
    page.locator(".toast.success").last.wait_for()
    assert Customer.objects.get(pk=held.pk).owner_id == chens["east"].pk


def test_a_manager_names_a_new_customers_owner_with_the_picker(
    world: dict[str, Any], chens: dict[str, User], sign_in: Any, live_server: Any
) -> None:
    page = sign_in("mgr_east", **PHONE)
    page.goto(f"{live_server.url}/customers/new/")
    page.fill("#id_name", "宁波甬江精密有限公司")
    page.locator("#id_owner-q").press_sequentially("cj", delay=60)
    expect(page.locator("[data-rep-options]:visible [role=option]")).to_have_count(1)
    fits(page)
    shoot(page, "05-new-customer-owner-zh-phone")
    page.locator("[data-rep-options]:visible [role=option]", has_text="陈静").click()
    page.click("form button.primary[type=submit]")
    page.wait_for_url("**/customers/*/")
    assert Customer.objects.get(name="宁波甬江精密有限公司").owner_id == chens["east"].pk


def test_the_filters_checkbox_sits_beside_its_words(
    world: dict[str, Any], sign_in: Any, live_server: Any
) -> None:
    """A form's ``label.check`` is a box and its words on one line (a task's done box, also
    called ``check``, once shrank every such label to a 22-pixel square)."""
    page = sign_in("mgr_east", **LAPTOP)
    page.goto(f"{live_server.url}/console/customers/")
    label = page.locator("label.check:has(input[name=due])").bounding_box()
    box = page.locator("input[name=due]").bounding_box()
    assert label is not None and box is not None
    assert label["width"] > box["width"] + 40, label  # the words beside the box
    assert label["height"] < 2 * max(box["height"], 16), label  # on one line
