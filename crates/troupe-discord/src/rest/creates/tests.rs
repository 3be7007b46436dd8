//! Creates against scripted servers on loopback: what is written, how each kind of answer is
//! read, which connections are used again, and what each failure becomes.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use troupe_ports::PlatformError;

use super::*;

const TOKEN: &str = "Bot secret.token.value";
const BODY: &[u8] = br#"{"nonce":"1-0","enforce_nonce":true,"content":"hi"}"#;
const CREATED: &str = r#"{"id":"1234","content":"hi"}"#;

/// A server on loopback running `answer` for every connection (with the connection's number,
/// from 0); the address and the count of connections taken.
async fn server<F, Fut>(answer: F) -> (String, Arc<AtomicUsize>)
where
    F: Fn(TcpStream, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(answer(stream, n));
        }
    });
    (address, accepted)
}

/// Reads one request (head and a `Content-Length` body); `None` at the end of the stream.
async fn request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    loop {
        let mut chunk = [0; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut parsed = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(head)) = parsed.parse(&buf) {
            let length: usize = parsed
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .map_or(0, |h| {
                    std::str::from_utf8(h.value).unwrap().parse().unwrap()
                });
            if buf.len() >= head + length {
                return Some(buf);
            }
        }
    }
}

fn creates(address: &str) -> Creates {
    Creates::new(
        Origin::Plain(address.to_owned()),
        TOKEN,
        Duration::from_secs(5),
        None,
    )
    .unwrap()
}

fn ok(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn a_create_is_one_request_with_the_head_written_once_and_its_connection_is_kept() {
    let (address, accepted) = server(|mut stream, _| async move {
        while let Some(request) = request(&mut stream).await {
            let text = String::from_utf8(request).unwrap();
            let expected_line = format!(
                "POST /api/v{}/channels/42/messages HTTP/1.1\r\n",
                twilight_http::API_VERSION
            );
            assert!(text.starts_with(&expected_line), "{text}");
            assert!(
                text.contains(&format!("\r\nAuthorization: {TOKEN}\r\n")),
                "{text}"
            );
            assert!(
                text.contains("\r\nContent-Type: application/json\r\n"),
                "{text}"
            );
            assert!(text.contains(&format!("\r\nContent-Length: {}\r\n\r\n", BODY.len())));
            assert!(text.ends_with(std::str::from_utf8(BODY).unwrap()), "{text}");
            stream.write_all(ok(CREATED).as_bytes()).await.unwrap();
        }
    })
    .await;
    let creates = creates(&address);
    for _ in 0..3 {
        let body = creates.create(42, BODY).await.unwrap();
        assert_eq!(body, CREATED.as_bytes());
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one kept connection");
    assert!(
        !format!("{creates:?}").contains("secret"),
        "the token is never printed"
    );
}

#[tokio::test]
async fn a_chunked_answer_is_read_to_its_end_and_the_connection_kept() {
    let (address, accepted) = server(|mut stream, _| async move {
        while request(&mut stream).await.is_some() {
            // Chunks, a chunk extension and a trailer, written in pieces.
            let parts = [
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
                "5;ext=1\r\n{\"id\"\r\n",
                "1",
                "7\r\n:\"1234\",\"content\":\"hi\"}\r\n",
                "0\r\nx-trailer: 1\r\n\r\n",
            ];
            for part in parts {
                stream.write_all(part.as_bytes()).await.unwrap();
                stream.flush().await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    })
    .await;
    let creates = creates(&address);
    for _ in 0..2 {
        let body = creates.create(42, BODY).await.unwrap();
        assert_eq!(body, CREATED.as_bytes());
        assert_eq!(crate::rest::created_id_in(&body).unwrap().get(), 1234);
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_kept_connection_closed_while_idle_is_replaced_at_once() {
    // Every connection answers one request and closes without saying so.
    let (address, accepted) = server(|mut stream, _| async move {
        if request(&mut stream).await.is_some() {
            stream.write_all(ok(CREATED).as_bytes()).await.unwrap();
        }
    })
    .await;
    let creates = creates(&address);
    for _ in 0..3 {
        creates.create(42, BODY).await.unwrap();
        // Let the server's close arrive.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_connection_the_server_closes_is_not_kept_and_a_close_delimited_body_is_read() {
    let (address, accepted) = server(|mut stream, _| async move {
        if request(&mut stream).await.is_some() {
            let answer = format!("HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{CREATED}");
            stream.write_all(answer.as_bytes()).await.unwrap();
        }
    })
    .await;
    let creates = creates(&address);
    for _ in 0..2 {
        assert_eq!(creates.create(42, BODY).await.unwrap(), CREATED.as_bytes());
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_answer_cut_short_is_an_ambiguous_failure_and_not_sent_again() {
    let (address, accepted) = server(|mut stream, _| async move {
        if request(&mut stream).await.is_some() {
            let answer = "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"id\":";
            stream.write_all(answer.as_bytes()).await.unwrap();
        }
    })
    .await;
    let creates = creates(&address);
    let error = creates.create(42, BODY).await.unwrap_err();
    assert!(matches!(error, RestError::Transport(_)), "{error:?}");
    assert!(
        error.is_ambiguous(),
        "the create may have been made: worth another try"
    );
    assert_eq!(error.to_platform(), PlatformError::Unavailable);
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "not sent again by the exchange"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let (address, _) = server(|mut stream, _| async move {
        let _ = request(&mut stream).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let creates = Creates::new(
        Origin::Plain(address),
        TOKEN,
        Duration::from_millis(200),
        None,
    )
    .unwrap();
    let error = creates.create(42, BODY).await.unwrap_err();
    assert!(matches!(error, RestError::TimedOut), "{error:?}");
    assert!(error.is_ambiguous());
}

#[tokio::test]
async fn error_answers_keep_discords_code_and_a_proxy_page_is_ambiguous() {
    let (address, _) = server(|mut stream, n| async move {
        while request(&mut stream).await.is_some() {
            let answer = if n == 0 {
                let body = r#"{"message": "Missing Permissions", "code": 50013}"#;
                format!(
                    "HTTP/1.1 403 Forbidden\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                )
            } else {
                let body = "<html>502 Bad Gateway</html>";
                format!(
                    "HTTP/1.1 502 Bad Gateway\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                )
            };
            stream.write_all(answer.as_bytes()).await.unwrap();
        }
    })
    .await;
    let creates = creates(&address);
    let denied = creates.create(42, BODY).await.unwrap_err();
    assert_eq!(
        denied.discord_code(),
        Some(crate::rest::code::MISSING_PERMISSIONS)
    );
    assert!(!denied.is_ambiguous());
    assert!(matches!(
        denied.to_platform(),
        PlatformError::MissingPermission(_)
    ));
    assert_eq!(
        denied.to_string(),
        "Discord answered 403: Missing Permissions (code 50013)"
    );
    // A second client, so that a second connection (the 502 script) answers.
    let creates = super::Creates::new(
        Origin::Plain(creates.origin.host().to_owned()),
        TOKEN,
        Duration::from_secs(5),
        None,
    )
    .unwrap();
    let gateway = creates.create(42, BODY).await.unwrap_err();
    assert_eq!(gateway.discord_code(), None);
    assert!(gateway.is_ambiguous(), "{gateway:?}");
}

#[tokio::test]
async fn an_informational_answer_before_the_real_one_is_skipped() {
    let (address, accepted) = server(|mut stream, _| async move {
        while request(&mut stream).await.is_some() {
            // Both in one write: the real answer is already read with the informational one.
            let answer = format!("HTTP/1.1 100 Continue\r\n\r\n{}", ok(CREATED));
            stream.write_all(answer.as_bytes()).await.unwrap();
        }
    })
    .await;
    let creates = creates(&address);
    for _ in 0..2 {
        assert_eq!(creates.create(42, BODY).await.unwrap(), CREATED.as_bytes());
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_answer_with_many_headers_is_read() {
    // More than a proxy in front of Discord usually adds (cookies, reports, security headers).
    let (address, _) = server(|mut stream, _| async move {
        while request(&mut stream).await.is_some() {
            let mut headers = String::new();
            for i in 0..80 {
                headers.push_str(&format!("x-h{i}: v\r\n"));
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\n{headers}content-length: {}\r\n\r\n{CREATED}",
                CREATED.len()
            );
            stream.write_all(answer.as_bytes()).await.unwrap();
        }
    })
    .await;
    assert_eq!(
        creates(&address).create(42, BODY).await.unwrap(),
        CREATED.as_bytes()
    );
}

#[tokio::test]
async fn malformed_answers_are_transport_failures() {
    for answer in [
        "NOT HTTP AT ALL\r\n\r\n",
        "HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}",
    ] {
        let (address, _) = server(move |mut stream, _| async move {
            if request(&mut stream).await.is_some() {
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        })
        .await;
        let error = creates(&address).create(42, BODY).await.unwrap_err();
        assert!(
            matches!(error, RestError::Transport(_)),
            "{answer:?}: {error:?}"
        );
    }
}

/// A server whose every connection answers its first request with a 429 carrying `headers`,
/// and every later one with a created message.
async fn limited_once(headers: &'static str) -> String {
    let (address, _) = server(move |mut stream, _| async move {
        let mut first = true;
        while request(&mut stream).await.is_some() {
            let answer = if first {
                let body = r#"{"message": "You are being rate limited.", "retry_after": 1}"#;
                format!(
                    "HTTP/1.1 429 Too Many Requests\r\n{headers}content-length: {}\r\n\r\n{body}",
                    body.len()
                )
            } else {
                ok(CREATED)
            };
            first = false;
            stream.write_all(answer.as_bytes()).await.unwrap();
        }
    })
    .await;
    address
}

fn with_limiter(address: String) -> Creates {
    Creates::new(
        Origin::Plain(address),
        TOKEN,
        Duration::from_secs(5),
        Some(RateLimiter::default()),
    )
    .unwrap()
}

#[tokio::test]
async fn a_429_is_waited_out_and_sent_again() {
    let address = limited_once(
        "retry-after: 1\r\nx-ratelimit-scope: user\r\nx-ratelimit-bucket: abc\r\nx-ratelimit-limit: 5\r\nx-ratelimit-remaining: 0\r\nx-ratelimit-reset-after: 0.1\r\n",
    )
    .await;
    // Without a limiter: the wait Discord asks for, then the create again.
    let started = Instant::now();
    assert_eq!(
        creates(&address).create(42, BODY).await.unwrap(),
        CREATED.as_bytes()
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
    // With twilight's limiter: it learns the bucket and hands out the next permit.
    let limited = with_limiter(address);
    assert_eq!(limited.create(42, BODY).await.unwrap(), CREATED.as_bytes());
}

#[tokio::test]
async fn a_429_without_a_bucket_is_waited_out_even_with_a_limiter() {
    // A global 429 (twilight's limiter learns nothing from it) is not sent again at once.
    let address =
        limited_once("retry-after: 1\r\nx-ratelimit-global: true\r\nx-ratelimit-scope: global\r\n")
            .await;
    let started = Instant::now();
    assert_eq!(
        with_limiter(address).create(42, BODY).await.unwrap(),
        CREATED.as_bytes()
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn a_create_still_limited_after_five_waits_is_unavailable() {
    let (address, accepted) = server(|mut stream, _| async move {
        while request(&mut stream).await.is_some() {
            let answer =
                "HTTP/1.1 429 Too Many Requests\r\nretry-after: 0\r\ncontent-length: 0\r\n\r\n";
            stream.write_all(answer.as_bytes()).await.unwrap();
        }
    })
    .await;
    let error = creates(&address).create(42, BODY).await.unwrap_err();
    assert!(
        matches!(error, RestError::Status { status: 429, .. }),
        "{error:?}"
    );
    assert!(!error.is_ambiguous());
    assert_eq!(error.to_platform(), PlatformError::Unavailable);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn the_rate_limit_headers_are_read_as_twilight_reads_them() {
    let head = "HTTP/1.1 429 Too Many Requests\r\nX-RateLimit-Scope: shared\r\nX-RateLimit-Bucket: b1\r\nRetry-After: 3\r\n\r\n";
    let Ok(Some((head, _))) = parse_head(head.as_bytes()) else {
        panic!("a head");
    };
    let headers = head.limits.headers().unwrap();
    assert_eq!(headers.bucket, b"b1");
    // No scope: nothing for the limiter (twilight-http's own parser does the same).
    let plain = "HTTP/1.1 200 OK\r\nX-RateLimit-Bucket: b1\r\nX-RateLimit-Remaining: 4\r\n\r\n";
    let Ok(Some((plain, _))) = parse_head(plain.as_bytes()) else {
        panic!("a head");
    };
    assert!(plain.limits.headers().is_none());
}

#[test]
fn a_token_or_host_that_cannot_be_a_header_is_refused() {
    let origin = || Origin::Plain("127.0.0.1:1".into());
    assert!(Creates::new(origin(), "Bot a\r\nX-Evil: 1", Duration::from_secs(1), None).is_none());
    assert!(Creates::new(origin(), "Bot ok", Duration::from_secs(1), None).is_some());
    let host = Origin::Plain("evil\r\nhost".into());
    assert!(Creates::new(host, "Bot ok", Duration::from_secs(1), None).is_none());
}

/// A TLS server on loopback for `localhost`, its certificate issued by a private test root
/// (the three DER files beside this one, made for these tests with openssl, valid until 2126).
async fn tls_server() -> String {
    crate::install_crypto_provider();
    let certificate =
        rustls::pki_types::CertificateDer::from(include_bytes!("test-localhost.der").to_vec());
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
        include_bytes!("test-localhost.key.der").to_vec().into(),
    );
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certificate], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let (address, _) = server(move |stream, _| {
        let acceptor = acceptor.clone();
        async move {
            let Ok(mut tls) = acceptor.accept(stream).await else {
                return;
            };
            let mut buf = Vec::new();
            loop {
                let mut chunk = [0; 4096];
                let Ok(n) = tls.read(&mut chunk).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                if buf.ends_with(BODY) {
                    assert!(buf.starts_with(b"POST "));
                    buf.clear();
                    tls.write_all(ok(CREATED).as_bytes()).await.unwrap();
                    tls.flush().await.unwrap();
                }
            }
        }
    })
    .await;
    address
}

fn tls_creates(address: String, roots: rustls::RootCertStore) -> Creates {
    let origin = Origin::Tls {
        address,
        host: "localhost".into(),
        roots: Arc::new(roots),
    };
    Creates::new(origin, TOKEN, Duration::from_secs(5), None).unwrap()
}

#[tokio::test]
async fn creates_over_tls_check_the_certificate_against_the_given_roots() {
    let address = tls_server().await;
    let mut private = rustls::RootCertStore::empty();
    private
        .add(rustls::pki_types::CertificateDer::from(
            include_bytes!("test-ca.der").to_vec(),
        ))
        .unwrap();
    let creates = tls_creates(address.clone(), private);
    for _ in 0..2 {
        assert_eq!(creates.create(42, BODY).await.unwrap(), CREATED.as_bytes());
    }
    // Discord's roots (the Mozilla ones) do not know the test root: no request leaves.
    let Origin::Tls { roots, .. } = Origin::discord() else {
        panic!("Discord is reached over TLS");
    };
    let refused = tls_creates(address, (*roots).clone());
    let error = refused.create(42, BODY).await.unwrap_err();
    assert!(error.to_string().contains("TLS"), "{error}");
}
