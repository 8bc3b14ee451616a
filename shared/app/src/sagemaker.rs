//! The SageMaker port break-glass acts through, and an in-memory SageMaker that follows AWS's documented
//! endpoint behaviour (for tests and local runs). The AWS adapter lives in `warden-aws`; both pass
//! [`conformance`].

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Mutex;

use warden_core::action::{Change, VariantWeight};
use warden_core::breakglass::{EndpointView, Observation, PackageView};
use warden_core::event::sagemaker::{ApprovalStatus, EndpointStatus};

/// Why a SageMaker call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SageMakerError {
    /// `ValidationException: Cannot update in-progress endpoint`: try again when the update is over.
    #[error("the endpoint has an update in progress: {0}")]
    InProgress(String),
    #[error("SageMaker is unavailable (retryable): {0}")]
    Unavailable(String),
    /// Will not succeed as asked: a missing endpoint or config, a Failed endpoint, no permission.
    #[error("SageMaker refused the call: {0}")]
    Rejected(String),
}

/// What break-glass needs from SageMaker. Observing reads the endpoint (DescribeEndpoint and its tags) or the
/// model package (DescribeModelPackage and its group's tags); applying makes exactly one call.
pub trait SageMaker {
    fn observe_endpoint(&self, name: &str) -> impl Future<Output = Result<Observation, SageMakerError>> + Send;
    fn observe_package(&self, arn: &str) -> impl Future<Output = Result<Observation, SageMakerError>> + Send;
    fn apply(&self, change: &Change) -> impl Future<Output = Result<(), SageMakerError>> + Send;
}

impl<S: SageMaker + Sync> SageMaker for &S {
    fn observe_endpoint(&self, name: &str) -> impl Future<Output = Result<Observation, SageMakerError>> + Send {
        (**self).observe_endpoint(name)
    }
    fn observe_package(&self, arn: &str) -> impl Future<Output = Result<Observation, SageMakerError>> + Send {
        (**self).observe_package(arn)
    }
    fn apply(&self, change: &Change) -> impl Future<Output = Result<(), SageMakerError>> + Send {
        (**self).apply(change)
    }
}

/// The message AWS sends while an endpoint is Creating, Updating or SystemUpdating.
pub fn in_progress_message(name: &str) -> String {
    format!("Cannot update in-progress endpoint \"{name}\"")
}

#[derive(Debug, Clone)]
struct SimEndpoint {
    config: String,
    status: EndpointStatus,
    variants: Vec<VariantWeight>,
    tags: BTreeMap<String, String>,
    /// What the endpoint becomes once the update in progress is over, and after how many more looks.
    pending: Option<(Box<SimEndpoint>, u32)>,
    failure_reason: Option<String>,
}

#[derive(Debug, Default)]
struct SimState {
    endpoints: BTreeMap<String, SimEndpoint>,
    configs: BTreeMap<String, Vec<String>>,
    packages: BTreeMap<String, ApprovalStatus>,
    group_tags: BTreeMap<String, BTreeMap<String, String>>,
    looks_per_update: u32,
    silent_rollback: bool,
    tags_unreadable: bool,
    calls: Vec<Change>,
}

/// SageMaker in memory: endpoints go `Updating` for a few looks, then `InService`; updates while an update is in
/// progress fail with AWS's message; a switch makes the next update roll back silently.
#[derive(Debug, Default)]
pub struct MemorySageMaker {
    state: Mutex<SimState>,
}

impl MemorySageMaker {
    /// Updates stay in progress for `looks_per_update` observations before they finish.
    pub fn new(looks_per_update: u32) -> Self {
        Self { state: Mutex::new(SimState { looks_per_update, ..SimState::default() }) }
    }

    fn with<T>(&self, f: impl FnOnce(&mut SimState) -> T) -> T {
        let mut guard = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// An endpoint config serving these variants.
    pub fn add_config(&self, name: &str, variants: &[&str]) {
        self.with(|s| s.configs.insert(name.to_owned(), variants.iter().map(|v| (*v).to_owned()).collect()));
    }

    /// An InService endpoint on `config` (equal weights), with tags.
    pub fn add_endpoint(&self, name: &str, config: &str, tags: &[(&str, &str)]) {
        self.with(|s| {
            let variants = s.configs.get(config).cloned().unwrap_or_else(|| vec!["AllTraffic".to_owned()]);
            #[allow(clippy::cast_precision_loss)]
            let weight = 1.0 / variants.len().max(1) as f32;
            let endpoint = SimEndpoint {
                config: config.to_owned(),
                status: EndpointStatus::InService,
                variants: variants.into_iter().map(|variant| VariantWeight { variant, weight }).collect(),
                tags: tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
                pending: None,
                failure_reason: None,
            };
            s.endpoints.insert(name.to_owned(), endpoint);
        });
    }

    /// A model package version (its group is the ARN's second-to-last segment) with the group's tags.
    pub fn add_package(&self, arn: &str, approval: ApprovalStatus, group_tags: &[(&str, &str)]) {
        self.with(|s| {
            s.packages.insert(arn.to_owned(), approval);
            if let Some(group) = warden_core::resource::package_group_of(arn) {
                s.group_tags.insert(
                    group.to_owned(),
                    group_tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
                );
            }
        });
    }

    /// Puts an endpoint into a status by hand (e.g. `Updating` for a while, or `Failed`).
    pub fn set_status(&self, name: &str, status: EndpointStatus, looks: u32) {
        self.with(|s| {
            if let Some(e) = s.endpoints.get_mut(name) {
                let after = SimEndpoint { status: EndpointStatus::InService, pending: None, ..e.clone() };
                e.status = status;
                e.pending = (looks > 0).then(|| (Box::new(after), looks));
            }
        });
    }

    /// The next update (UpdateEndpoint) rolls back on its own: InService again on the old config.
    pub fn roll_back_next_update(&self) {
        self.with(|s| s.silent_rollback = true);
    }

    /// ListTags fails from now on (scope checks must fail closed).
    pub fn break_tags(&self) {
        self.with(|s| s.tags_unreadable = true);
    }

    /// Every call applied so far, in order.
    pub fn calls(&self) -> Vec<Change> {
        self.with(|s| s.calls.clone())
    }

    fn start_update(s: &mut SimState, name: &str, after: SimEndpoint) {
        let looks = s.looks_per_update;
        if let Some(e) = s.endpoints.get_mut(name) {
            e.status = if after.status == EndpointStatus::Creating {
                EndpointStatus::Creating
            } else {
                EndpointStatus::Updating
            };
            let done = SimEndpoint { status: EndpointStatus::InService, pending: None, ..after };
            if looks == 0 {
                *e = done;
            } else {
                e.pending = Some((Box::new(done), looks));
            }
        }
    }

    fn apply_sync(&self, change: &Change) -> Result<(), SageMakerError> {
        self.with(|s| {
            let endpoint_name = match change {
                Change::UpdateEndpoint { endpoint, .. }
                | Change::SetWeights { endpoint, .. }
                | Change::DeleteEndpoint { endpoint }
                | Change::CreateEndpoint { endpoint, .. } => Some(endpoint.as_str()),
                Change::SetApproval { .. } => None,
            };
            if let (Some(name), false) = (endpoint_name, matches!(change, Change::CreateEndpoint { .. })) {
                let Some(e) = s.endpoints.get(name) else {
                    return Err(SageMakerError::Rejected(format!("Could not find endpoint \"{name}\"")));
                };
                if matches!(
                    e.status,
                    EndpointStatus::Creating | EndpointStatus::Updating | EndpointStatus::SystemUpdating
                ) {
                    return Err(SageMakerError::InProgress(in_progress_message(name)));
                }
                if e.status == EndpointStatus::Failed && !matches!(change, Change::DeleteEndpoint { .. }) {
                    return Err(SageMakerError::Rejected(format!(
                        "Endpoint \"{name}\" is Failed: DeleteEndpoint is the only operation allowed"
                    )));
                }
            }
            match change {
                Change::UpdateEndpoint { endpoint, config } => {
                    let Some(variants) = s.configs.get(config).cloned() else {
                        return Err(SageMakerError::Rejected(format!(
                            "Could not find endpoint configuration \"{config}\""
                        )));
                    };
                    let Some(current) = s.endpoints.get(endpoint).cloned() else { return Ok(()) };
                    let after = if std::mem::take(&mut s.silent_rollback) {
                        SimEndpoint {
                            failure_reason: Some("Deployment failed; rolled back to the previous configuration".into()),
                            ..current.clone()
                        }
                    } else {
                        #[allow(clippy::cast_precision_loss)]
                        let weight = 1.0 / variants.len().max(1) as f32;
                        SimEndpoint {
                            config: config.clone(),
                            variants: variants.into_iter().map(|variant| VariantWeight { variant, weight }).collect(),
                            ..current.clone()
                        }
                    };
                    Self::start_update(s, endpoint, after);
                }
                Change::SetWeights { endpoint, weights } => {
                    let Some(current) = s.endpoints.get(endpoint).cloned() else { return Ok(()) };
                    let mut variants = current.variants.clone();
                    for wanted in weights {
                        let Some(v) = variants.iter_mut().find(|v| v.variant == wanted.variant) else {
                            return Err(SageMakerError::Rejected(format!(
                                "The variant(s) \"[{}]\" is/are not present in the endpoint",
                                wanted.variant
                            )));
                        };
                        v.weight = wanted.weight;
                    }
                    Self::start_update(s, endpoint, SimEndpoint { variants, ..current });
                }
                Change::DeleteEndpoint { endpoint } => {
                    s.endpoints.remove(endpoint);
                }
                Change::CreateEndpoint { endpoint, config, tags } => {
                    if s.endpoints.contains_key(endpoint) {
                        return Err(SageMakerError::Rejected(format!(
                            "Cannot create already existing endpoint \"{endpoint}\""
                        )));
                    }
                    let Some(variants) = s.configs.get(config).cloned() else {
                        return Err(SageMakerError::Rejected(format!(
                            "Could not find endpoint configuration \"{config}\""
                        )));
                    };
                    #[allow(clippy::cast_precision_loss)]
                    let weight = 1.0 / variants.len().max(1) as f32;
                    let created = SimEndpoint {
                        config: config.clone(),
                        status: EndpointStatus::Creating,
                        variants: variants.into_iter().map(|variant| VariantWeight { variant, weight }).collect(),
                        tags: tags.clone(),
                        pending: None,
                        failure_reason: None,
                    };
                    s.endpoints.insert(endpoint.clone(), created.clone());
                    Self::start_update(s, endpoint, created);
                }
                Change::SetApproval { package, status, .. } => {
                    let Some(approval) = s.packages.get_mut(package) else {
                        return Err(SageMakerError::Rejected(format!("Model package {package} does not exist")));
                    };
                    *approval = *status;
                }
            }
            s.calls.push(change.clone());
            Ok(())
        })
    }

    fn observe_endpoint_sync(&self, name: &str) -> Observation {
        self.with(|s| {
            let unreadable = s.tags_unreadable;
            let Some(e) = s.endpoints.get_mut(name) else { return Observation::Missing };
            // Each look brings an update in progress one step closer to its end.
            if let Some((after, looks)) = e.pending.take() {
                if looks <= 1 {
                    *e = *after;
                } else {
                    e.pending = Some((after, looks - 1));
                }
            }
            let pending_config = e.pending.as_ref().map(|(after, _)| after.config.clone()).filter(|c| *c != e.config);
            Observation::Endpoint(EndpointView {
                name: name.to_owned(),
                status: e.status.clone(),
                config: e.config.clone(),
                pending_config,
                variants: e.variants.clone(),
                failure_reason: e.failure_reason.clone(),
                tags: if unreadable {
                    Err("ListTags failed: AccessDeniedException".into())
                } else {
                    Ok(e.tags.clone())
                },
            })
        })
    }

    fn observe_package_sync(&self, arn: &str) -> Observation {
        self.with(|s| {
            let Some(approval) = s.packages.get(arn) else { return Observation::Missing };
            let group = warden_core::resource::package_group_of(arn).unwrap_or_default();
            let tags = if s.tags_unreadable {
                Err("ListTags failed: AccessDeniedException".into())
            } else {
                Ok(s.group_tags.get(group).cloned().unwrap_or_default())
            };
            Observation::Package(PackageView { arn: arn.to_owned(), approval: *approval, tags })
        })
    }

    /// Endpoint names, for tests.
    pub fn endpoint_names(&self) -> BTreeSet<String> {
        self.with(|s| s.endpoints.keys().cloned().collect())
    }
}

impl SageMaker for MemorySageMaker {
    async fn observe_endpoint(&self, name: &str) -> Result<Observation, SageMakerError> {
        Ok(self.observe_endpoint_sync(name))
    }

    async fn observe_package(&self, arn: &str) -> Result<Observation, SageMakerError> {
        Ok(self.observe_package_sync(arn))
    }

    async fn apply(&self, change: &Change) -> Result<(), SageMakerError> {
        self.apply_sync(change)
    }
}
