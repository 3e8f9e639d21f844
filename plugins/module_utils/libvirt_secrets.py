# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""libvirt secrets: XML, the value fingerprint, reading, planning and applying changes.

libvirt refuses to read back a private secret's value. To stay idempotent without
it, the value's fingerprint is kept in the secret's own description:

    <user description> [value fingerprint: pbkdf2-sha256:100000:<32 hex digits>]

The fingerprint is PBKDF2-HMAC-SHA256 of the raw value, salted with the secret's
UUID, 100000 iterations, 16 bytes. It is the same for the same value and UUID on
every hypervisor (so it can be compared across hosts and predicted in check mode),
cannot be matched against other secrets' fingerprints, and is slow to guess even for
a weak value; a cephx key has 128 random bits anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import xml.etree.ElementTree as ET
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    AlreadyExistsError,
    InUseError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    binding_call,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_domain_reads import (
    domain_definitions,
    scan_domains,
)

try:
    import libvirt
except ImportError:  # the module reports missing bindings before calling in here
    libvirt = None

# Where the system libvirtd keeps secret values (qemu:///system; libvirt 9 stores them as base64, root only).
SECRETS_DIR = "/etc/libvirt/secrets"
USAGE_ELEMENTS = {"ceph": "name", "iscsi": "target", "volume": "volume", "tls": "name", "vtpm": "name"}
FINGERPRINT_SCHEME = "pbkdf2-sha256"
FINGERPRINT_ITERATIONS = 100000
_FINGERPRINT_RE = re.compile(
    r"\s*\[value fingerprint: (?P<scheme>[a-z0-9-]+):(?P<iterations>[0-9]+):(?P<digest>[0-9a-f]{32})\]\s*$"
)


# --- pure: values, fingerprints, XML -------------------------------------------

def decode_value(value: str, what: str = "value") -> bytes:
    """Raw bytes of a base64 secret value, without echoing it in errors."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError, AttributeError):
        raise InvalidInputError(f"{what} is not valid base64") from None
    if not raw:
        raise InvalidInputError(f"{what} must not be empty")
    return raw


def value_fingerprint(secret_uuid: str, raw_value: bytes, iterations: int = FINGERPRINT_ITERATIONS) -> str:
    """PBKDF2-HMAC-SHA256 of the value salted with the secret's UUID, 32 hex digits."""
    salt = b"limiquantix-libvirt-secret:" + secret_uuid.lower().encode("ascii")
    return hashlib.pbkdf2_hmac("sha256", raw_value, salt, iterations, dklen=16).hex()


def split_description(description: str | None) -> tuple[str | None, dict[str, Any] | None]:
    """(the user's description, the stored fingerprint or None)."""
    if not description:
        return None, None
    match = _FINGERPRINT_RE.search(description)
    if not match:
        return description, None
    user = description[:match.start()] or None
    return user, {
        "scheme": match.group("scheme"),
        "iterations": int(match.group("iterations")),
        "digest": match.group("digest"),
    }


def join_description(user_description: str | None, digest: str | None) -> str | None:
    """The description libvirt stores: the user's text plus the fingerprint marker."""
    if digest is None:
        return user_description
    marker = f"[value fingerprint: {FINGERPRINT_SCHEME}:{FINGERPRINT_ITERATIONS}:{digest}]"
    return f"{user_description} {marker}" if user_description else marker


def fingerprint_matches(secret_uuid: str, stored: dict[str, Any] | None, raw_value: bytes) -> bool:
    """Whether the stored fingerprint was made from ``raw_value``."""
    if not stored or stored["scheme"] != FINGERPRINT_SCHEME:
        return False
    digest = value_fingerprint(secret_uuid, raw_value, stored["iterations"])
    return hmac.compare_digest(digest, stored["digest"])


def build_secret_xml(secret: dict[str, Any]) -> str:
    """``<secret>`` XML from uuid, usage_type, usage_name, description, private, ephemeral."""
    root = ET.Element("secret", {
        "ephemeral": "yes" if secret["ephemeral"] else "no",
        "private": "yes" if secret["private"] else "no",
    })
    ET.SubElement(root, "uuid").text = secret["uuid"]
    if secret.get("description"):
        ET.SubElement(root, "description").text = secret["description"]
    usage = ET.SubElement(root, "usage", {"type": secret["usage_type"]})
    ET.SubElement(usage, USAGE_ELEMENTS[secret["usage_type"]]).text = secret["usage_name"]
    return ET.tostring(root, encoding="unicode")


def parse_secret_xml(xml: str) -> dict[str, Any]:
    """The fields of a ``<secret>`` XML document (description as stored)."""
    root = ET.fromstring(xml)
    usage = root.find("usage")
    usage_type = usage.get("type") if usage is not None else None
    usage_name = None
    if usage is not None and len(usage):
        usage_name = usage[0].text
    return {
        "uuid": (root.findtext("uuid") or "").strip(),
        "usage_type": usage_type,
        "usage_name": usage_name,
        "description": root.findtext("description"),
        "private": root.get("private") == "yes",
        "ephemeral": root.get("ephemeral") == "yes",
    }


def describe_secret(stored: dict[str, Any], used_by: list[dict[str, Any]]) -> dict[str, Any]:
    """What the module returns and diffs: never the value."""
    user_description, fingerprint = split_description(stored.get("description"))
    return {
        "uuid": stored["uuid"],
        "usage_type": stored["usage_type"],
        "usage_name": stored["usage_name"],
        "description": user_description,
        "private": stored["private"],
        "ephemeral": stored["ephemeral"],
        "value_fingerprint": fingerprint["digest"] if fingerprint else None,
        "used_by": sorted(d["name"] for d in used_by),
    }


def secrets_used_by_domain(domain_xml: str) -> list[dict[str, str]]:
    """``<secret type= uuid= usage=>`` references under the disks' ``<auth>`` of a domain."""
    root = ET.fromstring(domain_xml)
    refs = []
    for secret in root.iter("secret"):
        refs.append({k: v for k, v in secret.attrib.items() if k in ("type", "uuid", "usage")})
    return refs


def plan_secret(
    before: dict[str, Any] | None,
    wanted: dict[str, Any],
    value_matches: bool | None,
    force: bool,
    running_users: list[str],
) -> list[str]:
    """Actions to converge a present secret: define, redefine, set_value (pure).

    ``before`` is the stored secret (description as stored) or None; ``wanted`` has the
    stored description to write; ``value_matches`` is None when no value is wanted.
    """
    if before is None:
        return ["define"] + (["set_value"] if value_matches is not None else [])
    needs_redefine = []
    if (before["usage_type"], before["usage_name"]) != (wanted["usage_type"], wanted["usage_name"]):
        needs_redefine.append(
            f"secret {before['uuid']} is already defined for usage {before['usage_type']} "
            f"{before['usage_name']!r}, not {wanted['usage_type']} {wanted['usage_name']!r}"
        )
    for flag in ("private", "ephemeral"):
        if before[flag] != wanted[flag]:
            needs_redefine.append(
                f"the {flag} flag of secret {before['uuid']} is {str(before[flag]).lower()}: libvirt "
                f"cannot change the {flag} flag of an existing secret"
            )
    if needs_redefine:
        if not force:
            raise AlreadyExistsError(
                "; ".join(needs_redefine)
                + ". Set force=true to undefine and redefine the secret (with its value)"
                + (f"; running domains use it: {', '.join(running_users)}" if running_users else "")
            )
        if value_matches is None and before["private"]:
            raise InvalidInputError(
                f"redefining the private secret {before['uuid']} needs its value "
                "(value or value_from_keyring): libvirt does not give a private value back"
            )
        return ["undefine", "define", "set_value"]
    actions = []
    if before["description"] != wanted["description"]:
        actions.append("define")
    if value_matches is False:
        actions.append("set_value")
    return actions


# --- libvirt -------------------------------------------------------------------


@binding_call("look up libvirt secret {secret_uuid}", not_found=None)
def lookup_secret(conn: Any, secret_uuid: str) -> Any:
    """The libvirt secret object, None when no secret has this UUID."""
    return conn.secretLookupByUUIDString(secret_uuid)


@binding_call("read libvirt secret {secret_uuid}", not_found=None)
def secret_xml(secret: Any, secret_uuid: str) -> str | None:
    """The secret's XML, None when it was undefined meanwhile."""
    return secret.XMLDesc(0)


@binding_call("read the usage type of libvirt secret {secret_uuid}")
def secret_usage_type(secret: Any, secret_uuid: str) -> int:
    return secret.usageType()


def get_secret(conn: Any, secret_uuid: str) -> dict[str, Any] | None:
    """The stored secret (description as stored), None when not defined."""
    secret = lookup_secret(conn, secret_uuid)
    xml = secret_xml(secret, secret_uuid) if secret is not None else None
    return parse_secret_xml(xml) if xml is not None else None


@binding_call("look up the libvirt secret for {usage_type} {usage_name!r}", not_found=None)
def uuid_for_usage(conn: Any, usage_type: str, usage_name: str) -> str | None:
    """UUID of the secret with this usage, None when there is none."""
    usage_id = getattr(libvirt, f"VIR_SECRET_USAGE_TYPE_{usage_type.upper()}")
    return conn.secretLookupByUsage(usage_id, usage_name).UUIDString()


@binding_call("read the value of libvirt secret {secret_uuid}", not_found=None)
def read_value(conn: Any, secret_uuid: str) -> bytes | None:
    """The value of a non-private secret, None when it has none."""
    return conn.secretLookupByUUIDString(secret_uuid).value(0)


def _names_secret(ref: dict[str, str], secret: dict[str, Any]) -> bool:
    """Whether a disk's secret reference names this secret (by UUID or usage)."""
    return ref.get("uuid", "").lower() == secret["uuid"] or bool(
        secret.get("usage_name") and ref.get("usage") == secret["usage_name"])


def _secret_references(dom: Any) -> dict[str, Any]:
    """A domain's name, whether it runs, and the secrets its live and persistent definitions name."""
    state, definitions = domain_definitions(dom)
    return {"name": dom.name(), "running": state["running"],
            "refs": [ref for xml in definitions.values() for ref in secrets_used_by_domain(xml)]}


def domains_using_secret(conn: Any, secret: dict[str, Any]) -> list[dict[str, Any]]:
    """Domains whose disks authenticate with this secret (by UUID or usage), in their running
    definition or their persistent config; read through :func:`scan_domains` (a domain
    undefined and defined anew during the scan is still seen)."""
    return [{"name": domain["name"], "running": domain["running"]}
            for domain in scan_domains(conn, _secret_references)
            if any(_names_secret(ref, secret) for ref in domain["refs"])]


@binding_call(lambda arguments: f"define libvirt secret {arguments['secret']['uuid']}")
def define_secret(conn: Any, secret: dict[str, Any]) -> None:
    """Define (or update in place, keeping the value) a secret from its fields."""
    conn.secretDefineXML(build_secret_xml(secret), 0)


@binding_call("set the value of libvirt secret {secret_uuid}")
def set_value(conn: Any, secret_uuid: str, raw_value: bytes) -> None:
    conn.secretLookupByUUIDString(secret_uuid).setValue(raw_value, 0)


@binding_call("undefine libvirt secret {secret_uuid}")
def _undefine(secret: Any, secret_uuid: str) -> None:
    secret.undefine()


def undefine_secret(conn: Any, secret_uuid: str) -> None:
    secret = lookup_secret(conn, secret_uuid)
    if secret is None:
        raise NotFoundError(f"libvirt secret {secret_uuid} does not exist")
    _undefine(secret, secret_uuid)


def refuse_if_running_users(secret_uuid: str, running_users: list[str], doing: str) -> None:
    if running_users:
        raise InUseError(
            f"cannot {doing} libvirt secret {secret_uuid}: running domains use it "
            f"({', '.join(running_users)}); set force=true to do it anyway"
        )


def is_local_uri(uri: str | None) -> bool:
    """Whether a libvirt URI names this host's daemon (no host part: qemu:///system)."""
    return bool(uri) and "://" in uri and uri.split("://", 1)[1].startswith("/")


def stored_secret_value(conn: Any, secret_uuid: str, private: bool, secrets_dir: str = SECRETS_DIR) -> bytes | None:
    """The value a secret holds now, whatever wrote it (None when it has none).

    libvirt gives a private secret's value to QEMU but not through its API: it is read from
    the file where this host's libvirtd keeps it (root only), the same bytes QEMU gets.
    """
    if not private:
        return read_value(conn, secret_uuid)
    path = os.path.join(secrets_dir, f"{secret_uuid}.base64")
    try:
        with open(path, "rb") as handle:
            text = handle.read().strip()
    except FileNotFoundError:
        return None
    except PermissionError:
        raise PermissionDeniedError(
            f"cannot read the value of the private libvirt secret {secret_uuid} ({path}): "
            "run as root (become: true)") from None
    return base64.b64decode(text) if text else None


def value_matches(conn: Any, before: dict[str, Any] | None, secret_uuid: str, raw: bytes | None,
                  stored_fingerprint: dict[str, Any] | None, secrets_dir: str | None = None) -> bool | None:
    """Whether the stored value is ``raw`` (None when no value is wanted).

    A private value is read from ``secrets_dir`` (this host's libvirtd's files) when given and
    readable, so a value changed behind the collection's back (``virsh secret-set-value``) is
    seen; otherwise it is compared with the fingerprint stored in the description.
    """
    if raw is None:
        return None
    if before is None:
        return False
    if not before["private"]:
        return read_value(conn, secret_uuid) == raw
    if secrets_dir and os.access(secrets_dir, os.R_OK | os.X_OK):
        stored = stored_secret_value(conn, secret_uuid, True, secrets_dir)
        return stored is not None and hmac.compare_digest(stored, raw)
    return fingerprint_matches(secret_uuid, stored_fingerprint, raw)
