//! Delivering a decision's effects (the alert, the bus events) at least once, and in practice once.
//!
//! Each effect is sent, then marked delivered on the event's ledger marker. A retry (Lambda re-invokes after an
//! error) finds the event a duplicate, with the effects already marked; [`deliver`] sends only the rest. A crash
//! between a send and its mark can repeat that one send: alerts and bus events carry the decision id so
//! subscribers can drop the repeat.

use std::future::Future;
use std::sync::Mutex;

use warden_core::bus::{self, BusEvent};
use warden_core::engine::Report;
use warden_core::ledger::{Actor, LedgerError};
use warden_core::notify::{self, Alert};
use warden_core::time::Timestamp;

use crate::ledger::Ledger;

pub const ALERT_EFFECT: &str = "alert";
pub const BUS_EFFECT: &str = "bus";

/// Why an effect could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EffectError {
    /// Worth retrying (throttling, a network failure, entries EventBridge did not accept).
    #[error("delivery failed (retryable): {0}")]
    Retryable(String),
    /// Will not succeed as configured (a missing topic or bus, no permission).
    #[error("delivery failed: {0}")]
    Permanent(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl EffectError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Retryable(_) => true,
            Self::Permanent(_) => false,
            Self::Ledger(e) => e.is_retryable(),
        }
    }
}

/// Sends alerts to people (SNS in AWS).
pub trait Notifier {
    fn notify(&self, alert: &Alert) -> impl Future<Output = Result<(), EffectError>> + Send;
}

impl<N: Notifier + Sync> Notifier for &N {
    fn notify(&self, alert: &Alert) -> impl Future<Output = Result<(), EffectError>> + Send {
        (**self).notify(alert)
    }
}

/// Publishes governance events (EventBridge in AWS). Must deliver all or fail.
pub trait Publisher {
    fn publish(&self, events: &[BusEvent]) -> impl Future<Output = Result<(), EffectError>> + Send;
}

/// What [`deliver`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    pub alerted: bool,
    pub published: usize,
}

/// Sends what the report calls for and has not been delivered yet, marking each effect in the ledger.
pub async fn deliver<L, N, P>(
    report: &Report,
    ledger: &L,
    notifier: &N,
    publisher: &P,
    actor: &Actor,
    now: Timestamp,
) -> Result<Delivery, EffectError>
where
    L: Ledger,
    N: Notifier,
    P: Publisher,
{
    let mut delivery = Delivery { alerted: deliver_alert(report, ledger, notifier).await?, ..Delivery::default() };
    let events = bus::events(report, actor, now);
    if !report.delivered.contains(BUS_EFFECT) && !events.is_empty() {
        publisher.publish(&events).await?;
        ledger.mark_delivered(&report.idempotency_key, BUS_EFFECT).await?;
        delivery.published = events.len();
    }
    Ok(delivery)
}

/// Sends the report's alert, if it pages and was not sent before, and marks it sent. Returns whether it sent.
pub async fn deliver_alert<L: Ledger, N: Notifier>(
    report: &Report,
    ledger: &L,
    notifier: &N,
) -> Result<bool, EffectError> {
    if report.delivered.contains(ALERT_EFFECT) {
        return Ok(false);
    }
    let Some(alert) = notify::compose(report) else { return Ok(false) };
    notifier.notify(&alert).await?;
    ledger.mark_delivered(&report.idempotency_key, ALERT_EFFECT).await?;
    Ok(true)
}

/// Keeps alerts in memory (tests, local runs).
#[derive(Debug, Default)]
pub struct MemoryNotifier {
    sent: Mutex<Vec<Alert>>,
    fail_next: Mutex<Option<EffectError>>,
}

impl MemoryNotifier {
    pub fn sent(&self) -> Vec<Alert> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Makes the next `notify` fail with `error` (to test partial failures).
    pub fn fail_next(&self, error: EffectError) {
        if let Ok(mut next) = self.fail_next.lock() {
            *next = Some(error);
        }
    }
}

impl Notifier for MemoryNotifier {
    async fn notify(&self, alert: &Alert) -> Result<(), EffectError> {
        if let Some(error) = self.fail_next.lock().ok().and_then(|mut next| next.take()) {
            return Err(error);
        }
        if let Ok(mut sent) = self.sent.lock() {
            sent.push(alert.clone());
        }
        Ok(())
    }
}

/// Keeps published events in memory (tests, local runs).
#[derive(Debug, Default)]
pub struct MemoryPublisher {
    published: Mutex<Vec<BusEvent>>,
    fail_next: Mutex<Option<EffectError>>,
}

impl MemoryPublisher {
    pub fn published(&self) -> Vec<BusEvent> {
        self.published.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Makes the next `publish` fail with `error` (to test partial failures).
    pub fn fail_next(&self, error: EffectError) {
        if let Ok(mut next) = self.fail_next.lock() {
            *next = Some(error);
        }
    }
}

impl Publisher for MemoryPublisher {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), EffectError> {
        if let Some(error) = self.fail_next.lock().ok().and_then(|mut next| next.take()) {
            return Err(error);
        }
        if let Ok(mut published) = self.published.lock() {
            published.extend(events.iter().cloned());
        }
        Ok(())
    }
}
