"""``/v1/me/surveys`` (residents answer survey waves) and ``/v1/research/studies`` (researchers of a study).

Researchers are granted per study (``upscale grant UID researcher --study CODE``);
another study answers 403, and they see counts and anonymised exports, never a person.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter
from litestar.response import File

from upscale_api.auth import RESEARCHER, SIGNED_IN
from upscale_api.context import Context
from upscale_api.openapi import NOT_REGISTERED, also, problem
from upscale_api.research import service
from upscale_api.research.structs import (
    AnswersIn,
    AnswersOut,
    ExportIn,
    ExportList,
    ExportOut,
    StudyList,
    StudyOut,
    SurveysOut,
)

StudyCode = Annotated[str, PathParameter(description="The study's code", max_length=64)]
WaveCode = Annotated[str, PathParameter(description="The wave's code", max_length=64)]
ExportId = Annotated[UUID, PathParameter(description="The export's id")]
_NOT_YOURS = ("forbidden", "you are not a researcher of this study")


class SurveyController(Controller):
    path = "/v1/me/surveys"
    tags = ["surveys"]
    guards = [SIGNED_IN]

    @get(
        "/",
        operation_id="listSurveys",
        summary="Survey waves open for you now (studies you take part in)",
        response_description="Open waves with their questions in your language",
        responses={404: problem(NOT_REGISTERED)},
    )
    async def surveys(self, ctx: NamedDependency[Context]) -> SurveysOut:
        return await service.my_surveys(ctx.pool, ctx.uid, datetime.now(UTC))

    @put(
        "/{study:str}/{wave:str}",
        operation_id="answerSurvey",
        summary="Answer an open survey wave (201), or replace your answers (200)",
        description="Every item may be skipped. Answers are kept with the instrument version.",
        response_description="Answered again: your answers replace the earlier ones",
        status_code=200,
        responses={**also(201, AnswersOut, "Answered"), 404: problem(NOT_REGISTERED)},
    )
    async def answer(
        self, study: StudyCode, wave: WaveCode, data: JSONBody[AnswersIn], ctx: NamedDependency[Context]
    ) -> Response[AnswersOut]:
        answers, created = await service.answer(ctx.pool, ctx.uid, study, wave, data, datetime.now(UTC))
        return Response(answers, status_code=201 if created else 200)


class StudyController(Controller):
    path = "/v1/research/studies"
    tags = ["research"]
    guards = [RESEARCHER]

    @get(
        "/",
        operation_id="listStudies",
        summary="The studies you research (admins: all)",
        response_description="Studies by code",
    )
    async def studies(self, ctx: NamedDependency[Context]) -> StudyList:
        return await service.list_studies(ctx.pool, ctx.grants)

    @get(
        "/{study:str}",
        operation_id="getStudy",
        summary="A study with its enrolment, consent and response rates (counts only)",
        description="Counts below the study's min_cell are null, and a second one where one alone would follow "
        "from a total.",
        response_description="The study",
        responses={403: problem(_NOT_YOURS)},
    )
    async def study(self, study: StudyCode, ctx: NamedDependency[Context]) -> StudyOut:
        return await service.study(ctx.pool, ctx.grants, study, datetime.now(UTC))

    @post(
        "/{study:str}/exports",
        operation_id="startExport",
        summary="Start an anonymised export of the study (a job)",
        description="The job runs in the worker; follow it at `exports/{export_id}`. Every export is kept in the "
        "audit log with who asked and when. It fails closed, with a report in `failure`, when the k-anonymity "
        "gate would leave out more participants than the study allows.",
        response_description="Queued",
        status_code=202,
        responses={403: problem(_NOT_YOURS)},
    )
    async def start_export(
        self, study: StudyCode, data: JSONBody[ExportIn], ctx: NamedDependency[Context]
    ) -> ExportOut:
        return await service.start_export(ctx.pool, ctx.grants, ctx.uid, study, data)

    @get(
        "/{study:str}/exports",
        operation_id="listExports",
        summary="The study's exports, newest first (the audit log)",
        response_description="Up to 100 exports",
        responses={403: problem(_NOT_YOURS)},
    )
    async def exports(self, study: StudyCode, ctx: NamedDependency[Context]) -> ExportList:
        return await service.list_exports(ctx.pool, ctx.grants, study)

    @get(
        "/{study:str}/exports/{export_id:uuid}",
        operation_id="getExport",
        summary="An export's status and progress; its files once done",
        response_description="The export",
        responses={403: problem(_NOT_YOURS)},
    )
    async def export(self, study: StudyCode, export_id: ExportId, ctx: NamedDependency[Context]) -> ExportOut:
        return await service.get_export(ctx.pool, ctx.grants, study, export_id)

    @get(
        "/{study:str}/exports/{export_id:uuid}/files/{name:str}",
        operation_id="downloadExportFile",
        summary="Download one file of a finished export",
        response_description="The file",
        media_type="application/octet-stream",
        responses={
            403: problem(_NOT_YOURS),
            409: problem(("rule-violation", "the export is not done")),
        },
    )
    async def file(
        self,
        study: StudyCode,
        export_id: ExportId,
        name: Annotated[str, PathParameter(description="A file name the export lists", max_length=100)],
        ctx: NamedDependency[Context],
    ) -> File:
        path = await service.export_file(ctx.pool, ctx.grants, study, export_id, name)
        return File(path=path, filename=path.name)
