//! A stand-in for a Lambda function URL with `AuthType: AWS_IAM`, on 127.0.0.1: no emulator here verifies SigV4,
//! so this one does what AWS documents for function URLs. It checks each request's signature (service `lambda`,
//! the caller's secret looked up by access key, `x-amz-date` within 5 minutes), answers 403 without calling the
//! function when it does not match, and otherwise invokes the function with the payload format 2.0 event whose
//! `requestContext.authorizer.iam.userArn` is the signer, then returns its `statusCode` and `body` (a response
//! without `statusCode` is a 200 with the response as its JSON body).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{Duration, SystemTime};

use aws_sdk_sqs::config::Credentials;
use serde_json::{Value, json};
use warden_aws::function_url::{SIGNING_SERVICE, Unsigned, signing_headers};

/// An IAM caller the stand-in knows: the keys it signs with and the ARN AWS would report.
#[derive(Debug, Clone)]
pub struct Caller {
    pub access_key: String,
    pub secret: String,
    pub user_arn: String,
}

/// The function URL event Lambda passes for a request `caller` signed (payload format 2.0). The headers carry a
/// session token, as temporary credentials do: the function must never record it.
pub fn url_event(caller: &str, method: &str, body: &str) -> Value {
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
        "headers": {"content-type": "application/json", "x-amz-security-token": "SESSION-TOKEN-SECRET",
                    "authorization": "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261202/us-east-1/lambda/aws4_request"},
        "requestContext": {
            "accountId": "111122223333", "apiId": "breakglassurl",
            "authorizer": {"iam": {"accessKey": "ASIAEXAMPLE", "accountId": "111122223333", "callerId": "AROAEXAMPLE",
                                   "userArn": caller, "userId": "AROAEXAMPLE"}},
            "domainName": "breakglassurl.lambda-url.us-east-1.on.aws",
            "http": {"method": method, "path": "/", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "warden"},
            "requestId": format!("url-{}", warden_core::digest::content_digest(format!("{caller}{method}{body}").as_bytes())),
            "routeKey": "$default", "stage": "$default", "time": "02/Dec/2026:15:00:00 +0000", "timeEpoch": 1_796_223_600_000u64
        },
        "body": body, "isBase64Encoded": false
    })
}

/// Serves the function URL on a free port, in a thread of its own, until the test ends; returns its URL.
/// `invoke` is the function: given the event, its response.
pub fn serve(callers: Vec<Caller>, invoke: impl Fn(Value) -> Value + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let callers: HashMap<String, Caller> = callers.into_iter().map(|c| (c.access_key.clone(), c)).collect();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
            let mut reader = BufReader::new(&stream);
            let (status, body) = match read_request(&mut reader) {
                Some(request) => answer(&request, &callers, &invoke),
                None => (400, json!({"Message": "malformed HTTP request"}).to_string()),
            };
            let mut out = &stream;
            let _ = write!(
                out,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://127.0.0.1:{port}/")
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn read_request(reader: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length: usize =
        headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request { method, path, headers, body })
}

fn forbidden(message: &str) -> (u16, String) {
    (403, json!({"Message": message}).to_string())
}

/// Checks the signature as AWS does, then invokes the function as the signer.
fn answer(request: &Request, callers: &HashMap<String, Caller>, invoke: &impl Fn(Value) -> Value) -> (u16, String) {
    let Some(authorization) = request.header("authorization") else { return forbidden("Missing Authentication Token") };
    let field = |name: &str| {
        authorization.split([' ', ',']).find_map(|part| part.trim().strip_prefix(name)).unwrap_or_default().to_owned()
    };
    let scope = field("Credential=");
    let mut scope_parts = scope.split('/');
    let (access_key, _date, region) = (scope_parts.next().unwrap_or_default(), scope_parts.next(), scope_parts.next());
    let Some(caller) = callers.get(access_key) else {
        return forbidden("The security token included in the request is invalid.");
    };
    let Some(time) = request.header("x-amz-date").and_then(amz_date) else { return forbidden("missing x-amz-date") };
    let skew = SystemTime::now().duration_since(time).or_else(|e| Ok::<_, ()>(e.duration())).unwrap_or_default();
    if skew > Duration::from_secs(300) {
        return forbidden("Signature expired");
    }
    // Recompute the signature over the headers the caller said it signed.
    let signed: Vec<String> = field("SignedHeaders=").split(';').map(str::to_owned).collect();
    let headers = signed
        .iter()
        .filter(|name| !matches!(name.as_str(), "x-amz-date" | "x-amz-security-token"))
        .filter_map(|name| request.header(name).map(|v| (name.clone(), v.to_owned())))
        .collect();
    let host = request.header("host").unwrap_or_default();
    let url = format!("http://{host}{}", request.path);
    let unsigned = Unsigned { method: &request.method, url: &url, headers, body: &request.body };
    let token = request.header("x-amz-security-token").map(str::to_owned);
    let credentials = Credentials::new(&caller.access_key, &caller.secret, token, None, "function-url");
    let settings = warden_aws::function_url::SigningSettings::default();
    let expected =
        signing_headers(&unsigned, &credentials, region.unwrap_or_default(), SIGNING_SERVICE, time, settings)
            .ok()
            .and_then(|headers| headers.into_iter().find(|(k, _)| k == "authorization").map(|(_, v)| v));
    if expected.as_deref() != Some(authorization) {
        return forbidden("The request signature we calculated does not match the signature you provided.");
    }
    let event = url_event(&caller.user_arn, &request.method, &String::from_utf8_lossy(&request.body));
    let response = invoke(event);
    match response.get("statusCode").and_then(Value::as_u64) {
        Some(status) => {
            let body = response.get("body").and_then(Value::as_str).unwrap_or_default().to_owned();
            (u16::try_from(status).unwrap_or(500), body)
        }
        None => (200, response.to_string()),
    }
}

/// `20261202T153000Z` as a time.
fn amz_date(text: &str) -> Option<SystemTime> {
    let parsed = chrono::NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%SZ").ok()?.and_utc();
    let seconds = u64::try_from(parsed.timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}
