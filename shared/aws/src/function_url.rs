//! A person's signed call to the break-glass function URL (`AuthType: AWS_IAM`): the CLI signs the POST with the
//! caller's own credentials (SigV4, service `lambda`), so the function learns who is asking from AWS, never from
//! the body. HTTPS over the hyper/rustls stack the SDK already builds.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
pub use aws_sigv4::http_request::SigningSettings;
use aws_sigv4::http_request::{SignableBody, SignableRequest, sign};
use aws_sigv4::sign::v4;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The service name function URLs are signed for.
pub const SIGNING_SERVICE: &str = "lambda";
/// A response body larger than this is cut (the function answers a few hundred bytes).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FunctionUrlError {
    #[error("{0:?} is not an https URL (plain http only to 127.0.0.1)")]
    BadUrl(String),
    #[error("no AWS credentials to sign with: {0}")]
    Credentials(String),
    #[error("no AWS region: set AWS_REGION (or use the function URL, which names its region)")]
    NoRegion,
    #[error("cannot sign the request: {0}")]
    Signing(String),
    #[error("the break-glass function URL did not answer: {0}")]
    Unreachable(String),
}

/// One request to sign: what SigV4 covers.
#[derive(Debug, Clone)]
pub struct Unsigned<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

/// The headers SigV4 adds to `request` (`x-amz-date`, `authorization`, and `x-amz-security-token` for temporary
/// credentials): the one place Warden signs.
pub fn signing_headers(
    request: &Unsigned<'_>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
    settings: SigningSettings,
) -> Result<Vec<(String, String)>, FunctionUrlError> {
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| FunctionUrlError::Signing(e.to_string()))?
        .into();
    let headers = request.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let signable = SignableRequest::new(request.method, request.url, headers, SignableBody::Bytes(request.body))
        .map_err(|e| FunctionUrlError::Signing(e.to_string()))?;
    let (instructions, _signature) =
        sign(signable, &params).map_err(|e| FunctionUrlError::Signing(e.to_string()))?.into_parts();
    let (headers, _query) = instructions.into_parts();
    Ok(headers.into_iter().map(|h| (h.name().to_owned(), h.value().to_owned())).collect())
}

/// The region a function URL names (`https://<id>.lambda-url.<region>.on.aws/`), if it is one.
pub fn url_region(url: &str) -> Option<&str> {
    let host = url.split("://").nth(1)?.split(['/', ':']).next()?;
    let mut labels = host.split('.');
    let (_id, kind, region) = (labels.next()?, labels.next()?, labels.next()?);
    (kind == "lambda-url" && !region.is_empty()).then_some(region)
}

/// What the function answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// POSTs `body` (JSON) to the function URL, signed with the credentials of the standard AWS environment.
pub async fn post_signed(url: &str, body: &str) -> Result<Answer, FunctionUrlError> {
    let uri: http::Uri = url.parse().map_err(|_| FunctionUrlError::BadUrl(url.to_owned()))?;
    // Plain HTTP only to this machine (a local stand-in): a signed request is a credential for minutes.
    let loopback = matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if !(uri.scheme_str() == Some("https") || (uri.scheme_str() == Some("http") && loopback)) || uri.host().is_none() {
        return Err(FunctionUrlError::BadUrl(url.to_owned()));
    }
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let region = match url_region(url) {
        Some(region) => region.to_owned(),
        None => sdk.region().map(ToString::to_string).ok_or(FunctionUrlError::NoRegion)?,
    };
    let provider = sdk.credentials_provider().ok_or_else(|| FunctionUrlError::Credentials("none configured".into()))?;
    let credentials = provider.provide_credentials().await.map_err(|e| FunctionUrlError::Credentials(e.to_string()))?;
    let host = match uri.port_u16() {
        Some(port) => format!("{}:{port}", uri.host().unwrap_or_default()),
        None => uri.host().unwrap_or_default().to_owned(),
    };
    let unsigned = Unsigned {
        method: "POST",
        url,
        headers: vec![("host".into(), host), ("content-type".into(), "application/json".into())],
        body: body.as_bytes(),
    };
    let signed = signing_headers(
        &unsigned,
        &credentials,
        &region,
        SIGNING_SERVICE,
        SystemTime::now(),
        SigningSettings::default(),
    )?;
    let mut request = http::Request::post(uri);
    for (name, value) in unsigned.headers.iter().chain(&signed) {
        request = request.header(name, value);
    }
    let request = request
        .body(Full::new(bytes::Bytes::from(body.to_owned())))
        .map_err(|e| FunctionUrlError::Signing(e.to_string()))?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| FunctionUrlError::Unreachable(format!("no TLS roots: {e}")))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let response = client.request(request).await.map_err(|e| FunctionUrlError::Unreachable(e.to_string()))?;
    let status = response.status().as_u16();
    let collected = response.into_body().collect().await.map_err(|e| FunctionUrlError::Unreachable(e.to_string()))?;
    let bytes = collected.to_bytes();
    let body = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_RESPONSE_BYTES)]).into_owned();
    Ok(Answer { status, body })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    /// One case of AWS's SigV4 test suite (`tests/fixtures/sigv4`, from the aws-sigv4 crate, Apache-2.0).
    fn vector(name: &str) -> (String, Vec<(String, String)>, String, String, bool) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/sigv4").join(name);
        let read =
            |file: &str| std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{name}/{file}: {e}"));
        let request = read("request.txt");
        let (head, body) = request.split_once("\n\n").unwrap_or((&request, ""));
        let mut lines = head.lines();
        let path = lines.next().unwrap().split(' ').nth(1).unwrap().to_owned();
        let headers: Vec<(String, String)> =
            lines.map(|l| l.split_once(':').unwrap()).map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        let host = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("host")).unwrap().1.clone();
        let authorization = read("header-signed-request.txt")
            .lines()
            .find_map(|l| l.strip_prefix("Authorization:").map(str::to_owned))
            .unwrap();
        let context: serde_json::Value = serde_json::from_str(&read("context.json")).unwrap();
        (format!("https://{host}{path}"), headers, body.to_owned(), authorization, context["sign_body"] == true)
    }

    #[test]
    fn signs_as_aws_published_test_vectors_say() {
        let credentials =
            Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, None, "vectors");
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
        for name in ["post-vanilla", "post-header-key-case", "post-x-www-form-urlencoded"] {
            let (url, headers, body, expected, sign_body) = vector(name);
            let mut settings = SigningSettings::default();
            if sign_body {
                settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
            }
            let request = Unsigned { method: "POST", url: &url, headers, body: body.as_bytes() };
            let signed = signing_headers(&request, &credentials, "us-east-1", "service", time, settings).unwrap();
            let authorization = signed.iter().find(|(k, _)| k == "authorization").map(|(_, v)| v.clone());
            assert_eq!(authorization.as_deref(), Some(expected.as_str()), "{name}");
        }
    }

    #[test]
    fn temporary_credentials_send_their_session_token_and_the_region_comes_from_the_url() {
        let credentials = Credentials::new("ASIAEXAMPLE", "secret", Some("session-token".into()), None, "test");
        let request = Unsigned {
            method: "POST",
            url: "https://abc.lambda-url.eu-west-1.on.aws/",
            headers: vec![("host".into(), "abc.lambda-url.eu-west-1.on.aws".into())],
            body: b"{}",
        };
        let signed = signing_headers(
            &request,
            &credentials,
            "eu-west-1",
            SIGNING_SERVICE,
            SystemTime::now(),
            SigningSettings::default(),
        )
        .unwrap();
        assert!(signed.iter().any(|(k, v)| k == "x-amz-security-token" && v == "session-token"), "{signed:?}");
        let authorization = &signed.iter().find(|(k, _)| k == "authorization").unwrap().1;
        assert!(authorization.contains("/eu-west-1/lambda/aws4_request"), "{authorization}");
        assert_eq!(url_region("https://abc123.lambda-url.eu-west-1.on.aws/"), Some("eu-west-1"));
        assert_eq!(url_region("http://127.0.0.1:9000/"), None);
    }
}
