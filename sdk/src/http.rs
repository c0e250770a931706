//! Outgoing HTTP for `hlr-lookup` and `charging` plugins, over `wasi:http`. The gateway lets a
//! request through only to hosts granted to the plugin (`allow_hosts` in its `name.toml`);
//! anything else fails with an error, never reaches the network.

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// POST `body` (as `content_type`) to `url` (`http://host:port/path` or `https://...`).
pub fn post(url: &str, content_type: &str, body: &[u8]) -> Result<Response, String> {
    #[cfg(target_arch = "wasm32")]
    return wasi_post(url, content_type, body);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = content_type;
        crate::testing::http_call(url, body).map(|(status, body)| Response { status, body })
    }
}

/// Split `scheme://authority/path?query`.
pub fn split_url(url: &str) -> Result<(bool, &str, &str), String> {
    let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!("unsupported URL {url:?} (http:// or https://)"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(format!("URL {url:?} has no host"));
    }
    Ok((https, authority, path))
}

#[cfg(target_arch = "wasm32")]
fn wasi_post(url: &str, content_type: &str, body: &[u8]) -> Result<Response, String> {
    use wasi::http::outgoing_handler;
    use wasi::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
    use wasi::io::streams::StreamError;

    let (https, authority, path) = split_url(url)?;
    let headers = Fields::from_list(&[
        ("content-type".to_string(), content_type.as_bytes().to_vec()),
        (
            "content-length".to_string(),
            body.len().to_string().into_bytes(),
        ),
    ])
    .map_err(|e| format!("headers: {e:?}"))?;
    let req = OutgoingRequest::new(headers);
    let bad = |what: &str| format!("invalid {what} in {url:?}");
    req.set_method(&Method::Post).map_err(|_| bad("method"))?;
    req.set_scheme(Some(&if https { Scheme::Https } else { Scheme::Http }))
        .map_err(|_| bad("scheme"))?;
    req.set_authority(Some(authority))
        .map_err(|_| bad("authority"))?;
    req.set_path_with_query(Some(path))
        .map_err(|_| bad("path"))?;
    let out = req.body().map_err(|_| "request body".to_string())?;
    let pending = outgoing_handler::handle(req, None).map_err(|e| format!("{e:?}"))?;
    {
        let stream = out.write().map_err(|_| "request body stream".to_string())?;
        for chunk in body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| format!("writing the request: {e:?}"))?;
        }
    }
    OutgoingBody::finish(out, None).map_err(|e| format!("{e:?}"))?;
    pending.subscribe().block();
    let resp = pending
        .get()
        .ok_or("no response")?
        .map_err(|_| "response taken twice".to_string())?
        .map_err(|e| format!("{e:?}"))?;
    let status = resp.status();
    let incoming = resp.consume().map_err(|_| "response body".to_string())?;
    let stream = incoming
        .stream()
        .map_err(|_| "response body stream".to_string())?;
    let mut buf = Vec::new();
    loop {
        match stream.blocking_read(65536) {
            Ok(chunk) => buf.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(e) => return Err(format!("reading the response: {e:?}")),
        }
    }
    Ok(Response { status, body: buf })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split() {
        assert_eq!(
            split_url("http://127.0.0.1:8080/hlr?x=1"),
            Ok((false, "127.0.0.1:8080", "/hlr?x=1"))
        );
        assert_eq!(split_url("https://h"), Ok((true, "h", "/")));
        assert!(split_url("ftp://h/").is_err());
        assert!(split_url("http:///x").is_err());
    }
}
