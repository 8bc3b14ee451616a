"""moto server, plus the SageMaker endpoint behaviour Warden's break-glass tests need and moto 5.2.5 lacks.

Test support only. Start it like moto_server:  python moto_ext.py -H 127.0.0.1 -p PORT

What it adds, following AWS's documented behaviour (see ../../README.md, "Emulators"):
- UpdateEndpoint (moto answers HTTP 500): checks the endpoint and the new config exist, then the endpoint is
  `Updating` (DescribeEndpoint shows PendingDeploymentSummary.EndpointConfigName) and, after
  WARDEN_MOTO_TRANSITION_SECONDS (default 0.5), `InService` on the new config with its variants.
- State transitions for the calls moto finishes at once: CreateEndpoint passes through `Creating`,
  UpdateEndpointWeightsAndCapacities through `Updating`.
- `ValidationException: Cannot update in-progress endpoint "<arn>"` from UpdateEndpoint,
  UpdateEndpointWeightsAndCapacities and DeleteEndpoint while the endpoint is Creating, Updating or SystemUpdating,
  and "DeleteEndpoint is the only operation" errors on a Failed endpoint.
- Silent rollback: an endpoint tagged `warden-test:silent-rollback` = `true` makes its next UpdateEndpoint end
  `InService` on the *old* config with a FailureReason (what SageMaker does when a deployment rolls back).
- `warden-test:status` = `Failed` at CreateEndpoint creates a Failed endpoint.
- `warden-test:transition-seconds` = N on an endpoint makes its transitions take N seconds instead (a busy
  endpoint that stays busy long enough to test waiting).
- EventBridge PutEvents partial failure: an entry whose Detail has `"wardenTestFailTimes": N` is refused with
  `InternalException` (and the call's FailedEntryCount counts it) the first N times that same Detail is put;
  the other entries of the call go through. AWS documents that PutEvents can fail some entries and not others.
- KMS Sign and Verify with `MessageType=DIGEST` for ECDSA keys (moto 5.2.5 ignores MessageType and hashes the
  digest again): as AWS documents, the message then already is the digest (32 bytes for ECDSA_SHA_256) and is
  signed without hashing again. Warden's digest writer signs the SHA-256 of each digest document this way.

Nothing here runs in production: the functions talk to the real SageMaker.
"""

import json
import os
import sys
import threading
import time

from moto.sagemaker import models, responses
from moto.sagemaker.exceptions import ValidationError
from moto.core.responses import ActionResult

TRANSITION_SECONDS = float(os.environ.get("WARDEN_MOTO_TRANSITION_SECONDS", "0.5"))
IN_PROGRESS = {"Creating", "Updating", "SystemUpdating"}
SILENT_ROLLBACK_TAG = "warden-test:silent-rollback"
STATUS_TAG = "warden-test:status"
TRANSITION_TAG = "warden-test:transition-seconds"

_lock = threading.RLock()
Backend = models.SageMakerModelBackend


def _tag(endpoint, key):
    return next((t.get("Value") for t in endpoint.tags or [] if t.get("Key") == key), None)


def _settle(endpoint):
    """Finishes an endpoint's transition once its time has come (lazily, on the next call that looks)."""
    pending = getattr(endpoint, "_warden_pending", None)
    if pending and time.monotonic() >= pending["at"]:
        pending["apply"](endpoint)
        endpoint.endpoint_status = pending["status"]
        endpoint.last_modified_time = models.utcnow()
        endpoint._warden_pending = None


def _transition(endpoint, status, apply=lambda e: None, final="InService", config=None):
    endpoint.endpoint_status = status
    endpoint.last_modified_time = models.utcnow()
    endpoint._warden_pending = {
        "at": time.monotonic() + float(_tag(endpoint, TRANSITION_TAG) or TRANSITION_SECONDS),
        "apply": apply,
        "status": final,
        "config": config,
    }


def _endpoint(backend, name):
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        arn = models.FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
        raise ValidationError(message=f'Could not find endpoint "{arn}".')
    _settle(endpoint)
    return endpoint


def _check_mutable(endpoint, deleting=False):
    if endpoint.endpoint_status in IN_PROGRESS:
        raise ValidationError(message=f'Cannot update in-progress endpoint "{endpoint.arn}".')
    if endpoint.endpoint_status == "Failed" and not deleting:
        raise ValidationError(
            message=f'Endpoint "{endpoint.arn}" is Failed: DeleteEndpoint is the only operation that can be performed.'
        )


def update_endpoint(self, endpoint_name, endpoint_config_name):
    with _lock:
        endpoint = _endpoint(self, endpoint_name)
        _check_mutable(endpoint)
        config = self.endpoint_configs.get(endpoint_config_name)
        if config is None:
            arn = models.FakeEndpointConfig.arn_formatter(endpoint_config_name, self.account_id, self.region_name)
            raise ValidationError(message=f'Could not find endpoint configuration "{arn}".')
        if _tag(endpoint, SILENT_ROLLBACK_TAG) == "true":
            endpoint.tags = [t for t in endpoint.tags if t.get("Key") != SILENT_ROLLBACK_TAG]

            def roll_back(e):
                e.failure_reason = "Deployment failed: the update was rolled back to the previous configuration."

            _transition(endpoint, "Updating", roll_back, config=endpoint_config_name)
        else:

            def deploy(e):
                e.endpoint_config_name = endpoint_config_name
                e.production_variants = e._process_production_variants(config.production_variants)
                e.failure_reason = None

            _transition(endpoint, "Updating", deploy, config=endpoint_config_name)
        return endpoint.arn


_original = {
    name: getattr(Backend, name)
    for name in ("create_endpoint", "describe_endpoint", "delete_endpoint", "update_endpoint_weights_and_capacities")
}


def create_endpoint(self, endpoint_name, endpoint_config_name, tags):
    with _lock:
        endpoint = _original["create_endpoint"](self, endpoint_name, endpoint_config_name, tags)
        if _tag(endpoint, STATUS_TAG) == "Failed":
            endpoint.endpoint_status = "Failed"
            endpoint.failure_reason = "Set by the warden-test:status tag."
        else:
            _transition(endpoint, "Creating")
        return endpoint


def describe_endpoint(self, endpoint_name):
    with _lock:
        endpoint = _endpoint(self, endpoint_name)
        response = _original["describe_endpoint"](self, endpoint_name)
        pending = getattr(endpoint, "_warden_pending", None)
        if pending and pending.get("config"):
            response["PendingDeploymentSummary"] = {"EndpointConfigName": pending["config"]}
        if endpoint.failure_reason is not None:
            response["FailureReason"] = endpoint.failure_reason
        return response


def delete_endpoint(self, endpoint_name):
    with _lock:
        _check_mutable(_endpoint(self, endpoint_name), deleting=True)
        return _original["delete_endpoint"](self, endpoint_name)


def update_endpoint_weights_and_capacities(self, endpoint_name, desired_weights_and_capacities):
    with _lock:
        _check_mutable(_endpoint(self, endpoint_name))
        arn = _original["update_endpoint_weights_and_capacities"](
            self, endpoint_name, desired_weights_and_capacities
        )
        _transition(self.endpoints[endpoint_name], "Updating")
        return arn


Backend.create_endpoint = create_endpoint
Backend.describe_endpoint = describe_endpoint
Backend.delete_endpoint = delete_endpoint
Backend.update_endpoint_weights_and_capacities = update_endpoint_weights_and_capacities
Backend.update_endpoint = update_endpoint


def _update_endpoint_response(self):
    arn = self.sagemaker_backend.update_endpoint(
        endpoint_name=self._get_param("EndpointName"),
        endpoint_config_name=self._get_param("EndpointConfigName"),
    )
    return ActionResult({"EndpointArn": arn})


responses.SageMakerResponse.update_endpoint = _update_endpoint_response

from moto.events import models as events_models

_put_attempts = {}


def put_events(self, events):
    """Refuses marked entries their first N times; passes the rest to moto, keeping the order of results."""
    results, passed = [], []
    for event in events:
        try:
            detail = json.loads(event.get("Detail") or "null")
        except ValueError:
            detail = None
        times = detail.get("wardenTestFailTimes") if isinstance(detail, dict) else None
        if isinstance(times, int):
            with _lock:
                attempt = _put_attempts.get(event["Detail"], 0)
                _put_attempts[event["Detail"]] = attempt + 1
            if attempt < times:
                results.append({"ErrorCode": "InternalException", "ErrorMessage": "moto_ext: marked to fail"})
                continue
        results.append(None)
        passed.append(event)
    delivered = iter(_original_put_events(self, passed) if passed else [])
    return [result if result is not None else next(delivered) for result in results]


_original_put_events = events_models.EventsBackend.put_events
events_models.EventsBackend.put_events = put_events

import base64

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils as asym_utils
from cryptography.exceptions import InvalidSignature
from moto.kms import responses as kms_responses
from moto.kms.exceptions import ValidationException as KmsValidationException

_DIGEST_SIZES = {"ECDSA_SHA_256": 32, "ECDSA_SHA_384": 48, "ECDSA_SHA_512": 64}
_HASHES = {"ECDSA_SHA_256": hashes.SHA256, "ECDSA_SHA_384": hashes.SHA384, "ECDSA_SHA_512": hashes.SHA512}


def _kms_message(self):
    """The bytes to sign or verify, and the ECDSA scheme to use (prehashed for MessageType=DIGEST)."""
    algorithm = self._get_param("SigningAlgorithm")
    message = self._get_param("Message") or b""  # moto's KMS responses decode the base64 already
    if not message:
        raise KmsValidationException("1 validation error detected: Value at 'Message' failed to satisfy constraint")
    if algorithm not in _HASHES:
        return None, message, algorithm
    hash_algorithm = _HASHES[algorithm]()
    if (self._get_param("MessageType") or "RAW") == "DIGEST":
        if len(message) != _DIGEST_SIZES[algorithm]:
            raise KmsValidationException(f"Digest is invalid length for algorithm {algorithm}.")
        return ec.ECDSA(asym_utils.Prehashed(hash_algorithm)), message, algorithm
    return ec.ECDSA(hash_algorithm), message, algorithm


def _ecdsa_key(self):
    key = self.kms_backend.describe_key(self._get_param("KeyId"))
    private = getattr(key.private_key, "private_key", None)
    return key, private if isinstance(private, ec.EllipticCurvePrivateKey) else None


_original_kms_sign = kms_responses.KmsResponse.sign
_original_kms_verify = kms_responses.KmsResponse.verify


def kms_sign(self):
    scheme, message, algorithm = _kms_message(self)
    key, private = _ecdsa_key(self)
    if scheme is None or private is None:
        return _original_kms_sign(self)
    if key.key_usage != "SIGN_VERIFY" or algorithm not in key.signing_algorithms:
        raise KmsValidationException(f"{algorithm} is not a signing algorithm of key {key.arn}")
    signature = private.sign(message, scheme)
    return json.dumps({"KeyId": key.arn, "Signature": base64.b64encode(signature).decode(), "SigningAlgorithm": algorithm})


def kms_verify(self):
    scheme, message, algorithm = _kms_message(self)
    key, private = _ecdsa_key(self)
    if scheme is None or private is None:
        return _original_kms_verify(self)
    try:
        private.public_key().verify(base64.b64decode(self._get_param("Signature")), message, scheme)
        valid = True
    except InvalidSignature:
        valid = False
    return json.dumps({"KeyId": key.arn, "SignatureValid": valid, "SigningAlgorithm": algorithm})


kms_responses.KmsResponse.sign = kms_sign
kms_responses.KmsResponse.verify = kms_verify

if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])
