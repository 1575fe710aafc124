//! A `ResponseURL` in front of moto's S3 that answers the first `failures`
//! requests with 503 (as S3 does under load: `SlowDown`) and forwards the
//! rest, recording every request it saw. Also used with `failures = 0` to
//! see every response delivered to one URL.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One request that reached the URL.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// `None`: no Content-Type header; `Some("")`: present and empty.
    pub content_type: Option<String>,
    pub body: String,
    /// What this server answered.
    pub status: u16,
}

pub struct FlakyUrl {
    pub addr: SocketAddr,
    upstream: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl FlakyUrl {
    /// Listen on a free port; forward to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str, failures: usize) -> Result<FlakyUrl> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let http = reqwest::Client::new();
        let (up, log) = (upstream.trim_end_matches('/').to_string(), seen.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (up, log, http) = (up.clone(), log.clone(), http.clone());
                tokio::spawn(async move {
                    if let Err(e) = serve(stream, &up, failures, &log, &http).await {
                        eprintln!("flaky url: {e:#}");
                    }
                });
            }
        });
        Ok(FlakyUrl {
            addr,
            upstream: upstream.trim_end_matches('/').to_string(),
            seen,
            task,
        })
    }

    /// `url` (a presigned URL of the upstream) with this server's address.
    pub fn rewrite(&self, url: &str) -> Result<String> {
        match url.strip_prefix(&self.upstream) {
            Some(rest) => Ok(format!("http://{}{rest}", self.addr)),
            None => bail!("`{url}` is not a URL of {}", self.upstream),
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }
}

impl Drop for FlakyUrl {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    upstream: &str,
    failures: usize,
    log: &Mutex<Vec<Seen>>,
    http: &reqwest::Client,
) -> Result<()> {
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk))
            .await
            .context("read timeout")??;
        if n == 0 {
            return Ok(()); // closed before a request
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            bail!("request head too large");
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (method, target) = (
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().to_string(),
    );
    let mut content_type = None;
    let mut length = 0usize;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-type" => content_type = Some(v.trim().to_string()),
                "content-length" => length = v.trim().parse().context("content-length")?,
                "transfer-encoding" => bail!("chunked requests are not supported here"),
                _ => {}
            }
        }
    }
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; length - body.len()];
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk))
            .await
            .context("read timeout")??;
        if n == 0 {
            bail!("connection closed inside the body");
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&body).into_owned();

    let fail = {
        let log = log.lock().expect("seen");
        log.len() < failures
    };
    let (status, reply) = if fail {
        (503, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".to_string())
    } else {
        let mut req = http
            .request(
                method.parse().context("method")?,
                format!("{upstream}{target}"),
            )
            .body(body.clone());
        if let Some(ct) = &content_type {
            req = req.header("content-type", ct.as_str());
        }
        let res = req.send().await.context("forward to S3")?;
        (res.status().as_u16(), res.text().await.unwrap_or_default())
    };
    log.lock().expect("seen").push(Seen {
        method,
        content_type,
        body,
        status,
    });
    let reason = if status == 503 {
        "Service Unavailable"
    } else {
        "OK"
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await.ok();
    Ok(())
}
