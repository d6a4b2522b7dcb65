"""Just enough of `kustomize build` for deploy/k8s, so the tests need no kustomize binary.

Supported kustomization fields: `resources` (files, or folders with a kustomization.yaml), `patches`
(strategic-merge patch files, one object each, found by kind and name), `images` (name -> newName,
newTag, digest) and `namespace`. Anything else raises Unsupported instead of being skipped: a
manifest change that needs more of kustomize makes the tests say so.

Strategic merge, the part used here: maps merge key by key, `null` deletes, and a list merges by the
key Kubernetes declares for it (containers by name, volumeMounts by mountPath, ...) or is replaced
whole where Kubernetes replaces it (Ingress rules and tls, args, command). A list field missing from
both tables raises Unsupported.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED_FIELDS = {"apiVersion", "kind", "resources", "patches", "images", "namespace"}
CLUSTER_SCOPED_KINDS = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass",
                        "CustomResourceDefinition", "PriorityClass"}
# patchMergeKey of the list fields patched here (k8s.io/api types), and the lists replaced whole
# (no patch strategy in k8s.io/api: Ingress rules and tls, a NetworkPolicy's ingress and egress rules).
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
              "volumeMounts": "mountPath", "topologySpreadConstraints": "topologyKey"}
REPLACED_LISTS = {"rules", "tls", "hosts", "args", "command", "ingress", "egress"}


class Unsupported(ValueError):
    """The kustomization uses something this loader does not implement."""


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    """The non-empty YAML documents of a file."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def build(folder: Path) -> list[dict[str, Any]]:
    """The objects `kustomize build folder` would print (for the fields listed above)."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED_FIELDS
    if unknown:
        raise Unsupported(f"{folder}/kustomization.yaml: fields {sorted(unknown)} are not implemented")
    objects: list[dict[str, Any]] = []
    for resource in kustomization.get("resources", []):
        path = (folder / resource).resolve()
        objects.extend(build(path) if path.is_dir() else load_yaml_documents(path))
    for patch in kustomization.get("patches", []):
        if set(patch) != {"path"}:
            raise Unsupported(f"{folder}: only `patches: - path: FILE` is implemented, got {patch}")
        documents = load_yaml_documents(folder / patch["path"])
        if len(documents) != 1:
            raise Unsupported(f"{patch['path']}: one object per patch file")
        apply_patch(objects, documents[0], patch["path"])
    for image in kustomization.get("images", []):
        set_image(objects, image)
    if "namespace" in kustomization:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED_KINDS:
                obj["metadata"]["namespace"] = kustomization["namespace"]
    return objects


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any] | None:
    """The object of that kind and name, or None."""
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    return None


def apply_patch(objects: list[dict[str, Any]], patch: dict[str, Any], where: str) -> None:
    """Strategic-merge `patch` into the object it names (kustomize fails when there is none; so do we)."""
    target = find(objects, patch["kind"], patch["metadata"]["name"])
    if target is None:
        raise ValueError(f"{where}: no {patch['kind']} {patch['metadata']['name']} to patch")
    merge(target, patch)


def merge(base: dict[str, Any], patch: dict[str, Any]) -> None:
    """Merge `patch` into `base` in place, strategic-merge style (see the module docstring)."""
    for key, value in patch.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(base.get(key), list):
            merge_key = MERGE_KEYS[key]
            for item in value:
                match = next((b for b in base[key] if b.get(merge_key) == item.get(merge_key)), None)
                if match is None:
                    base[key].append(copy.deepcopy(item))
                else:
                    merge(match, item)
        elif isinstance(value, list) and key not in MERGE_KEYS and key not in REPLACED_LISTS:
            raise Unsupported(f"list field {key!r} in a patch: add its merge rule to kustomize_lite")
        else:
            base[key] = copy.deepcopy(value)


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod spec inside a workload object, or None for other kinds."""
    if obj["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}:
        return obj["spec"]["template"]["spec"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if obj["kind"] == "Pod":
        return obj["spec"]
    return None


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of an image reference; a registry port is not a tag."""
    name, _, digest = image.partition("@")
    last = name.rpartition("/")[2]
    tag = None
    if ":" in last:
        name, _, tag = name.rpartition(":")
    return name, tag, digest or None


def set_image(objects: list[dict[str, Any]], entry: dict[str, Any]) -> None:
    """kustomize `images:`: every container whose image name is entry["name"] gets the new name/tag/digest."""
    for obj in objects:
        spec = pod_spec(obj)
        if spec is None:
            continue
        for container in [*spec.get("containers", []), *spec.get("initContainers", [])]:
            name, tag, digest = split_image(container["image"])
            if name != entry["name"]:
                continue
            name = entry.get("newName", name)
            if "digest" in entry:
                container["image"] = f"{name}@{entry['digest']}"
            else:
                tag = entry.get("newTag", tag)
                container["image"] = f"{name}:{tag}" if tag else name
