"""Group commit: the single-document operations that a service's concurrent partition workers
issue against one collection, coalesced into one round trip each (成批提交).

Every partition worker handles its records one at a time (order within a partition), but many
partitions are in flight at once; each used to pay its own round trip per read and write. Here
an operation joins the batch that is being gathered while the previous one is on the wire, so
under load one ``find`` with ``$in`` serves every read and one unordered ``bulk_write`` every
write (measured on nx-27017: a bulk of 50 guarded replaces 12x, a ``$in`` of 50 20x the single
rate), and an idle service still answers in one round trip. Each caller gets its own result:
a write another writer beat (duplicate key, version moved on) is ``False`` for that caller
alone, and an error of one operation is raised to its caller only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import bson
from pymongo import InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DocumentTooLarge,
    DuplicateKeyError,
    ExecutionTimeout,
    OperationFailure,
)

T = TypeVar("T")
R = TypeVar("R")

MAX_BATCH = 200  # operations per round trip (nx-27017: 200 guarded replaces ~9,100/s)
DUPLICATE_KEY = 11000
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024  # MongoDB's limit (the embedded server does not enforce it in bulks)


class Coalescer(Generic[T, R]):
    """Runs ``run`` on the items submitted while the previous run was in flight; each caller
    awaits its own item's result (a collection's round trips here, an aggregate's folded writes
    in ``runtime.store``). ``run`` returns one result or exception per item, in order;
    should it raise, every caller of that batch gets the exception."""

    def __init__(
        self,
        run: Callable[[list[T]], Awaitable[list[R | BaseException]]],
        limit: int = MAX_BATCH,
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        self.run, self.limit, self.on_idle = run, limit, on_idle  # on_idle: nothing left to run
        self.pending: list[tuple[T, asyncio.Future[R]]] = []
        self.task: asyncio.Task[None] | None = None
        self.batches = 0  # round trips made, and the operations they carried (for tests and metrics)
        self.operations = 0

    async def __call__(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self.pending.append((item, future))
        if self.task is None:
            self.task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.pending:
                await asyncio.sleep(0)  # callers woken in this turn of the loop join the batch
                batch, self.pending = self.pending[: self.limit], self.pending[self.limit :]
                self.batches, self.operations = self.batches + 1, self.operations + len(batch)
                try:
                    results = await self.run([item for item, _ in batch])
                except Exception as exc:  # the whole round trip failed: every caller sees why
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results):
                    if future.done():  # its caller was cancelled meanwhile
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self.task = None
            if self.on_idle is not None and not self.pending:
                self.on_idle()


class CollectionBatch:
    """One collection's coalesced operations: read by id, version-guarded write, insert-once, keep
    the newest revision."""

    def __init__(self, col: AsyncCollection) -> None:
        self.col = col
        self.find_one: Coalescer[Any, dict | None] = Coalescer(self._find)
        self.write: Coalescer[tuple[int | None, dict], bool] = Coalescer(self._write)
        self.insert_once: Coalescer[tuple[Any, dict], None] = Coalescer(self._insert_once)
        self.keep: Coalescer[tuple[Any, dict, int], None] = Coalescer(self._keep)

    async def owned(self, owner: str) -> list[dict]:
        """Every document whose ``_id`` is ``<owner>:<key>`` (an aggregate's archived items), by a range
        of the ``_id`` index (``;`` follows ``:``), not coalesced: a listing, not a message's read."""
        return [doc async for doc in self.col.find({"_id": {"$gte": f"{owner}:", "$lt": f"{owner};"}}).sort("_id", 1)]

    async def _find(self, ids: list[Any]) -> list[dict | None | BaseException]:
        found = {doc["_id"]: doc async for doc in self.col.find({"_id": {"$in": list(dict.fromkeys(ids))}})}
        return [found.get(doc_id) for doc_id in ids]

    async def _write(self, writes: list[tuple[int | None, dict]]) -> list[bool | BaseException]:
        """``(version, document)``: insert it when ``version`` is None, else replace the stored
        document only if it still has ``version``. ``True`` where it was written."""
        if len(writes) == 1:
            return [await self._write_one(*writes[0])]
        results: list[bool | BaseException] = [True] * len(writes)
        ops, index = [], []  # the bulk's operations, and the write each one is
        for i, (version, new) in enumerate(writes):
            if len(bson.encode(new)) > MAX_DOCUMENT_BYTES:  # a bulk would not say which one is too large
                results[i] = DocumentTooLarge(f"{self.col.name}/{new['_id']}: over {MAX_DOCUMENT_BYTES} bytes")
                continue
            ops.append(InsertOne(new) if version is None else ReplaceOne({"_id": new["_id"], "version": version}, new))
            index.append(i)
        try:
            matched = (await self.col.bulk_write(ops, ordered=False)).matched_count if ops else 0
        except BulkWriteError as exc:
            if exc.details.get("writeConcernErrors"):
                raise
            for error in exc.details["writeErrors"]:
                results[index[error["index"]]] = (
                    False
                    if error["code"] == DUPLICATE_KEY
                    else OperationFailure(error.get("errmsg", ""), error["code"], error)
                )
            matched = exc.details.get("nMatched", 0)
        except (ConnectionFailure, ExecutionTimeout):  # the network: every caller waits and tries again
            raise
        except Exception:  # refused as a whole for one operation's sake: the others must not fail with it
            return [await _outcome(self._write_one(version, new)) for version, new in writes]
        replaces = [i for i, (version, _) in enumerate(writes) if version is not None and results[i] is True]
        if matched < len(replaces):  # some guard failed; the bulk result does not say which
            await self._which_replaced(writes, replaces, results)
        return results

    async def _which_replaced(
        self, writes: list[tuple[int | None, dict]], replaces: list[int], results: list[bool | BaseException]
    ) -> None:
        """A replace took effect when the stored document carries its last inbox mark (written
        by it, or by a later write that started from it)."""
        stored = {
            doc["_id"]: doc
            async for doc in self.col.find(
                {"_id": {"$in": [writes[i][1]["_id"] for i in replaces]}}, {"processed": 1, "version": 1}
            )
        }
        for i in replaces:
            new = writes[i][1]
            doc = stored.get(new["_id"])
            mark = (new.get("processed") or [None])[-1]
            results[i] = bool(doc and doc.get("version", 0) >= new["version"] and mark in (doc.get("processed") or []))

    async def _write_one(self, version: int | None, new: dict) -> bool:
        if version is None:
            try:
                await self.col.insert_one(new)
                return True
            except DuplicateKeyError:
                return False
        result = await self.col.replace_one({"_id": new["_id"], "version": version}, new)
        return result.matched_count == 1

    async def _insert_once(self, docs: list[tuple[Any, dict]]) -> list[None | BaseException]:
        """``(id, document)``: stored unless one with its id exists (an archive: first write wins;
        two upserts of one id that raced leave it stored)."""
        return await self._upserts(
            [UpdateOne({"_id": doc_id}, {"$setOnInsert": doc}, upsert=True) for doc_id, doc in docs]
        )

    async def _keep(self, docs: list[tuple[Any, dict, int]]) -> list[None | BaseException]:
        """``(id, document, revision)``: stored unless one with its id and a revision at least as new
        is (an item archived again after it changed replaces its older copy, never a newer one: the
        upsert of a newer one's id then fails as a duplicate, and there is nothing to do)."""
        return await self._upserts(
            [
                UpdateOne(
                    {"_id": doc_id, "revision": {"$lt": revision}}, {"$set": {**doc, "revision": revision}}, upsert=True
                )
                for doc_id, doc, revision in docs
            ]
        )

    async def _upserts(self, ops: list[UpdateOne]) -> list[None | BaseException]:
        """One unordered bulk of upserts; a duplicate key is no error (see the callers), any other is
        that operation's alone."""
        try:
            await self.col.bulk_write(ops, ordered=False)
        except BulkWriteError as exc:
            if exc.details.get("writeConcernErrors"):
                raise
            results: list[None | BaseException] = [None] * len(ops)
            for error in exc.details["writeErrors"]:
                if error["code"] != DUPLICATE_KEY:
                    results[error["index"]] = OperationFailure(error.get("errmsg", ""), error["code"], error)
            return results
        return [None] * len(ops)


async def _outcome(call: Awaitable[R]) -> R | BaseException:
    try:
        return await call
    except Exception as exc:
        return exc


class Batches:
    """The coalesced operations of every collection of one database, made on first use."""

    def __init__(self) -> None:
        self.by_collection: dict[str, CollectionBatch] = {}

    def __call__(self, col: AsyncCollection) -> CollectionBatch:
        batch = self.by_collection.get(col.full_name)
        if batch is None:
            batch = self.by_collection[col.full_name] = CollectionBatch(col)
        return batch
