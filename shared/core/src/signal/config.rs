//! Signals from `config` events: what each detail-type says, about which resources, how bad.

use super::{Parts, SignalClass, opt_time, url_encode};
use crate::event::config::ComplianceType;
use crate::resource::Resource;
use crate::severity::Severity;

pub(super) fn config_compliance_change(d: &crate::event::config::ComplianceChange) -> Parts {
    let compliance = d.new_evaluation_result.compliance_type;
    let severity = match compliance {
        ComplianceType::NonCompliant => Severity::MEDIUM,
        ComplianceType::InsufficientData => Severity::LOW,
        ComplianceType::Compliant | ComplianceType::NotApplicable => Severity::INFO,
    };
    let mut p = Parts::new(
        SignalClass::Compliance,
        compliance.to_string(),
        format!("{} {} is {compliance} with rule {}", d.resource_type, d.resource_id, d.config_rule_name),
        severity,
        format!(
            "{}#{}#{}#{}",
            d.config_rule_name,
            d.resource_type,
            d.resource_id,
            opt_time(d.new_evaluation_result.result_recorded_time)
        ),
    );
    p.resources.push(config_resource(&d.resource_type, &d.resource_id));
    p.occurred_at = d.new_evaluation_result.result_recorded_time.or(d.notification_creation_time);
    p
}

pub(super) fn config_item_change(d: &crate::event::config::ConfigurationItemChange) -> Parts {
    let (resource_type, resource_id, status, state_id, captured) = d
        .item()
        .map(|i| {
            (
                i.resource_type.as_str(),
                i.resource_id.as_str(),
                i.configuration_item_status.as_deref().unwrap_or("OK"),
                i.configuration_state_id.as_ref().map(ToString::to_string).unwrap_or_default(),
                i.configuration_item_capture_time,
            )
        })
        .unwrap_or(("", "", "", String::new(), None));
    let deleted = status.starts_with("ResourceDeleted");
    let oversized = if d.is_oversized() { " (oversized: full item in S3)" } else { "" };
    let mut p = Parts::new(
        SignalClass::ConfigChange,
        status.to_owned(),
        format!("{resource_type} {resource_id} configuration changed: {status}{oversized}"),
        if deleted { Severity::LOW } else { Severity::NOTICE },
        format!("{resource_type}#{resource_id}#{state_id}#{}", opt_time(captured)),
    );
    p.resources.push(config_resource(resource_type, resource_id));
    p.occurred_at = captured.or(d.notification_creation_time);
    p
}

/// Maps a Config resource type and id onto Warden's resources.
fn config_resource(resource_type: &str, resource_id: &str) -> Resource {
    let id = resource_id.to_owned();
    match resource_type {
        "AWS::SageMaker::Endpoint" => Resource::Endpoint(id),
        "AWS::SageMaker::EndpointConfig" => Resource::EndpointConfig(id),
        "AWS::SageMaker::ModelPackageGroup" => Resource::ModelPackageGroup(id),
        "AWS::SageMaker::ModelPackage" => Resource::ModelPackage(id),
        "AWS::S3::Bucket" => Resource::S3Bucket(id),
        "AWS::IAM::Role" => Resource::IamRole(id),
        "AWS::KMS::Key" => Resource::KmsKey(id),
        _ => Resource::Other(format!("{resource_type}:{resource_id}")),
    }
}

pub(super) fn compliance_console(d: &crate::event::config::ComplianceChange, base: &str, region: &str) -> String {
    format!("{base}/config/home?region={region}#/rules/details?configRuleName={}", url_encode(&d.config_rule_name))
}

pub(super) fn item_console(
    d: &crate::event::config::ConfigurationItemChange,
    base: &str,
    region: &str,
) -> Option<String> {
    let item = d.item()?;
    Some(format!(
        "{base}/config/home?region={region}#/resources/timeline?resourceId={}&resourceType={}",
        url_encode(&item.resource_id),
        url_encode(&item.resource_type)
    ))
}
