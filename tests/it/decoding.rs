//! Every fixture decodes; every malformed input is rejected with the right error, naming the JSON path; mutated
//! events never panic.

use proptest::prelude::*;
use serde_json::Value;
use warden_core::event::{self, DecodeError, Detail, SUPPORTED};
use warden_core::signal::Signal;
use warden_core::time::Timestamp;
use warden_tests::{events_dir, json_files, read, reference_events_dir};

#[test]
fn every_project_fixture_decodes_into_a_signal() {
    let files = warden_tests::event_files();
    assert!(files.len() >= 40, "expected the bundled fixtures, found {}", files.len());
    for file in files {
        let event =
            event::decode_slice(&read(&file), Timestamp::now()).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let signal = Signal::from_event(&event);
        assert!(!signal.idempotency_key.is_empty() && !signal.summary.is_empty(), "{}", file.display());
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let prefix = event.source.trim_start_matches("aws.").trim_start_matches("warden.").to_owned();
        let expected_prefix = if prefix == "monitor" { "warden".to_owned() } else { prefix };
        assert!(name.starts_with(&format!("{expected_prefix}-")), "{name} must be named <source>-<scenario>.json");
    }
}

#[test]
fn every_supported_detail_type_has_a_fixture() {
    let decoded: Vec<(String, String)> = warden_tests::event_files()
        .iter()
        .filter_map(|f| event::decode_slice(&read(f), Timestamp::now()).ok())
        .map(|e| (e.source, e.detail_type))
        .collect();
    for (source, detail_type) in SUPPORTED {
        assert!(
            decoded.iter().any(|(s, d)| s == source && d == detail_type),
            "no fixture for {source} / {detail_type}"
        );
    }
    let oversized = warden_tests::event_files()
        .iter()
        .filter_map(|f| event::decode_slice(&read(f), Timestamp::now()).ok())
        .any(|e| matches!(&e.detail, Detail::ConfigItemChange(c) if c.is_oversized()));
    assert!(oversized, "no oversized configuration item fixture");
}

/// The reference shelf's AWS examples decode too, except the two documented negative fixtures.
#[test]
fn reference_examples_decode_or_fail_as_documented() {
    let Some(dir) = reference_events_dir() else {
        return;
    };
    for file in json_files(&dir) {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let result = event::decode_slice(&read(&file), Timestamp::now());
        match name.as_str() {
            // The doc sample's envelope time is epoch ms: decoded leniently.
            "sagemaker-endpoint-state-change-doc-verbatim-bad-time.json" => {
                let event = result.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(event.time.millis(), 1_583_831_889_050);
            }
            "sagemaker-model-package-state-change-doc-duplicate-source-key.json" => {
                assert!(
                    matches!(result, Err(DecodeError::Envelope { ref path, .. }) if path == "source"),
                    "{name}: {result:?}"
                );
            }
            // Types Warden does not consume must be named, not guessed at.
            "config-rules-reevaluation-status.json" | "securityhub-findings-imported-guardduty-asff.json" => {
                assert!(matches!(result, Err(DecodeError::Unsupported { .. })), "{name}: {result:?}");
            }
            _ => {
                result.unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }
}

#[test]
fn malformed_inputs_are_rejected_with_the_path_at_fault() {
    let cases: &[(&str, &str, &str)] = &[
        ("not-json.json", "not-json", "line 2"),
        ("not-an-object.json", "not-an-event", "expected a JSON object"),
        ("missing-detail-type.json", "not-an-event", "detail-type"),
        ("unsupported-detail-type.json", "unsupported", "Config Rules Re-evaluation Status"),
        ("guardduty-severity-not-a-number.json", "malformed", "detail.severity"),
        ("guardduty-missing-resource-type.json", "malformed", "detail.resource.resourceType"),
        ("macie-bucket-without-name.json", "malformed", "detail.resourcesAffected.s3Bucket.name"),
        ("cloudwatch-alarm-unknown-state.json", "malformed", "detail.state.value"),
        ("sagemaker-endpoint-bad-timestamp.json", "malformed", "detail.LastModifiedTime"),
        ("detail-not-an-object.json", "malformed", "detail: expected an object, found an array"),
        ("sagemaker-duplicate-source-key.json", "not-an-event", "source"),
        ("warden-drift-unknown-field.json", "malformed", "score"),
    ];
    let dir = warden_tests::invalid_dir();
    assert_eq!(json_files(&dir).len(), cases.len(), "every invalid fixture needs a case here");
    for (file, code, needle) in cases {
        let error = match event::decode_slice(&read(&dir.join(file)), Timestamp::now()) {
            Ok(event) => panic!("{file} decoded: {event:?}"),
            Err(error) => error,
        };
        assert_eq!(error.code(), *code, "{file}: {error}");
        assert!(error.to_string().contains(needle), "{file}: {error} should mention {needle:?}");
    }
}

#[test]
fn lenient_where_aws_is_inconsistent() {
    let base: Value =
        serde_json::from_slice(&read(&events_dir().join("sagemaker-endpoint-inservice-records-config.json")))
            .unwrap_or_default();
    for (time, status, modified) in [
        (Value::from("2026-11-02T12:00:00.123456789Z"), "InService", Value::from(1_793_620_800_000_u64)),
        (Value::from("2026-11-02T12:00:00+0000"), "IN_SERVICE", Value::from("1793620800000")),
        (Value::from(1_793_620_800_000_u64), "in_service", Value::from("2026-11-02T12:00:00Z")),
    ] {
        let mut event = base.clone();
        event["time"] = time;
        event["detail"]["EndpointStatus"] = Value::from(status);
        event["detail"]["LastModifiedTime"] = modified;
        event["detail"]["Tags"] = Value::Null;
        let decoded = event::decode_value(event, Timestamp::now()).unwrap_or_else(|e| panic!("{status}: {e}"));
        let Detail::EndpointStateChange(detail) = decoded.detail else { panic!("wrong detail") };
        assert_eq!(detail.endpoint_status.to_string(), "InService");
        assert_eq!(detail.last_modified_time.map(|t| t.millis()), Some(1_793_620_800_000));
    }
}

fn fixture_values() -> Vec<Value> {
    warden_tests::event_files().iter().filter_map(|f| serde_json::from_slice(&read(f)).ok()).collect()
}

/// Every path to a value inside `value`, as object keys and array indexes.
fn paths(value: &Value, prefix: Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    out.push(prefix.clone());
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            let mut p = prefix.clone();
            p.push(PathStep::Key(k.clone()));
            paths(v, p, out);
        }),
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| {
            let mut p = prefix.clone();
            p.push(PathStep::Index(i));
            paths(v, p, out);
        }),
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn at_mut<'a>(value: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |v, step| match step {
        PathStep::Key(k) => v.get_mut(k),
        PathStep::Index(i) => v.get_mut(*i),
    })
}

fn replacement(choice: u8) -> Option<Value> {
    match choice % 7 {
        0 => None, // delete
        1 => Some(Value::Null),
        2 => Some(Value::from(-1)),
        3 => Some(Value::from("")),
        4 => Some(Value::from(vec![Value::from(1)])),
        5 => Some(serde_json::json!({"unexpected": true})),
        _ => Some(Value::from(1e300)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Any single mutation of any field of any fixture decodes or fails with an error; nothing panics.
    #[test]
    fn mutated_events_never_panic(fixture in any::<prop::sample::Index>(), field in any::<prop::sample::Index>(), choice in any::<u8>()) {
        let fixtures = fixture_values();
        let mut event = fixture.get(&fixtures).clone();
        let mut all = Vec::new();
        paths(&event, Vec::new(), &mut all);
        let path = field.get(&all).clone();
        if let Some((last, parent)) = path.split_last()
            && let Some(parent) = at_mut(&mut event, parent)
        {
            match (replacement(choice), last, parent) {
                (None, PathStep::Key(k), Value::Object(map)) => { map.remove(k); }
                (None, PathStep::Index(i), Value::Array(items)) => { items.remove(*i); }
                (Some(v), PathStep::Key(k), Value::Object(map)) => { map.insert(k.clone(), v); }
                (Some(v), PathStep::Index(i), Value::Array(items)) => { items[*i] = v; }
                _ => {}
            }
        }
        let bytes = serde_json::to_vec(&event).unwrap_or_default();
        if let Ok(decoded) = event::decode_slice(&bytes, Timestamp::now()) {
            let signal = Signal::from_event(&decoded);
            prop_assert!(!signal.idempotency_key.is_empty());
        }
    }

    /// Arbitrary bytes are rejected, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = event::decode_slice(&bytes, Timestamp::now());
    }
}
