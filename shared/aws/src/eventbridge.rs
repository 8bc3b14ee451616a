//! Governance events on EventBridge. PutEvents can accept some entries and refuse others: the failed ones are
//! retried (bounded, with back-off), and what still fails is a retryable error, so the invocation is retried.

use std::time::Duration;

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use warden_app::effects::{EffectError, Publisher};
use warden_core::bus::{BusEvent, GOVERNANCE_SOURCE};

use crate::errors::{Failure, classify};

const RETRYABLE_CODES: &[&str] = &["ThrottlingException", "InternalException", "ServiceUnavailable"];

/// PutEvents takes at most 10 entries per call.
const MAX_ENTRIES: usize = 10;
/// Attempts for entries PutEvents reports as failed.
const ATTEMPTS: u32 = 3;

#[derive(Debug, Clone)]
pub struct EventBridgePublisher {
    client: Client,
    bus_name: String,
}

impl EventBridgePublisher {
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self { client, bus_name: bus_name.into() }
    }

    fn entry(&self, event: &BusEvent) -> PutEventsRequestEntry {
        let arns = event.arn_resources();
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(GOVERNANCE_SOURCE)
            .detail_type(event.detail_type)
            .detail(event.detail.to_string())
            .set_resources((!arns.is_empty()).then_some(arns))
            .build()
    }

    async fn put(&self, entries: Vec<PutEventsRequestEntry>) -> Result<(), EffectError> {
        let mut pending = entries;
        for attempt in 1..=ATTEMPTS {
            let output =
                self.client.put_events().set_entries(Some(pending.clone())).send().await.map_err(
                    |error| match classify("EventBridge PutEvents", &error, RETRYABLE_CODES) {
                        Failure::Retryable(detail) => EffectError::Retryable(detail),
                        Failure::NotFound(detail) => {
                            EffectError::Permanent(format!("{detail} (is WARDEN_EVENT_BUS_NAME right?)"))
                        }
                        Failure::Permanent(detail) => EffectError::Permanent(detail),
                    },
                )?;
            if output.failed_entry_count() == 0 {
                return Ok(());
            }
            // Results line up with the request's entries; keep the ones that failed.
            let failed: Vec<(PutEventsRequestEntry, String)> = pending
                .into_iter()
                .zip(output.entries())
                .filter_map(|(entry, result)| {
                    result.error_code().map(|code| (entry, format!("{code}: {}", result.error_message().unwrap_or(""))))
                })
                .collect();
            if attempt == ATTEMPTS || failed.is_empty() {
                let reasons: Vec<&str> = failed.iter().map(|(_, reason)| reason.as_str()).collect();
                return Err(EffectError::Retryable(format!(
                    "EventBridge PutEvents: {} entries failed after {attempt} attempts: {}",
                    output.failed_entry_count(),
                    reasons.join("; ")
                )));
            }
            pending = failed.into_iter().map(|(entry, _)| entry).collect();
            tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
        }
        Ok(())
    }
}

impl Publisher for EventBridgePublisher {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), EffectError> {
        for chunk in events.chunks(MAX_ENTRIES) {
            self.put(chunk.iter().map(|e| self.entry(e)).collect()).await?;
        }
        Ok(())
    }
}
