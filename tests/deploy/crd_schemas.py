"""JSON schemas for the custom resources in deploy/k8s, which kubernetes-validate does not know.

Only cert-manager's `cert-manager.io/v1` Issuer and Certificate, and only the part of their CRDs
(cert-manager 1.x, `openAPIV3Schema`) these manifests may use: the fields below, with the CRDs' types and
enumerations, and nothing else (additionalProperties: false, like kubernetes-validate's strict mode). A
manifest that needs another field adds it here from the CRD, so a typo cannot pass as an unknown field.
"""

from __future__ import annotations

from typing import Any

import jsonschema

_STRING = {"type": "string"}
_STRINGS = {"type": "array", "items": _STRING}
# metav1.Duration as the CRD accepts it: Go durations such as 2160h, 8h, 30m.
_DURATION = {"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(h|m|s|ms))+$"}
_LABELS = {"type": "object", "additionalProperties": _STRING}

_METADATA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {"name": _STRING, "namespace": _STRING, "labels": _LABELS, "annotations": _LABELS},
}

# Certificate.spec.usages: the CRD's enumeration (x509 key usages and extended key usages).
KEY_USAGES = ["signing", "digital signature", "content commitment", "key encipherment", "key agreement",
              "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any",
              "server auth", "client auth", "code signing", "email protection", "s/mime", "ipsec end system",
              "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc"]

_ISSUER_REF = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {"name": _STRING, "kind": {"enum": ["Issuer", "ClusterIssuer"]}, "group": _STRING},
}

CERTIFICATE_SPEC = {
    "type": "object",
    "additionalProperties": False,
    "required": ["secretName", "issuerRef"],
    "properties": {
        "secretName": _STRING,
        "issuerRef": _ISSUER_REF,
        "commonName": {"type": "string", "maxLength": 64},
        "dnsNames": _STRINGS,
        "ipAddresses": _STRINGS,
        "uris": _STRINGS,
        "emailAddresses": _STRINGS,
        "duration": _DURATION,
        "renewBefore": _DURATION,
        "isCA": {"type": "boolean"},
        "usages": {"type": "array", "items": {"enum": KEY_USAGES}},
        "revisionHistoryLimit": {"type": "integer", "minimum": 1},
        "privateKey": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "algorithm": {"enum": ["RSA", "ECDSA", "Ed25519"]},
                "encoding": {"enum": ["PKCS1", "PKCS8"]},
                "size": {"type": "integer"},
                "rotationPolicy": {"enum": ["Never", "Always"]},
            },
        },
        "subject": {
            "type": "object",
            "additionalProperties": False,
            "properties": {key: _STRINGS for key in ("organizations", "organizationalUnits", "countries",
                                                     "localities", "provinces")},
        },
        "secretTemplate": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"labels": _LABELS, "annotations": _LABELS},
        },
    },
}

ISSUER_SPEC = {
    "type": "object",
    "additionalProperties": False,
    # exactly one issuer type (the CRD allows others: acme, vault, venafi; not used here)
    "minProperties": 1,
    "maxProperties": 1,
    "properties": {
        "selfSigned": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"crlDistributionPoints": _STRINGS},
        },
        "ca": {
            "type": "object",
            "additionalProperties": False,
            "required": ["secretName"],
            "properties": {"secretName": _STRING, "crlDistributionPoints": _STRINGS, "ocspServers": _STRINGS,
                           "issuingCertificateURLs": _STRINGS},
        },
    },
}


def _object(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {"apiVersion": _STRING, "kind": _STRING, "metadata": _METADATA, "spec": spec},
    }


SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("cert-manager.io/v1", "Certificate"): _object(CERTIFICATE_SPEC),
    ("cert-manager.io/v1", "Issuer"): _object(ISSUER_SPEC),
}


def knows(obj: dict[str, Any]) -> bool:
    """True when `obj` is a custom resource described here."""
    return (obj.get("apiVersion"), obj.get("kind")) in SCHEMAS


def validate(obj: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError when `obj` does not fit its schema."""
    jsonschema.validate(obj, SCHEMAS[(obj["apiVersion"], obj["kind"])])
