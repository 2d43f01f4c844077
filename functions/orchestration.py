"""HTTP functions of the orchestration layer: embeddings, the Responses API, conversations, one model."""

from __future__ import annotations

from typing import Any

import azure.functions as func
import orjson
from azurefunctions.extensions.http.fastapi import Request, Response

from functions.http import body_of, error_response, path_segment_after, to_response
from shared.api.errors import ApiError
from shared.api.schemas import decode_json_object
from shared.runtime import get_platform

bp = func.Blueprint()


@bp.function_name("embeddings")
@bp.route(route="v1/embeddings", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def embeddings(req: Request) -> Response:
    platform = await get_platform()
    return to_response(await platform.gateway.embeddings(body_of(req, platform), req.headers))


@bp.function_name("azure_embeddings")
@bp.route(route="openai/deployments/{deployment}/embeddings", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def azure_embeddings(req: Request) -> Response:
    """Azure OpenAI's route shape: the deployment segment is the embeddings model alias."""
    platform = await get_platform()
    deployment = req.path_params.get("deployment") or path_segment_after(req.url.path, "deployments")
    return to_response(await platform.gateway.embeddings(body_of(req, platform), req.headers, model=deployment))


def _memory_of(platform: Any) -> Any:
    orchestration = platform.gateway.steps.orchestration
    if orchestration is None or orchestration.memory is None:
        raise ApiError.not_found("This gateway has no conversation memory.", code="unsupported")
    return orchestration.memory


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


@bp.function_name("create_conversation")
@bp.route(route="v1/conversations", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def create_conversation(req: Request) -> Response:
    """A new conversation for the caller's tenant (and ``user``); ``metadata`` up to 16 string pairs."""
    platform = await get_platform()
    try:
        caller = await platform.auth.authenticate(req.headers)
        raw = await body_of(req, platform)(platform.settings.max_body_bytes)
        body = decode_json_object(raw) if raw.strip() else {}
        user, metadata = body.get("user"), body.get("metadata") or {}
        if user is not None and not isinstance(user, str):
            raise ApiError.bad_request("'user' must be a string.", param="user", code="invalid_value")
        if not isinstance(metadata, dict) or len(metadata) > 16 or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise ApiError.bad_request("'metadata' must be at most 16 string key/value pairs.", param="metadata",
                                       code="invalid_value")
        conversation = await _memory_of(platform).create(caller.principal.tenant_id, caller.principal.app_id, user,
                                                         metadata=metadata)
    except ApiError as error:
        return error_response(error)
    return _json(conversation.public(), 201)


async def _owned(req: Request) -> tuple[Any, Any, str, str | None]:
    platform = await get_platform()
    caller = await platform.auth.authenticate(req.headers)
    conversation_id = req.path_params.get("conversation_id") or path_segment_after(req.url.path, "conversations")
    return platform, caller, conversation_id, req.query_params.get("user")


@bp.function_name("conversation")
@bp.route(route="v1/conversations/{conversation_id}", methods=["GET", "DELETE"],
          auth_level=func.AuthLevel.ANONYMOUS)
async def conversation(req: Request) -> Response:
    """``GET`` the conversation's summary, ``DELETE`` it with everything stored for it (``?user=`` scopes it)."""
    from shared.conversations.memory import ConversationNotFoundError

    try:
        platform, caller, conversation_id, user = await _owned(req)
        memory = _memory_of(platform)
        try:
            if req.method == "DELETE":
                await memory.delete(caller.principal.tenant_id, conversation_id, user)
                return _json({"id": conversation_id, "object": "conversation.deleted", "deleted": True})
            return _json((await memory.get(caller.principal.tenant_id, conversation_id, user)).public())
        except ConversationNotFoundError:
            raise ApiError.not_found(f"No conversation '{conversation_id}' (for this user).",
                                     param="conversation_id", code="conversation_not_found") from None
    except ApiError as error:
        return error_response(error)


@bp.function_name("get_model")
@bp.route(route="v1/models/{model_id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def get_model(req: Request) -> Response:
    """One model a client may send as ``model`` (chat aliases, ``auto``, embeddings deployments)."""
    platform = await get_platform()
    try:
        await platform.auth.authenticate(req.headers)
        model_id = req.path_params.get("model_id") or path_segment_after(req.url.path, "models")
        known = {*platform.deployments.model_names(), *(d.alias for d in platform.deployments.by_tier("embeddings"))}
        if model_id not in known:
            raise ApiError.not_found(f"The model '{model_id}' does not exist.", param="model",
                                     code="model_not_found")
    except ApiError as error:
        return error_response(error)
    return _json({"id": model_id, "object": "model", "created": 0, "owned_by": "llmops"})


@bp.function_name("responses")
@bp.route(route="v1/responses", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def responses(req: Request) -> Response:
    platform = await get_platform()
    return to_response(await platform.gateway.responses(body_of(req, platform), req.headers))


@bp.function_name("azure_responses")
@bp.route(route="openai/responses", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def azure_responses(req: Request) -> Response:
    """Azure OpenAI's route shape (``AzureOpenAI(...).responses.create``; the model is in the body)."""
    platform = await get_platform()
    return to_response(await platform.gateway.responses(body_of(req, platform), req.headers))


@bp.function_name("stored_response")
@bp.route(route="v1/responses/{response_id}", methods=["GET", "DELETE"], auth_level=func.AuthLevel.ANONYMOUS)
async def stored_response(req: Request) -> Response:
    """``GET`` a stored response, ``DELETE`` it (``?user=`` scopes it, as for conversations)."""
    from shared.conversations.responses import ResponseNotFoundError

    platform = await get_platform()
    try:
        caller = await platform.auth.authenticate(req.headers)
        response_id = req.path_params.get("response_id") or path_segment_after(req.url.path, "responses")
        store = platform.gateway.response_store
        if store is None:
            raise ApiError.not_found("This gateway stores no responses.", code="unsupported")
        user = req.query_params.get("user")
        try:
            if req.method == "DELETE":
                await store.delete(caller.principal.tenant_id, response_id, user)
                return _json({"id": response_id, "object": "response.deleted", "deleted": True})
            return _json(await store.get(caller.principal.tenant_id, response_id, user))
        except ResponseNotFoundError:
            raise ApiError.not_found(f"No stored response '{response_id}'.", param="response_id",
                                     code="response_not_found") from None
    except ApiError as error:
        return error_response(error)
