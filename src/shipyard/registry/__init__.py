"""The model registry: registered models, versions, aliases, promotion gates, traffic splits,
audit trail, lineage.

Builds on ``tracking`` (a version comes from a run's logged package) and ``models``
(packages are loaded to measure latency gates). Public names are re-exported here.
"""

from shipyard.registry import _codec as codec
from shipyard.registry._actor import acting_as, audit_actor
from shipyard.registry._backend import RegistryStore
from shipyard.registry._entities import AuditEvent, ModelVersion, RegisteredModel
from shipyard.registry._policy import (
    BeatsHolder,
    CheckResult,
    CompatibleSignature,
    GateReport,
    MaxLatency,
    MinMetric,
    PromotionPolicy,
)
from shipyard.registry._traffic import TRAFFIC_TAG, TrafficSplit
from shipyard.registry._uri import ModelRef, parse_model_uri

__all__ = [
    "AuditEvent",
    "BeatsHolder",
    "CheckResult",
    "CompatibleSignature",
    "GateReport",
    "MaxLatency",
    "MinMetric",
    "ModelRef",
    "ModelVersion",
    "PromotionPolicy",
    "RegisteredModel",
    "RegistryStore",
    "TRAFFIC_TAG",
    "TrafficSplit",
    "acting_as",
    "audit_actor",
    "codec",
    "parse_model_uri",
]
