from __future__ import annotations

from typing import Any

from rest_framework.generics import GenericAPIView
from rest_framework.request import Request

from highseas.accounts.models import User
from highseas.accounts.visibility import Viewer


def viewer_of(request: Request) -> Viewer:
    """The request's visibility facts, computed once and kept on the request."""
    viewer = getattr(request, "_highseas_viewer", None)
    if viewer is None:
        user = request.user
        assert isinstance(user, User)
        viewer = Viewer(user)
        request._highseas_viewer = viewer  # type: ignore[attr-defined]
    return viewer


class ViewerContextMixin(GenericAPIView[Any]):
    def get_serializer_context(self) -> dict[str, Any]:
        context: dict[str, Any] = super().get_serializer_context()
        context["viewer"] = viewer_of(self.request)
        return context
