from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from highseas.accounts.services import may_manage_people


class IsAdminOrReadOnly(BasePermission):
    """Reads for every signed-in user (scoped by the visibility layer); writes for whoever the
    accounts service lets manage people. Asked before input validation, so a wrong role gets
    ``permission_denied`` whatever it sends; the service checks again."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or may_manage_people(user)
