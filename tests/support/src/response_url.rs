//! A local `ResponseURL`: an HTTP server (hyper) on a free port that
//! records every request it sees and answers as a test asks — accept
//! everything, refuse the first requests (a 503 `SlowDown` as S3 sends
//! under load, a 403), or stand in front of moto's S3 and forward what it
//! does not refuse, so the response lands in the bucket.
//!
//! It runs on a thread and a runtime of its own, so it keeps answering
//! whatever the test's runtime is doing.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

/// What S3 answers when it sheds load.
pub const SLOW_DOWN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";

/// One request that reached the URL.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query, as requested.
    pub target: String,
    pub headers: HeaderMap,
    /// `None`: no Content-Type header; `Some("")`: present and empty.
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// What this server answered.
    pub status: u16,
}

impl Seen {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How the server answers.
#[derive(Debug, Clone)]
struct Answers {
    /// The first `refuse` requests get `status` and `body`.
    refuse: usize,
    status: u16,
    body: String,
    /// The rest: forwarded to this `http://host:port`, or accepted (200).
    upstream: Option<String>,
}

struct State {
    answers: Answers,
    received: AtomicUsize,
    seen: Arc<Mutex<Vec<Seen>>>,
    http: reqwest::Client,
}

pub struct ResponseUrl {
    addr: SocketAddr,
    upstream: Option<String>,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ResponseUrl {
    /// Answers 200 to every request.
    pub fn accepting() -> ResponseUrl {
        Self::start(Answers {
            refuse: 0,
            status: 200,
            body: String::new(),
            upstream: None,
        })
    }

    /// Answers the first `first` requests with `status` and `body`, then 200.
    pub fn refusing(first: usize, status: u16, body: &str) -> ResponseUrl {
        Self::start(Answers {
            refuse: first,
            status,
            body: body.to_string(),
            upstream: None,
        })
    }

    /// In front of `upstream` (`http://host:port`, moto's S3): the first
    /// `failures` requests get 503 `SlowDown`, the rest are forwarded and
    /// get the upstream's answer. Use [`ResponseUrl::rewrite`] to point a
    /// presigned URL of the upstream here.
    pub fn in_front_of(upstream: &str, failures: usize) -> ResponseUrl {
        Self::start(Answers {
            refuse: failures,
            status: 503,
            body: SLOW_DOWN.to_string(),
            upstream: Some(upstream.trim_end_matches('/').to_string()),
        })
    }

    fn start(answers: Answers) -> ResponseUrl {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking socket");
        let addr = listener.local_addr().expect("the bound address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = oneshot::channel();
        let upstream = answers.upstream.clone();
        let state = Arc::new(State {
            answers,
            received: AtomicUsize::new(0),
            seen: seen.clone(),
            http: reqwest::Client::new(),
        });
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the ResponseURL");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listen");
                tokio::select! {
                    _ = stopped => {}
                    _ = serve(listener, state) => {}
                }
            });
        });
        ResponseUrl {
            addr,
            upstream,
            seen,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `url` (a presigned URL of the upstream) with this server's address.
    pub fn rewrite(&self, url: &str) -> Result<String> {
        let upstream = self
            .upstream
            .as_deref()
            .context("this ResponseURL forwards nowhere")?;
        match url.strip_prefix(upstream) {
            Some(rest) => Ok(format!("{}{rest}", self.uri())),
            None => bail!("`{url}` is not a URL of {upstream}"),
        }
    }

    /// Every request so far, in the order they arrived.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }

    /// The PUT requests so far (the responses).
    pub fn puts(&self) -> Vec<Seen> {
        let mut all = self.seen();
        all.retain(|s| s.method == "PUT");
        all
    }
}

impl Drop for ResponseUrl {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(listener: tokio::net::TcpListener, state: Arc<State>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait, then go on.
                eprintln!("response url: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(answer(&state, req).await) }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("response url: {e}");
            }
        });
    }
}

async fn answer(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(e) => return reply(400, format!("cannot read the body: {e}")),
    };
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let a = &state.answers;
    let n = state.received.fetch_add(1, Ordering::SeqCst);
    let (status, text) = if n < a.refuse {
        (a.status, a.body.clone())
    } else if let Some(up) = &a.upstream {
        match forward(state, up, &parts.method, &target, &content_type, &body).await {
            Ok(r) => r,
            Err(e) => (502, format!("forward to {up}: {e:#}")),
        }
    } else {
        (200, String::new())
    };
    state.seen.lock().expect("seen").push(Seen {
        method: parts.method.to_string(),
        target,
        headers: parts.headers,
        content_type,
        body,
        status,
    });
    reply(status, text)
}

async fn forward(
    state: &State,
    upstream: &str,
    method: &http::Method,
    target: &str,
    content_type: &Option<String>,
    body: &[u8],
) -> Result<(u16, String)> {
    let mut req = state
        .http
        .request(method.clone(), format!("{upstream}{target}"))
        .body(body.to_vec());
    if let Some(ct) = content_type {
        req = req.header(CONTENT_TYPE, ct.as_str());
    }
    let res = req.send().await?;
    Ok((res.status().as_u16(), res.text().await.unwrap_or_default()))
}

fn reply(status: u16, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    if status >= 400 {
        r.headers_mut().insert(
            CONTENT_TYPE,
            http::HeaderValue::from_static("application/xml"),
        );
    }
    r
}
