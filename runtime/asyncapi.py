"""The AsyncAPI document of every service, generated from the FastStream apps themselves."""
from __future__ import annotations

import json
from importlib import import_module
from pathlib import Path

from faststream.specification import AsyncAPI

from runtime.config import Settings

SERVICES = ("filing", "settlement", "clearing", "prepayment", "collab")


def service_document(name: str) -> dict:
    service = import_module(f"services.{name}.app").build(Settings(service=name))
    service.asgi()   # registers the subscriber and the channel declarations
    spec = AsyncAPI(service.broker, title=f"yidi {name}", version="1.0.0",
                    description=f"Channels consumed by the {name} service; every message is an Envelope.")
    return spec.to_specification().to_jsonable()


def write_asyncapi(out: str) -> None:
    documents = {name: service_document(name) for name in SERVICES}
    Path(out).write_text(json.dumps(documents, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    channels = sum(len(doc.get("channels", {})) for doc in documents.values())
    print(f"wrote {out}: {len(documents)} services, {channels} channels")
