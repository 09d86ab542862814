//! A checker of AWS Signature V4 presigned GET URLs, as a verifying S3 server (AWS, MinIO) runs
//! it: the signature must be the HMAC chain of the known secret over the method, the path, the
//! query (expiry included) and the host, and the URL must not have expired.
//!
//! The test server (moto) serves presigned URLs without checking either, so the storage tests
//! check the URLs with this instead: a URL this accepts is one a verifying server accepts, and a
//! tampered or expired one is refused here as it would be there.

#![allow(dead_code)]

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// A query parameter is missing or unreadable.
    Malformed(String),
    /// The signature is not the one the secret gives.
    SignatureDoesNotMatch,
    /// `X-Amz-Date + X-Amz-Expires` is past.
    Expired,
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// URI-encodes as SigV4 wants: everything but `A-Z a-z 0-9 - _ . ~` (and `/` when `path`).
fn encode(text: &str, path: bool) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if path => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes `%XX` escapes.
fn decode(text: &str) -> Result<String, Refused> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Refused::Malformed(format!("path {text}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Refused::Malformed(format!("path {text}")))
}

/// Checks presigned GET `url` against `secret` at instant `now`.
///
/// # Errors
///
/// [`Refused`] saying why a verifying server would answer 403.
pub fn verify(url: &str, secret: &str, now: DateTime<Utc>) -> Result<(), Refused> {
    let parsed = url::Url::parse(url).map_err(|e| Refused::Malformed(e.to_string()))?;
    let mut params: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| Refused::Malformed(format!("no {name}")))
    };
    let signature = get("X-Amz-Signature")?;
    let credential = get("X-Amz-Credential")?;
    let date = get("X-Amz-Date")?;
    let expires: i64 = get("X-Amz-Expires")?
        .parse()
        .map_err(|_| Refused::Malformed("X-Amz-Expires".into()))?;
    if get("X-Amz-SignedHeaders")? != "host" || get("X-Amz-Algorithm")? != "AWS4-HMAC-SHA256" {
        return Err(Refused::Malformed("algorithm or signed headers".into()));
    }
    let (_, scope) = credential
        .split_once('/')
        .ok_or_else(|| Refused::Malformed("X-Amz-Credential".into()))?;
    let parts: Vec<&str> = scope.split('/').collect();
    let [day, region, service, "aws4_request"] = parts[..] else {
        return Err(Refused::Malformed(format!("scope {scope}")));
    };

    params.retain(|(k, _)| k != "X-Amz-Signature");
    let mut query: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (encode(k, false), encode(v, false)))
        .collect();
    query.sort();
    let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let host = match parsed.port() {
        Some(port) => format!("{}:{port}", parsed.host_str().unwrap_or_default()),
        None => parsed.host_str().unwrap_or_default().to_owned(),
    };
    // The server signs the decoded path, encoded its own way (not the client's).
    let path = encode(&decode(parsed.path())?, true);
    let canonical = format!(
        "GET\n{path}\n{}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD",
        query.join("&")
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = [day, region, service, "aws4_request"]
        .iter()
        .fold(format!("AWS4{secret}").into_bytes(), |key, part| {
            hmac(&key, part)
        });
    if hex::encode(hmac(&key, &to_sign)) != signature {
        return Err(Refused::SignatureDoesNotMatch);
    }
    let signed_at = NaiveDateTime::parse_from_str(&date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| Refused::Malformed("X-Amz-Date".into()))?
        .and_utc();
    if now > signed_at + Duration::seconds(expires) {
        return Err(Refused::Expired);
    }
    Ok(())
}

/// The instant `X-Amz-Date` of `url`.
pub fn signed_at(url: &str) -> DateTime<Utc> {
    let parsed = url::Url::parse(url).expect("a URL");
    let date = parsed
        .query_pairs()
        .find(|(k, _)| k == "X-Amz-Date")
        .expect("X-Amz-Date")
        .1
        .into_owned();
    NaiveDateTime::parse_from_str(&date, "%Y%m%dT%H%M%SZ")
        .expect("a SigV4 date")
        .and_utc()
}
