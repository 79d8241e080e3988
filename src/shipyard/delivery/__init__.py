"""Delivery: what takes a registered model out of Shipyard and into a cluster.

Container build contexts (``shipyard build``), Kubernetes and KServe manifests
(``shipyard deploy k8s``), CI/CD gates and project templates (``shipyard ci``,
``shipyard init``) and observability files (``shipyard deploy observability``).
Everything here writes files a team reviews and commits; nothing here talks to a
cluster.
"""

from __future__ import annotations

from shipyard.delivery._ci import GateResult, Latency, ValidationReport, load_policy, validate_model
from shipyard.delivery._compare import Interval, ModelComparison, compare_models
from shipyard.delivery._container import (
    ContainerContext,
    ImageBuildError,
    MissingTool,
    build_image,
    find_engine,
    write_container_context,
)
from shipyard.delivery._deploy import Manifests, model_deployment, model_manifests, write_manifests
from shipyard.delivery._dockerfile import DEFAULT_BASE
from shipyard.delivery._helm import chart_for, helm_values
from shipyard.delivery._init_project import CI_FILES, Project, init_project, project_files
from shipyard.delivery._k8s import Canary, ModelDeployment, ShadowRoute
from shipyard.delivery._k8s_server import ServerDeployment, server_manifests
from shipyard.delivery._observability import (
    ObservabilityFiles,
    Thresholds,
    observability_files,
    prometheus_rules,
    write_observability,
)
from shipyard.delivery._resources import PROFILES, Resources, resources_for

__all__: list[str] = [
    "CI_FILES",
    "Canary",
    "ContainerContext",
    "DEFAULT_BASE",
    "GateResult",
    "ImageBuildError",
    "Interval",
    "Latency",
    "Manifests",
    "MissingTool",
    "ModelComparison",
    "ModelDeployment",
    "ObservabilityFiles",
    "PROFILES",
    "Project",
    "Resources",
    "ServerDeployment",
    "ShadowRoute",
    "Thresholds",
    "ValidationReport",
    "build_image",
    "chart_for",
    "compare_models",
    "find_engine",
    "helm_values",
    "init_project",
    "load_policy",
    "model_deployment",
    "model_manifests",
    "observability_files",
    "project_files",
    "prometheus_rules",
    "resources_for",
    "server_manifests",
    "validate_model",
    "write_container_context",
    "write_manifests",
    "write_observability",
]
