"""Who may move whose customers: the permission half of the ownership rules."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools.models import Pool


def is_member(viewer: Viewer, pool_id: int | None) -> bool:
    return pool_id is not None and pool_id in viewer.member_pool_ids


def may_manage(viewer: Viewer, customer: Customer) -> bool:
    """Admins manage everything; a manager manages customers owned in their subtree and
    pooled customers of pools they belong to."""
    if viewer.is_admin:
        return True
    if not viewer.user.is_manager:
        return False
    if customer.owner is not None:
        return customer.owner.team_id in viewer.subtree_team_ids
    return is_member(viewer, customer.pool_id)


def may_edit_policies(viewer: Viewer, pool: Pool) -> bool:
    """Admins edit every pool's claim and recycle policies; a manager edits those of the
    pools they administer. Everything else about a pool (name, members, admins, masking) is
    for admins only."""
    if viewer.is_admin:
        return True
    return bool(viewer.user.is_manager) and pool.pk in viewer.admin_pool_ids


def require_manager_of(viewer: Viewer, customer: Customer) -> None:
    if not may_manage(viewer, customer):
        raise HighSeasError(
            ErrorCode.PERMISSION_DENIED, _("Only a manager of this customer may do that.")
        )


def may_work_on(viewer: Viewer, customer: Customer) -> bool:
    """The owner and the customer's managers follow a customer up and move it; so does, for
    follow-ups only, the colleague covering the owner's leave where the pool names a cover
    (``viewer.covers``). For a pooled customer that is nobody (it is claimed or assigned
    first)."""
    if customer.owner_id is None:
        return False
    return (
        customer.owner_id == viewer.user.pk
        or may_manage(viewer, customer)
        or viewer.covers(customer)
    )


def may_move(viewer: Viewer, customer: Customer) -> bool:
    """Release, freeze and transfer: the owner and the managers, never a leave's cover."""
    return customer.owner_id is not None and (
        customer.owner_id == viewer.user.pk or may_manage(viewer, customer)
    )


def require_follow_up(viewer: Viewer, customer: Customer) -> None:
    """Follow-ups (activities, deals, contacts): the owner, the managers, the leave's cover."""
    if customer.owner_id == viewer.user.pk or may_manage(viewer, customer):
        return
    if viewer.covers(customer):
        return
    raise HighSeasError(ErrorCode.NOT_OWNER, _("You do not own this customer."))


def require_owner_or_manager(viewer: Viewer, customer: Customer) -> None:
    if customer.owner_id == viewer.user.pk or may_manage(viewer, customer):
        return
    raise HighSeasError(ErrorCode.NOT_OWNER, _("You do not own this customer."))


def require_receiver(viewer: Viewer, receiver: User) -> None:
    """A manager gives customers to people in their subtree; an admin to anyone active."""
    if not receiver.is_active:
        raise HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("That user is not active."),
            errors={"owner": ["inactive"]},
        )
    if viewer.is_admin or receiver.team_id in viewer.subtree_team_ids:
        return
    raise HighSeasError(ErrorCode.PERMISSION_DENIED, _("You cannot give customers to that user."))


@dataclass(frozen=True)
class RuleAuthority:
    """An assignment rule acting on its own ("the rule #id of pool P acting"), never a user.

    Its permission path (``rule_refusal``) is narrower than any person's: it assigns only
    pooled customers of the pool it belongs to (of any pool when it belongs to none), only to
    the reps its target reaches, who are active and not on leave, and never past a holding cap
    or daily quota (``pools.bulk_assign`` re-checks both; a rule cannot override them). The
    ledger records it with no ``actor`` and ``actor_label`` ``system:rule:<id>``.
    """

    rule_id: int
    name: str
    pool_id: int | None
    reach: frozenset[int]

    @property
    def label(self) -> str:
        return f"system:rule:{self.rule_id}"


def rule_refusal(
    authority: RuleAuthority, pool_id: int | None, receiver_id: int, *, available: bool
) -> HighSeasError | None:
    """``None`` when the rule may give a customer of ``pool_id`` to the receiver, who is
    ``available`` (active, and not on leave today)."""
    if authority.pool_id is not None and pool_id != authority.pool_id:
        return HighSeasError(
            ErrorCode.PERMISSION_DENIED,
            _("A rule assigns only customers of its own pool."),
            rule=authority.rule_id,
        )
    if receiver_id not in authority.reach:
        return HighSeasError(
            ErrorCode.PERMISSION_DENIED,
            _("The rule cannot give customers to that user."),
            rule=authority.rule_id,
        )
    if not available:
        return HighSeasError(
            ErrorCode.VALIDATION_ERROR,
            _("That user is not active."),
            errors={"owner": ["inactive"]},
        )
    return None
