"""HTTP functions of the OpenAI-compatible API: chat completions and the model list."""

from __future__ import annotations

import azure.functions as func
import orjson
from azurefunctions.extensions.http.fastapi import Request, Response

from functions.http import body_of, error_response, path_segment_after, to_response
from shared.api.errors import ApiError
from shared.runtime import get_platform

bp = func.Blueprint()


@bp.function_name("chat_completions")
@bp.route(route="v1/chat/completions", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def chat_completions(req: Request) -> Response:
    platform = await get_platform()
    return to_response(await platform.gateway.chat(body_of(req, platform), req.headers))


@bp.function_name("azure_chat_completions")
@bp.route(route="openai/deployments/{deployment}/chat/completions", methods=["POST"],
          auth_level=func.AuthLevel.ANONYMOUS)
async def azure_chat_completions(req: Request) -> Response:
    """The Azure OpenAI route shape, so ``AzureOpenAI(azure_endpoint=<gateway>/api)`` clients work too;
    the deployment segment is the model alias."""
    platform = await get_platform()
    deployment = req.path_params.get("deployment") or path_segment_after(req.url.path, "deployments")
    return to_response(await platform.gateway.chat(body_of(req, platform), req.headers, model=deployment))


@bp.function_name("list_models")
@bp.route(route="v1/models", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def list_models(req: Request) -> Response:
    platform = await get_platform()
    try:
        await platform.auth.authenticate(req.headers)
    except ApiError as error:
        return error_response(error)
    data = [{"id": name, "object": "model", "created": 0, "owned_by": "llmops"}
            for name in platform.deployments.model_names()]
    return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")
