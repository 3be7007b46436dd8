//! Message creates on HTTP/1.1 connections the adapter keeps itself (ADR 0053).
//!
//! A command's reply is one `POST /channels/{id}/messages` with a small JSON body, and it is
//! the only request of a command. Through twilight's client it builds a URL string, parses it
//! back into a `Uri`, fills a header map, clones the request, checks a connection out of
//! hyper-util's pool (keyed by a SipHash of scheme and authority) and hands it to the
//! connection's own task, which writes it and wakes the caller with the response: about 38,000
//! instructions of the 120,000 a command costs (docs/PERFORMANCE.md, thirteenth pass). Here the
//! request's fixed head is written once at start, the request is written and its response
//! read (`httparse`) by the task that sends it, and the connection goes back to a short list.
//!
//! Only requests that carry an enforced nonce come here: a request on a kept connection that
//! the server closed while it was idle (nothing read back) is sent again at once on a new
//! connection, which would post twice without the nonce. Per-route limits stay twilight's: a
//! create takes a permit of the client's own rate limiter (when it has one) and a 429 teaches
//! it the bucket, as twilight's requests do.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use twilight_http_ratelimiting::{Endpoint, Method, RateLimitHeaders, RateLimiter};

use super::RestError;

/// Kept connections at most: as many as commands run at once by default (the commands lane's
/// 64 slots), so a burst does not open and close connections; more are closed after their
/// response.
const IDLE_MAX: usize = 64;
/// A kept connection unused for longer is closed rather than used (servers close idle
/// keep-alive connections after a minute or so).
const IDLE_FOR: Duration = Duration::from_secs(50);
/// The longest response head read.
const HEAD_MAX: usize = 16 * 1024;
/// The longest response body read (a created message is a few kilobytes).
const BODY_MAX: usize = 1 << 20;
/// The headers of a response read at most (Discord's answers, through Cloudflare, carry about
/// 25; more fails the create as a malformed answer).
const HEADERS_MAX: usize = 96;
/// A kept connection's buffer is shrunk back to this after a larger response.
const BUFFER_KEPT: usize = 8 * 1024;
/// How often a create answered 429 is sent again (after the wait Discord asks for).
const RATE_LIMITED_TRIES: u32 = 5;
/// The longest wait of a 429 honoured here, when the rate limiter does not wait it out (a
/// longer one fails the create).
const RATE_LIMITED_WAIT_MAX: Duration = Duration::from_secs(10);

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Where creates go: a plain-HTTP proxy or fake (`host:port`), or Discord over TLS.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    Plain(String),
    Tls {
        /// `host:port` connected to.
        address: String,
        /// The name the certificate must carry (and the `Host` header).
        host: String,
        /// The roots the certificate must chain to (tests: a private root).
        roots: Arc<rustls::RootCertStore>,
    },
}

impl Origin {
    /// Discord itself, its certificate checked against the Mozilla roots compiled in.
    pub(crate) fn discord() -> Self {
        Self::Tls {
            address: "discord.com:443".into(),
            host: "discord.com".into(),
            roots: Arc::new(rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            }),
        }
    }

    fn host(&self) -> &str {
        match self {
            Self::Plain(address) => address,
            Self::Tls { host, .. } => host,
        }
    }
}

/// A kept connection and its read buffer (empty between exchanges).
struct Conn {
    io: Box<dyn Io>,
    buf: Vec<u8>,
    since: Instant,
}

/// A response: its status, the rate-limit facts twilight's limiter learns from, its body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    limits: Limits,
    pub(crate) body: Vec<u8>,
}

/// The response head's fields a create acts on.
#[derive(Debug, Default)]
struct Head {
    status: u16,
    length: Option<usize>,
    chunked: bool,
    close: bool,
    limits: Limits,
}

/// The rate-limit headers, as twilight's client reads them.
#[derive(Debug, Default)]
struct Limits {
    scope: Option<Vec<u8>>,
    bucket: Option<Vec<u8>>,
    limit: Option<u16>,
    remaining: Option<u16>,
    reset_after: Option<f32>,
    retry_after: Option<u16>,
}

impl Limits {
    /// What the limiter is told (twilight-http's `parse_ratelimit_headers`: only a response
    /// with a scope carries a bucket; a global limit is the limiter's own business).
    fn headers(&self) -> Option<RateLimitHeaders> {
        match self.scope.as_deref()? {
            b"shared" => Some(RateLimitHeaders::shared(
                self.bucket.clone()?,
                self.retry_after?,
            )),
            b"user" => Some(RateLimitHeaders {
                bucket: self.bucket.clone()?,
                limit: self.limit?,
                remaining: self.remaining?,
                reset_at: Instant::now() + Duration::try_from_secs_f32(self.reset_after?).ok()?,
            }),
            _ => None,
        }
    }
}

/// Why an exchange failed, and whether it may be sent again on a new connection at once.
enum Failure {
    /// Nothing came back on a kept connection (closed while idle).
    Unanswered(std::io::Error),
    Broken(RestError),
}

impl Failure {
    fn into_error(self) -> RestError {
        match self {
            Self::Unanswered(e) => {
                RestError::Transport(format!("connection closed before a response: {e}"))
            }
            Self::Broken(e) => e,
        }
    }
}

/// Message creates on kept connections (see the module).
pub(crate) struct Creates {
    origin: Origin,
    /// `Host`, `Authorization`, `User-Agent` and `Content-Type` lines, written once.
    head: Box<[u8]>,
    timeout: Duration,
    limiter: Option<RateLimiter>,
    idle: Mutex<Vec<Conn>>,
    tls: OnceLock<tokio_rustls::TlsConnector>,
}

impl std::fmt::Debug for Creates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The head holds the token.
        f.debug_struct("Creates")
            .field("origin", &self.origin.host())
            .finish_non_exhaustive()
    }
}

impl Creates {
    /// Creates sent to `origin` with `authorization` (`Bot …`, as twilight's client holds it);
    /// `None` when the value cannot be a header (twilight's client then reports it).
    pub(crate) fn new(
        origin: Origin,
        authorization: &str,
        timeout: Duration,
        limiter: Option<RateLimiter>,
    ) -> Option<Self> {
        let header = |value: &str| {
            value
                .bytes()
                .all(|b| b == b'\t' || (b' '..0x7f).contains(&b))
        };
        if !header(authorization) || !header(origin.host()) {
            return None;
        }
        let head = format!(
            "Host: {}\r\nAuthorization: {authorization}\r\nUser-Agent: {}\r\nContent-Type: application/json\r\n",
            origin.host(),
            super::USER_AGENT,
        );
        Some(Self {
            origin,
            head: head.into_bytes().into_boxed_slice(),
            timeout,
            limiter,
            idle: Mutex::new(Vec::new()),
            tls: OnceLock::new(),
        })
    }

    /// Creates a message in `channel` with the JSON `body`: the body of Discord's 2xx answer,
    /// or the error. A 429 is waited out and the create sent again (through the rate limiter
    /// when there is one), as twilight does.
    pub(crate) async fn create(&self, channel: u64, body: &[u8]) -> Result<Vec<u8>, RestError> {
        let request = self.request(channel, body);
        let mut tries = 0;
        loop {
            let permit = match &self.limiter {
                Some(limiter) => {
                    let permit = limiter
                        .acquire(Endpoint {
                            method: Method::Post,
                            path: format!("channels/{channel}/messages"),
                        })
                        .await;
                    // The global slot this create was given went stale while it waited.
                    if !super::slot_is_fresh() {
                        return Err(RestError::Cancelled);
                    }
                    Some(permit)
                }
                None => None,
            };
            let answer = match tokio::time::timeout(self.timeout, self.exchange(&request)).await {
                Ok(answer) => answer?,
                Err(_) => return Err(RestError::TimedOut),
            };
            let bucket = answer.limits.headers();
            // The limiter waits the bucket out before its next permit; anything else (no
            // limiter, a global limit, a 429 without a bucket) is waited out here.
            let limiter_waits = permit.is_some() && bucket.is_some();
            if let Some(permit) = permit {
                permit.complete(bucket);
            }
            tracing::debug!(
                status = answer.status,
                bytes = answer.body.len(),
                "message create answered"
            );
            match answer.status {
                200..=299 => return Ok(answer.body),
                429 if tries < RATE_LIMITED_TRIES => {
                    tries += 1;
                    tracing::info!(request = "create message", "rate limited; retrying");
                    if !limiter_waits {
                        let wait = answer.retry_after();
                        if wait > RATE_LIMITED_WAIT_MAX {
                            return Err(RestError::from_response(answer.status, &answer.body));
                        }
                        tokio::time::sleep(wait).await;
                    }
                }
                status => return Err(RestError::from_response(status, &answer.body)),
            }
        }
    }

    /// The request's bytes: request line, the fixed head, the length, the body.
    fn request(&self, channel: u64, body: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut request = Vec::with_capacity(body.len() + self.head.len() + 96);
        // Writing to a Vec cannot fail.
        let _ = write!(
            request,
            "POST /api/v{}/channels/{channel}/messages HTTP/1.1\r\n",
            twilight_http::API_VERSION
        );
        request.extend_from_slice(&self.head);
        let _ = write!(request, "Content-Length: {}\r\n\r\n", body.len());
        request.extend_from_slice(body);
        request
    }

    /// One exchange: on a kept connection, or on a new one when there is none or the kept one
    /// turned out closed.
    async fn exchange(&self, request: &[u8]) -> Result<Answer, RestError> {
        if let Some(conn) = self.take() {
            match self.send_on(conn, request).await {
                // Closed while it was idle: a new connection.
                Err(Failure::Unanswered(_)) => {}
                answered => return answered.map_err(Failure::into_error),
            }
        }
        let conn = self.connect().await?;
        self.send_on(conn, request)
            .await
            .map_err(Failure::into_error)
    }

    /// Sends `request` on `conn`, which is kept afterwards when it can be used again.
    async fn send_on(&self, mut conn: Conn, request: &[u8]) -> Result<Answer, Failure> {
        let (answer, reusable) = conn.send(request).await?;
        if reusable {
            self.keep(conn);
        }
        Ok(answer)
    }

    fn take(&self) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(conn) = idle.pop() {
            if conn.since.elapsed() < IDLE_FOR {
                return Some(conn);
            }
        }
        None
    }

    fn keep(&self, mut conn: Conn) {
        conn.buf.clear();
        conn.buf.shrink_to(BUFFER_KEPT);
        conn.since = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        // The least recently used connection lies at the bottom; once a burst is over, the
        // connections it left are closed one by one as they age.
        if idle
            .first()
            .is_some_and(|oldest| oldest.since.elapsed() >= IDLE_FOR)
        {
            idle.remove(0);
        }
        if idle.len() < IDLE_MAX {
            idle.push(conn);
        }
    }

    async fn connect(&self) -> Result<Conn, RestError> {
        let transport =
            |what: &str, e: std::io::Error| RestError::Transport(format!("{what}: {e}"));
        let io: Box<dyn Io> = match &self.origin {
            Origin::Plain(address) => {
                let tcp = TcpStream::connect(address.as_str())
                    .await
                    .map_err(|e| transport("connect", e))?;
                let _ = tcp.set_nodelay(true);
                Box::new(tcp)
            }
            Origin::Tls {
                address,
                host,
                roots,
            } => {
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| RestError::Transport(format!("server name: {e}")))?;
                let tcp = TcpStream::connect(address.as_str())
                    .await
                    .map_err(|e| transport("connect", e))?;
                let _ = tcp.set_nodelay(true);
                let connector = self.tls.get_or_init(|| {
                    let mut config = rustls::ClientConfig::builder()
                        .with_root_certificates(Arc::clone(roots))
                        .with_no_client_auth();
                    config.alpn_protocols = vec![b"http/1.1".to_vec()];
                    tokio_rustls::TlsConnector::from(Arc::new(config))
                });
                Box::new(
                    connector
                        .connect(name, tcp)
                        .await
                        .map_err(|e| transport("TLS", e))?,
                )
            }
        };
        Ok(Conn {
            io,
            buf: Vec::with_capacity(2048),
            since: Instant::now(),
        })
    }
}

impl Answer {
    /// How long Discord asks to wait (`retry-after`, whole seconds; a second when it does not
    /// say).
    fn retry_after(&self) -> Duration {
        Duration::from_secs(u64::from(self.limits.retry_after.unwrap_or(1)))
    }
}

impl Conn {
    /// Writes `request` and reads its response; whether the connection can be used again.
    async fn send(&mut self, request: &[u8]) -> Result<(Answer, bool), Failure> {
        let unanswered = Failure::Unanswered;
        self.io.write_all(request).await.map_err(unanswered)?;
        self.io.flush().await.map_err(unanswered)?;
        self.buf.clear();
        let (head, head_len) = loop {
            if !self.buf.is_empty() {
                match parse_head(&self.buf)? {
                    // An informational response (100 Continue) precedes the real one, which
                    // may already be in the buffer.
                    Some((head, len)) if (100..200).contains(&head.status) => {
                        self.buf.drain(..len);
                        continue;
                    }
                    Some(done) => break done,
                    None if self.buf.len() > HEAD_MAX => {
                        return Err(broken("response head too long"));
                    }
                    None => {}
                }
            }
            let read = match self.read().await {
                Ok(read) => read,
                Err(e) if self.buf.is_empty() => return Err(unanswered(e)),
                Err(e) => return Err(io_broken(e)),
            };
            if read == 0 {
                return Err(if self.buf.is_empty() {
                    unanswered(std::io::ErrorKind::UnexpectedEof.into())
                } else {
                    broken("connection closed in the response head")
                });
            }
        };
        self.buf.drain(..head_len);
        let mut reusable = !head.close;
        let body = if head.chunked {
            self.chunked_body().await?
        } else if let Some(length) = head.length {
            if length > BODY_MAX {
                return Err(broken("response body too long"));
            }
            while self.buf.len() < length {
                if self.read().await.map_err(io_broken)? == 0 {
                    return Err(broken("connection closed in the response body"));
                }
            }
            reusable &= self.buf.len() == length;
            self.buf.truncate(length);
            std::mem::take(&mut self.buf)
        } else if head.status == 204 || head.status == 304 {
            Vec::new()
        } else {
            // Neither a length nor chunks: the body ends with the connection.
            reusable = false;
            while self.read().await.map_err(io_broken)? != 0 {
                if self.buf.len() > BODY_MAX {
                    return Err(broken("response body too long"));
                }
            }
            std::mem::take(&mut self.buf)
        };
        Ok((
            Answer {
                status: head.status,
                limits: head.limits,
                body,
            },
            reusable,
        ))
    }

    /// Reads more bytes into the buffer; 0 at the end of the stream.
    async fn read(&mut self) -> std::io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(4096);
        }
        self.io.read_buf(&mut self.buf).await
    }

    /// A chunked body, from the buffer's start (bytes after it make the connection unusable).
    async fn chunked_body(&mut self) -> Result<Vec<u8>, Failure> {
        let mut body = Vec::new();
        let mut at = 0;
        loop {
            match httparse::parse_chunk_size(&self.buf[at..]) {
                Ok(httparse::Status::Complete((len, 0))) => {
                    at += len;
                    // Trailers, then an empty line.
                    loop {
                        if let Some(end) = find_crlf(&self.buf[at..]) {
                            at += end + 2;
                            if end == 0 {
                                if at != self.buf.len() {
                                    return Err(broken("bytes after the response"));
                                }
                                return Ok(body);
                            }
                        } else if self.buf.len() - at > HEAD_MAX {
                            return Err(broken("response trailers too long"));
                        } else if self.read().await.map_err(io_broken)? == 0 {
                            return Err(broken("connection closed in the response trailers"));
                        }
                    }
                }
                Ok(httparse::Status::Complete((len, size))) => {
                    let size = usize::try_from(size)
                        .ok()
                        .filter(|size| body.len() + size <= BODY_MAX)
                        .ok_or_else(|| broken("response body too long"))?;
                    while self.buf.len() < at + len + size + 2 {
                        if self.read().await.map_err(io_broken)? == 0 {
                            return Err(broken("connection closed in the response body"));
                        }
                    }
                    let start = at + len;
                    body.extend_from_slice(&self.buf[start..start + size]);
                    if &self.buf[start + size..start + size + 2] != b"\r\n" {
                        return Err(broken("malformed chunk"));
                    }
                    at = start + size + 2;
                }
                Ok(httparse::Status::Partial) => {
                    if self.buf.len() - at > 64 {
                        return Err(broken("malformed chunk size"));
                    }
                    if self.read().await.map_err(io_broken)? == 0 {
                        return Err(broken("connection closed in the response body"));
                    }
                }
                Err(_) => return Err(broken("malformed chunk size")),
            }
        }
    }
}

fn broken(what: &str) -> Failure {
    Failure::Broken(RestError::Transport(what.to_owned()))
}

fn io_broken(e: std::io::Error) -> Failure {
    Failure::Broken(RestError::Transport(format!("reading the response: {e}")))
}

/// A header's value as trimmed text.
fn text(value: &[u8]) -> Option<&str> {
    std::str::from_utf8(value).ok().map(str::trim)
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

/// The response head at the buffer's start and its length; `None` while incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, Failure> {
    let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(broken(&format!("malformed response head: {e}"))),
    };
    let mut head = Head {
        status: response.code.unwrap_or_default(),
        close: response.version == Some(0),
        ..Head::default()
    };
    for header in response.headers.iter() {
        let value = header.value;
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            let length = text(value).and_then(|v| v.parse().ok());
            if length.is_none() || head.length.is_some_and(|l| Some(l) != length) {
                return Err(broken("malformed content-length"));
            }
            head.length = length;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Only chunked is ever sent to a request without an Accept-Encoding.
            head.chunked = text(value).is_some_and(|v| {
                v.rsplit(',')
                    .next()
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
            });
            if !head.chunked {
                return Err(broken("unsupported transfer-encoding"));
            }
        } else if name.eq_ignore_ascii_case("connection") {
            let close = text(value)
                .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")));
            head.close |= close;
        } else if name.eq_ignore_ascii_case(RateLimitHeaders::SCOPE) {
            head.limits.scope = Some(value.to_vec());
        } else if name.eq_ignore_ascii_case(RateLimitHeaders::BUCKET) {
            head.limits.bucket = Some(value.to_vec());
        } else if name.eq_ignore_ascii_case(RateLimitHeaders::LIMIT) {
            head.limits.limit = text(value).and_then(|v| v.parse().ok());
        } else if name.eq_ignore_ascii_case(RateLimitHeaders::REMAINING) {
            head.limits.remaining = text(value).and_then(|v| v.parse().ok());
        } else if name.eq_ignore_ascii_case(RateLimitHeaders::RESET_AFTER) {
            head.limits.reset_after = text(value).and_then(|v| v.parse().ok());
        } else if name.eq_ignore_ascii_case("retry-after") {
            head.limits.retry_after = text(value).and_then(|v| v.parse().ok());
        }
    }
    if head.chunked {
        // A length beside chunks is ignored (RFC 9112 §6.3), and the connection not trusted.
        if head.length.take().is_some() {
            head.close = true;
        }
    }
    Ok(Some((head, len)))
}

#[cfg(test)]
mod tests;
