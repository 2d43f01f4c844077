"""Cosmos DB NoSQL adapter of the document store (``azure-cosmos`` async client).

In Azure it authenticates with Entra ID (``DefaultAzureCredential``: the Function App's managed
identity) because the account has local auth disabled; against the local Cosmos-API server it
uses the well-known emulator key. Optimistic concurrency uses the ETag (``IfNotModified``);
counters use the atomic ``incr`` patch operation, conditioned with a filter predicate.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from azure.core import MatchConditions
from azure.cosmos import PartitionKey, exceptions
from azure.cosmos.aio import ContainerProxy, CosmosClient

from shared.store.base import (
    ConflictError,
    Document,
    Filter,
    Increment,
    NotFoundError,
    PreconditionFailedError,
    StoreError,
    StoreUnavailableError,
    as_filters,
    check_field,
)
from shared.store.catalog import CONTAINERS, container
from shared.store.sqlite import matches

log = logging.getLogger(__name__)

_SYSTEM_FIELDS = ("_rid", "_self", "_attachments", "_lsn")
# The local Cosmos-API server answers a point read of a missing item with HTTP 500 and this
# JavaScript TypeError; real Cosmos DB answers 404. Nothing else produces this text.
_EMULATOR_MISSING_ITEM = "Cannot read properties of undefined"
_WRITE_CONCURRENCY = 16


def _clean(doc: Mapping[str, Any]) -> Document:
    return {k: v for k, v in doc.items() if k not in _SYSTEM_FIELDS}


def _path(field: str) -> str:
    return "c" + "".join(f'["{part}"]' for part in check_field(field).split("."))


def _literal(value: Any) -> str:
    """A JSON literal for a filter predicate (patch predicates take no parameters)."""
    if isinstance(value, bool) or value is None or isinstance(value, int | float | str):
        return json.dumps(value)
    raise ValueError(f"unsupported literal in a patch condition: {value!r}")


def build_query(
    filters: Sequence[Filter], order_by: str | None, descending: bool, limit: int | None
) -> tuple[str, list[dict[str, Any]]]:
    """Translate filters into Cosmos SQL with parameters."""
    clauses: list[str] = []
    params: list[dict[str, Any]] = []
    for i, flt in enumerate(filters):
        name = f"@p{i}"
        if flt.op == "in":
            clauses.append(f"ARRAY_CONTAINS({name}, {_path(flt.field)})")
            params.append({"name": name, "value": list(flt.value)})
            continue
        if flt.op == "contains":
            clauses.append(f"ARRAY_CONTAINS({_path(flt.field)}, {name})")
        elif flt.value is None and flt.op in ("=", "!="):
            path = _path(flt.field)
            clauses.append(
                f"NOT IS_DEFINED({path}) OR IS_NULL({path})"
                if flt.op == "="
                else f"IS_DEFINED({path}) AND NOT IS_NULL({path})"
            )
            continue
        else:
            clauses.append(f"{_path(flt.field)} {flt.op} {name}")
        params.append({"name": name, "value": flt.value})
    top = f"TOP {int(limit)} " if limit is not None else ""
    sql = f"SELECT {top}* FROM c"
    if clauses:
        sql += " WHERE " + " AND ".join(f"({c})" for c in clauses)
    if order_by:
        sql += f" ORDER BY {_path(order_by)} {'DESC' if descending else 'ASC'}"
    return sql, params


class CosmosDocumentStore:
    def __init__(
        self,
        endpoint: str,
        database: str,
        *,
        key: str | None = None,
        credential: Any = None,
        verify_tls: bool = True,
        create_containers: bool = False,
    ) -> None:
        self.endpoint = endpoint
        self.database_name = database
        self._key = key
        self._credential = credential
        self._verify_tls = verify_tls
        self._create_containers = create_containers
        self._client: CosmosClient | None = None
        self._containers: dict[str, ContainerProxy] = {}

    async def open(self) -> None:
        if self._client is not None:
            return
        credential = self._key or self._credential
        if credential is None:
            from azure.identity.aio import DefaultAzureCredential

            credential = self._credential = DefaultAzureCredential()
        self._client = CosmosClient(self.endpoint, credential=credential, connection_verify=self._verify_tls)
        database = self._client.get_database_client(self.database_name)
        if self._create_containers:
            database = await self._client.create_database_if_not_exists(self.database_name)
        for spec in CONTAINERS.values():
            if self._create_containers:
                kwargs: dict[str, Any] = {}
                if spec.default_ttl_s is not None:
                    kwargs["default_ttl"] = spec.default_ttl_s
                self._containers[spec.name] = await database.create_container_if_not_exists(
                    spec.name, partition_key=PartitionKey(path=f"/{spec.partition_key}"), **kwargs
                )
            else:
                self._containers[spec.name] = database.get_container_client(spec.name)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._credential is not None and hasattr(self._credential, "close") and not self._key:
            await self._credential.close()

    def _container(self, name: str) -> ContainerProxy:
        container(name)
        if self._client is None:
            raise StoreUnavailableError("cosmos store is not open")
        return self._containers[name]

    def container_client(self, name: str) -> ContainerProxy:
        """The SDK's container client, for queries the port does not cover (vector search)."""
        return self._container(name)

    async def ping(self) -> None:
        try:
            await self._container("tenants").read()
        except exceptions.CosmosHttpResponseError as exc:
            raise StoreUnavailableError(f"cosmos: {exc.status_code} {exc.message}") from exc
        except Exception as exc:  # connection refused, DNS, TLS
            raise StoreUnavailableError(f"cosmos: {exc}") from exc

    @staticmethod
    def _translate(exc: exceptions.CosmosHttpResponseError, what: str) -> Exception:
        if exc.status_code == 404:
            return NotFoundError(what)
        if exc.status_code == 409:
            return ConflictError(what)
        if exc.status_code == 412:
            return PreconditionFailedError(what)
        return StoreUnavailableError(f"cosmos {exc.status_code} on {what}: {exc.message}")

    async def get(self, container_name: str, id: str, partition_key: str) -> Document | None:
        try:
            return _clean(await self._container(container_name).read_item(id, partition_key=partition_key))
        except exceptions.CosmosResourceNotFoundError:
            return None
        except exceptions.CosmosHttpResponseError as exc:
            if exc.status_code == 500 and _EMULATOR_MISSING_ITEM in str(exc.message):
                return None
            raise self._translate(exc, f"{container_name}/{id}") from exc

    async def create(self, container_name: str, doc: Document) -> Document:
        try:
            return _clean(await self._container(container_name).create_item(self._body(doc)))
        except exceptions.CosmosHttpResponseError as exc:
            raise self._translate(exc, f"{container_name}/{doc.get('id')}") from exc

    async def upsert(self, container_name: str, doc: Document) -> Document:
        try:
            return _clean(await self._container(container_name).upsert_item(self._body(doc)))
        except exceptions.CosmosHttpResponseError as exc:
            raise self._translate(exc, f"{container_name}/{doc.get('id')}") from exc

    async def upsert_many(self, container_name: str, docs: Sequence[Document]) -> None:
        gate = asyncio.Semaphore(_WRITE_CONCURRENCY)

        async def one(doc: Document) -> None:
            async with gate:
                await self.upsert(container_name, doc)

        await asyncio.gather(*(one(doc) for doc in docs))

    async def replace(self, container_name: str, doc: Document, *, if_match: str | None = None) -> Document:
        kwargs: dict[str, Any] = {}
        if if_match is not None:
            kwargs = {"etag": if_match, "match_condition": MatchConditions.IfNotModified}
        try:
            result = await self._container(container_name).replace_item(doc["id"], self._body(doc), **kwargs)
            return _clean(result)
        except exceptions.CosmosHttpResponseError as exc:
            raise self._translate(exc, f"{container_name}/{doc.get('id')}") from exc

    async def delete(self, container_name: str, id: str, partition_key: str) -> bool:
        try:
            await self._container(container_name).delete_item(id, partition_key=partition_key)
            return True
        except exceptions.CosmosResourceNotFoundError:
            return False
        except exceptions.CosmosHttpResponseError as exc:
            raise self._translate(exc, f"{container_name}/{id}") from exc

    async def query(
        self,
        container_name: str,
        where: Mapping[str, Any] | Sequence[Filter] | None = None,
        *,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> list[Document]:
        filters = as_filters(where)
        if any(f.op == "in" and not f.value for f in filters):
            return []
        sql, params = build_query(filters, order_by, descending, limit)
        pk_field = container(container_name).partition_key
        kwargs: dict[str, Any] = {}
        for flt in filters:  # scope to one partition when the filter pins it
            if flt.field == pk_field and flt.op == "=" and flt.value is not None:
                kwargs["partition_key"] = flt.value
        try:
            items = self._container(container_name).query_items(sql, parameters=params, **kwargs)
            return [_clean(item) async for item in items]
        except exceptions.CosmosHttpResponseError as exc:
            raise self._translate(exc, f"query {container_name}") from exc

    async def increment(
        self,
        container_name: str,
        id: str,
        partition_key: str,
        increments: Mapping[str, float],
        *,
        condition: Sequence[Filter] = (),
        defaults: Mapping[str, Any] | None = None,
    ) -> Document:
        ops = [{"op": "incr", "path": f"/{check_field(k)}", "value": v} for k, v in increments.items()]
        predicate = None
        if condition:
            predicate = "FROM c WHERE " + " AND ".join(
                f"{_path(f.field)} {f.op} {_literal(f.value)}" for f in condition
            )
        target = self._container(container_name)
        for _ in range(3):
            try:
                result = await target.patch_item(id, partition_key=partition_key, patch_operations=ops,
                                                 filter_predicate=predicate)
                return _clean(result)
            except exceptions.CosmosResourceNotFoundError:
                if defaults is None:
                    raise NotFoundError(f"{container_name}/{id}") from None
            except exceptions.CosmosHttpResponseError as exc:
                raise self._translate(exc, f"{container_name}/{id}") from exc
            seed: Document = {**defaults, "id": id, container(container_name).partition_key: partition_key}
            if not all(matches(seed, f) for f in condition):
                raise PreconditionFailedError(f"{container_name}/{id}: condition not met")
            for key, amount in increments.items():
                seed[key] = (seed.get(key) or 0) + amount
            try:
                return _clean(await target.create_item(seed))
            except exceptions.CosmosHttpResponseError as exc:
                if exc.status_code != 409:  # someone created it meanwhile: patch again
                    raise self._translate(exc, f"{container_name}/{id}") from exc
        raise StoreUnavailableError(f"{container_name}/{id}: increment did not settle")

    async def increment_many(self, container_name: str, items: Sequence[Increment]) -> list[Document | StoreError]:
        async def one(item: Increment) -> Document | StoreError:
            try:
                return await self.increment(container_name, item.id, item.partition_key, item.increments,
                                            condition=item.condition, defaults=item.defaults)
            except (NotFoundError, PreconditionFailedError) as exc:
                return exc

        return list(await asyncio.gather(*(one(item) for item in items)))

    @staticmethod
    def _body(doc: Document) -> Document:
        return {k: v for k, v in doc.items() if k not in ("_etag", "_ts", *_SYSTEM_FIELDS)}
