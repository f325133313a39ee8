"""``/api/v1/imports/``: upload and preview a file, commit it, read the job and its rows
(``intake.imports``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from highseas.api.serializers.imports import (
    ImportInput,
    ImportOutput,
    ImportRowOutput,
    ImportRowsInput,
)
from highseas.api.views.base import viewer_of
from highseas.intake.imports import (
    commit_import,
    import_at_once,
    import_job,
    import_rows,
    import_summary,
    preview_import,
)


class ImportView(APIView):
    """Upload a CSV (UTF-8 or GBK) or XLSX file: every row is planned and the plan returned
    (``dry_run``, the default); with ``dry_run`` false the file is applied at once, each row's
    outcome stored as its plan (``import_at_once``)."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": ImportInput}, responses={201: ImportOutput})
    def post(self, request: Request) -> Response:
        viewer = viewer_of(request)
        data = ImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        upload = given["file"]
        start = preview_import if given["dry_run"] else import_at_once
        job = start(
            viewer,
            file_name=upload.name or "upload",
            content=upload.read(),
            pool_id=given["pool"],
            mapping=given["mapping"],
            on_duplicate=given["on_duplicate"],
            history=given["history"],
            override_cap=given["override_cap"],
        )
        return Response(import_summary(job), status=201)


class ImportDetailView(APIView):
    @extend_schema(responses={200: ImportOutput})
    def get(self, request: Request, pk: int) -> Response:
        return Response(import_summary(import_job(viewer_of(request), pk)))


class ImportCommitView(APIView):
    """Run a previewed import exactly as previewed (or refuse with ``state_conflict``);
    committing an unfinished import resumes it, a finished one changes nothing."""

    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(request=None, responses={200: ImportOutput})
    def post(self, request: Request, pk: int) -> Response:
        return Response(import_summary(commit_import(viewer_of(request), pk)))


class ImportRowsView(APIView):
    """The job's rows in line order, ``limit`` at a time after ``after_line``."""

    @extend_schema(parameters=[ImportRowsInput], responses={200: ImportRowOutput(many=True)})
    def get(self, request: Request, pk: int) -> Response:
        data = ImportRowsInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        rows = import_rows(viewer_of(request), pk, **data.validated_data)
        return Response(ImportRowOutput(rows, many=True).data)
