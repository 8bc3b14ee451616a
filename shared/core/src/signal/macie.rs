//! Signals from `macie` events: what each detail-type says, about which resources, how bad.

use super::{FindingRef, Parts, SignalClass, occurrence_note, opt_time, url_encode};
use crate::event::macie::MacieCategory;
use crate::resource::Resource;
use crate::severity::Severity;

pub(super) fn macie_finding(d: &crate::event::macie::MacieFinding) -> Parts {
    let class = match d.category {
        MacieCategory::Classification => SignalClass::SensitiveData,
        MacieCategory::Policy => SignalClass::DataPolicy,
    };
    let severity = if d.archived { Severity::INFO } else { Severity::from_macie(d.severity.score) };
    let mut p = Parts::new(
        class,
        d.finding_type.clone(),
        format!(
            "Macie {} ({}) on bucket {}{}",
            d.finding_type,
            d.severity.description.as_deref().unwrap_or("severity unknown"),
            d.resources_affected.s3_bucket.name,
            occurrence_note(d.count)
        ),
        severity,
        format!("{}#{}#{}", d.id, d.count, opt_time(d.updated_at)),
    );
    p.resources.push(Resource::S3Bucket(d.resources_affected.s3_bucket.name.clone()));
    p.resources.extend(
        d.resources_affected
            .s3_bucket
            .default_server_side_encryption
            .as_ref()
            .and_then(|e| e.kms_master_key_id.clone())
            .map(Resource::KmsKey),
    );
    p.occurred_at = d.updated_at.or(d.created_at);
    p.finding = Some(FindingRef { id: d.id.clone(), count: d.count, archived: d.archived });
    p
}

pub(super) fn finding_console(d: &crate::event::macie::MacieFinding, base: &str, region: &str) -> String {
    format!("{base}/macie/home?region={region}#findings?search=id%3D{}", url_encode(&d.id))
}
