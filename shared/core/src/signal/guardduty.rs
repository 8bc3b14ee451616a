//! Signals from `guardduty` events: what each detail-type says, about which resources, how bad.

use super::{FindingRef, Parts, SignalClass, digest, occurrence_note, opt_time, url_encode};
use crate::event::guardduty::{GuardDutyFinding, ResourceKind};
use crate::resource::Resource;
use crate::severity::Severity;

pub(super) fn guardduty_finding(d: &GuardDutyFinding) -> Parts {
    let resource = &d.resource;
    let mut resources = Vec::new();
    if let Some(key) = &resource.access_key_details {
        resources.extend(key.access_key_id.iter().map(|k| Resource::AccessKey(k.clone())));
        if key.user_type.as_deref() == Some("AssumedRole") {
            resources.extend(key.user_name.iter().map(|r| Resource::IamRole(r.clone())));
        }
    }
    for bucket in &resource.s3_bucket_details {
        resources.push(Resource::S3Bucket(bucket.name.clone()));
        resources.extend(
            bucket
                .default_server_side_encryption
                .as_ref()
                .and_then(|e| e.kms_master_key_arn.clone())
                .map(Resource::KmsKey),
        );
    }
    for model in &resource.model_details {
        resources.push(match model.model_id.split_once(":endpoint/") {
            Some((_, endpoint)) => Resource::Endpoint(endpoint.to_owned()),
            None => Resource::Other(format!("Model:{}", model.model_id)),
        });
    }
    if let Some(instance) = &resource.instance_details {
        resources.extend(instance.instance_id.iter().map(|i| Resource::Other(format!("Instance:{i}"))));
    }
    if let Some(lambda) = &resource.lambda_details {
        resources.extend(lambda.role.iter().map(|r| Resource::IamRole(r.clone())));
    }
    if let ResourceKind::Other(kind) = resource.kind()
        && resources.is_empty()
    {
        resources.push(Resource::Other(format!("{kind}:unmodelled")));
    }
    let archived = d.archived();
    let subject = resources.first().map(ToString::to_string).unwrap_or_else(|| resource.resource_type.clone());
    let mut p = Parts::new(
        SignalClass::Threat,
        d.finding_type.clone(),
        format!("GuardDuty {} (severity {}) on {subject}{}", d.finding_type, d.severity, occurrence_note(d.count())),
        if archived { Severity::INFO } else { Severity::new(d.severity) },
        format!("{}#{}#{}", d.id, d.count(), opt_time(d.updated_at)),
    );
    p.resources = resources;
    p.occurred_at = d.updated_at.or(d.created_at);
    p.finding = Some(FindingRef { id: d.id.clone(), count: d.count(), archived });
    p
}

pub(super) fn malware_scan_result(d: &crate::event::guardduty::MalwareScanResult) -> Parts {
    let status = d.scan_result_details.scan_result_status.as_str();
    let severity = match status {
        "THREATS_FOUND" => Severity::MACIE_HIGH,
        "NO_THREATS_FOUND" => Severity::INFO,
        _ => Severity::LOW,
    };
    let threats: Vec<&str> = d.scan_result_details.threats.iter().map(|t| t.name.as_str()).collect();
    let threat_note = if threats.is_empty() { String::new() } else { format!(": {}", threats.join(", ")) };
    let object = &d.s3_object_details;
    let mut p = Parts::new(
        SignalClass::Malware,
        status.to_owned(),
        format!("malware scan of an object in bucket {} is {status}{threat_note}", object.bucket_name),
        severity,
        format!(
            "{}#{}#{}#{}",
            object.bucket_name,
            digest(&object.object_key),
            object.version_id.as_deref().or(object.e_tag.as_deref()).unwrap_or_default(),
            status
        ),
    );
    p.resources.push(Resource::S3Bucket(object.bucket_name.clone()));
    p
}

pub(super) fn finding_console(d: &GuardDutyFinding, base: &str, region: &str) -> String {
    format!("{base}/guardduty/home?region={region}#/findings?macros=current&fId={}", url_encode(&d.id))
}

pub(super) fn malware_console(d: &crate::event::guardduty::MalwareScanResult, base: &str, region: &str) -> String {
    format!("{base}/s3/buckets/{}?region={region}", url_encode(&d.s3_object_details.bucket_name))
}
