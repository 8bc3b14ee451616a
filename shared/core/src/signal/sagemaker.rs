//! Signals from `sagemaker` events: what each detail-type says, about which resources, how bad.

use super::{Parts, SignalClass, opt_time, tagged_model, url_encode};
use crate::event::sagemaker::EndpointStatus;
use crate::resource::{Resource, arn_name};
use crate::severity::Severity;

pub(super) fn model_package_state_change(d: &crate::event::sagemaker::ModelPackageStateChange) -> Parts {
    let version = d.model_package_version.map(|v| format!(" version {v}")).unwrap_or_default();
    let mut p = Parts::new(
        SignalClass::ModelApproval,
        d.model_approval_status.to_string(),
        format!("model package {}{version} is {}", d.model_package_group_name, d.model_approval_status),
        Severity::NOTICE,
        format!(
            "{}#{}#{}",
            d.model_package_arn,
            d.model_approval_status,
            opt_time(d.last_modified_time.or(d.creation_time))
        ),
    );
    p.resources = vec![
        Resource::ModelPackage(d.model_package_arn.clone()),
        Resource::ModelPackageGroup(d.model_package_group_name.clone()),
    ];
    p.occurred_at = d.last_modified_time;
    p
}

pub(super) fn endpoint_state_change(d: &crate::event::sagemaker::EndpointStateChange, deployment: bool) -> Parts {
    let (severity, summary) = match (&d.endpoint_status, &d.pending_deployment_summary) {
        (EndpointStatus::Failed | EndpointStatus::UpdateRollbackFailed, _) => (
            Severity::HIGH,
            format!(
                "endpoint {} is {}: {}",
                d.endpoint_name,
                d.endpoint_status,
                d.failure_reason.as_deref().unwrap_or("no reason given")
            ),
        ),
        (_, Some(pending)) => (
            Severity::NOTICE,
            format!(
                "endpoint {} deploying {} (from {})",
                d.endpoint_name, pending.endpoint_config_name, d.endpoint_config_name
            ),
        ),
        (EndpointStatus::InService, None) => {
            (Severity::INFO, format!("endpoint {} is InService on {}", d.endpoint_name, d.endpoint_config_name))
        }
        (status, None) => {
            (Severity::NOTICE, format!("endpoint {} is {status} on {}", d.endpoint_name, d.endpoint_config_name))
        }
    };
    let pending = d.pending_deployment_summary.as_ref();
    let progress: String = pending
        .iter()
        .flat_map(|p| p.production_variants.iter())
        .flat_map(|v| v.variant_status.iter())
        .map(|s| format!("{}@{}", s.status, opt_time(s.start_time)))
        .collect::<Vec<_>>()
        .join(",");
    let mut p = Parts::new(
        SignalClass::Endpoint,
        d.endpoint_status.to_string(),
        summary,
        severity,
        format!(
            "{}#{}#{}#{}#{}#{}",
            if deployment { "deployment" } else { "endpoint" },
            d.endpoint_arn.as_deref().unwrap_or(&d.endpoint_name),
            d.endpoint_status,
            d.endpoint_config_name,
            opt_time(d.last_modified_time),
            pending.map(|p| p.endpoint_config_name.as_str()).unwrap_or_default().to_owned() + &progress,
        ),
    );
    p.resources.push(Resource::Endpoint(d.endpoint_name.clone()));
    p.resources.push(Resource::EndpointConfig(d.endpoint_config_name.clone()));
    if let Some(pending) = pending {
        p.resources.push(Resource::EndpointConfig(pending.endpoint_config_name.clone()));
    }
    p.resources.extend(tagged_model(&d.tags));
    p.occurred_at = d.last_modified_time;
    p
}

pub(super) fn training_job_state_change(d: &crate::event::sagemaker::TrainingJobStateChange) -> Parts {
    let failed = d.training_job_status == "Failed";
    let mut p = Parts::new(
        SignalClass::Training,
        d.training_job_status.clone(),
        format!("training job {} is {}", d.training_job_name, d.training_job_status),
        if failed { Severity::LOW_HIGH } else { Severity::INFO },
        format!(
            "{}#{}#{}#{}",
            d.training_job_arn.as_deref().unwrap_or(&d.training_job_name),
            d.training_job_status,
            d.secondary_status.as_deref().unwrap_or_default(),
            opt_time(d.last_modified_time)
        ),
    );
    p.resources.push(Resource::TrainingJob(d.training_job_name.clone()));
    p.resources.extend(d.role_arn.iter().map(|r| Resource::IamRole(r.clone())));
    p.resources.extend(
        d.input_data_config
            .iter()
            .filter_map(|c| c.data_source.as_ref()?.s3_data_source.as_ref())
            .filter_map(|s| s3_bucket_of(&s.s3_uri))
            .map(|b| Resource::S3Bucket(b.to_owned())),
    );
    p.resources.extend(tagged_model(&d.tags));
    p.occurred_at = d.last_modified_time;
    p
}

pub(super) fn processing_job_state_change(d: &crate::event::sagemaker::ProcessingJobStateChange) -> Parts {
    let (kind, severity) = if d.found_violations() {
        ("CompletedWithViolations".to_owned(), Severity::MEDIUM)
    } else if d.processing_job_status == "Failed" {
        (d.processing_job_status.clone(), Severity::LOW_HIGH)
    } else {
        (d.processing_job_status.clone(), Severity::INFO)
    };
    let watched = d.monitored_endpoint().map(|e| format!(" (monitoring endpoint {e})")).unwrap_or_default();
    let mut p = Parts::new(
        SignalClass::Monitoring,
        kind.clone(),
        format!("processing job {} is {kind}{watched}", d.processing_job_name),
        severity,
        format!("{}#{}", d.processing_job_arn.as_deref().unwrap_or(&d.processing_job_name), d.processing_job_status),
    );
    p.resources.push(Resource::ProcessingJob(d.processing_job_name.clone()));
    p.resources.extend(d.monitored_endpoint().map(|e| Resource::Endpoint(e.to_owned())));
    p.resources.extend(d.monitoring_schedule_arn.iter().map(|a| Resource::MonitoringSchedule(arn_name(a).to_owned())));
    p.occurred_at = d.last_modified_time;
    p
}

pub(super) fn pipeline_execution_status_change(d: &crate::event::sagemaker::PipelineExecutionStatusChange) -> Parts {
    let failed = d.current_pipeline_execution_status == "Failed";
    let mut p = Parts::new(
        SignalClass::Pipeline,
        d.current_pipeline_execution_status.clone(),
        format!(
            "pipeline {} execution is {}",
            arn_name_of_pipeline(&d.pipeline_arn),
            d.current_pipeline_execution_status
        ),
        if failed { Severity::LOW_HIGH } else { Severity::INFO },
        format!("{}#{}", d.pipeline_execution_arn, d.current_pipeline_execution_status),
    );
    p.resources.push(Resource::Pipeline(arn_name_of_pipeline(&d.pipeline_arn).to_owned()));
    p.occurred_at = d.execution_end_time.or(d.execution_start_time);
    p
}

pub(super) fn model_card_state_change(d: &crate::event::sagemaker::ModelCardStateChange) -> Parts {
    let mut p = Parts::new(
        SignalClass::ModelCard,
        d.model_card_status.clone(),
        format!("model card {} is {}", d.model_card_name, d.model_card_status),
        Severity::INFO,
        format!(
            "{}#{}#{}#{}",
            d.model_card_name,
            d.model_card_version.unwrap_or(0),
            d.model_card_status,
            opt_time(d.last_modified_time)
        ),
    );
    p.resources.push(Resource::ModelCard(d.model_card_name.clone()));
    p.occurred_at = d.last_modified_time;
    p
}

pub(super) fn s3_bucket_of(uri: &str) -> Option<&str> {
    uri.strip_prefix("s3://")?.split('/').next().filter(|b| !b.is_empty())
}

fn arn_name_of_pipeline(arn: &str) -> &str {
    arn.split_once(":pipeline/").map(|(_, rest)| rest.split('/').next().unwrap_or(rest)).unwrap_or(arn)
}

pub(super) fn endpoint_console(endpoint: &str, base: &str, region: &str) -> String {
    format!("{base}/sagemaker/home?region={region}#/endpoints/{}", url_encode(endpoint))
}

pub(super) fn model_package_console(
    d: &crate::event::sagemaker::ModelPackageStateChange,
    base: &str,
    region: &str,
) -> String {
    format!("{base}/sagemaker/home?region={region}#/model-registry/{}", url_encode(&d.model_package_group_name))
}

pub(super) fn training_job_console(
    d: &crate::event::sagemaker::TrainingJobStateChange,
    base: &str,
    region: &str,
) -> String {
    format!("{base}/sagemaker/home?region={region}#/jobs/{}", url_encode(&d.training_job_name))
}

pub(super) fn processing_job_console(
    d: &crate::event::sagemaker::ProcessingJobStateChange,
    base: &str,
    region: &str,
) -> String {
    format!("{base}/sagemaker/home?region={region}#/processing-jobs/{}", url_encode(&d.processing_job_name))
}

pub(super) fn model_card_console(
    d: &crate::event::sagemaker::ModelCardStateChange,
    base: &str,
    region: &str,
) -> String {
    format!("{base}/sagemaker/home?region={region}#/model-cards/{}", url_encode(&d.model_card_name))
}
