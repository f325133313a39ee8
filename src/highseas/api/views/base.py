from __future__ import annotations

from typing import Any

from rest_framework.generics import GenericAPIView

from highseas.accounts.visibility import viewer_of

__all__ = ["ViewerContextMixin", "viewer_of"]


class ViewerContextMixin(GenericAPIView[Any]):
    def get_serializer_context(self) -> dict[str, Any]:
        context: dict[str, Any] = super().get_serializer_context()
        context["viewer"] = viewer_of(self.request)
        return context
