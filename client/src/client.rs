//! [`Client`]: one keep-alive HTTP/1.1 connection to the issuer, over TLS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use ironroot_core::api::{self, CreateTokenRequest, CreateTokenResponse, ErrorResponse};
use ironroot_core::api::{SignRequest, SignResponse};
use ironroot_core::pemfile;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use serde::de::DeserializeOwned;
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::TlsConnector;
use zeroize::Zeroizing;

use crate::client_error::sanitize;
use crate::server_url::Host;
use crate::{Error, ServerUrl};

/// Largest response body accepted, in bytes. Certificates, chains and token
/// responses are a few kilobytes.
pub const MAX_RESPONSE_BODY: usize = 1024 * 1024;
/// Default connect and request timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Maximum length of a server message shown to a person, in characters.
const MAX_MESSAGE_CHARS: usize = 2000;
/// `User-Agent` header of every request.
const USER_AGENT: &str = concat!("ironroot-client/", env!("CARGO_PKG_VERSION"));

/// Time limits of a [`Client`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Limit for opening a connection: name resolution, TCP and the TLS handshake.
    pub connect: Duration,
    /// Limit for one request: connecting if needed, sending, and reading the
    /// whole response.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: DEFAULT_TIMEOUT,
            request: DEFAULT_TIMEOUT,
        }
    }
}

/// Transport to the server: TLS, or plain TCP for loopback only.
enum Transport {
    Tls {
        connector: TlsConnector,
        server_name: ServerName<'static>,
    },
    /// Plain HTTP, allowed only to loopback addresses.
    Plain,
}

/// A client of the issuer API over one HTTP/1.1 connection that is kept
/// alive between requests and reopened when the server closed it.
///
/// Requests on one `Client` run one at a time; create several clients for
/// concurrent requests. Building a client parses nothing per request: the TLS
/// configuration is shared and the connection is reused.
pub struct Client {
    server: ServerUrl,
    transport: Transport,
    timeouts: Timeouts,
    host_header: HeaderValue,
    connection: Mutex<Option<SendRequest<Full<Bytes>>>>,
}

/// A complete response: status, request id and body.
struct Reply {
    status: StatusCode,
    request_id: Option<String>,
    /// The `retry-after` header in seconds, when it is a whole number.
    retry_after_seconds: Option<u64>,
    body: Bytes,
}

/// Outcome of one attempt to send a request on the current connection.
enum Attempt {
    Done(Result<Reply, Error>),
    /// The connection was closed before the request was written, so it can be
    /// sent again on a new connection without the server seeing it twice.
    Unsent(Request<Full<Bytes>>),
}

impl Client {
    /// Creates a client for `server`. `tls` is required for `https://` URLs and
    /// must be `None` for `http://` URLs. No connection is opened until the
    /// first request.
    pub fn new(
        server: ServerUrl,
        tls: Option<Arc<ClientConfig>>,
        timeouts: Timeouts,
    ) -> Result<Self, Error> {
        let transport = match (server.is_tls(), tls) {
            (true, Some(config)) => Transport::Tls {
                connector: TlsConnector::from(config),
                server_name: server.server_name()?,
            },
            (false, None) => Transport::Plain,
            (true, None) => {
                return Err(Error::TlsConfig(format!(
                    "{server} uses https:// but no TLS configuration was given"
                )));
            }
            (false, Some(_)) => {
                return Err(Error::TlsConfig(format!(
                    "{server} uses plain http:// but a TLS configuration was given"
                )));
            }
        };
        let host_header =
            HeaderValue::from_str(&server.authority()).map_err(|_| Error::InvalidServerUrl {
                url: server.to_string(),
                reason: "the host cannot be sent in a Host header".to_owned(),
            })?;
        Ok(Self {
            server,
            transport,
            timeouts,
            host_header,
            connection: Mutex::new(None),
        })
    }

    /// Returns the server URL.
    pub fn server(&self) -> &ServerUrl {
        &self.server
    }

    /// Calls `GET /healthz` and succeeds when the server returns 200.
    pub async fn health(&self) -> Result<(), Error> {
        let reply = self
            .execute(Method::GET, api::HEALTH_PATH, None, None)
            .await?;
        self.expect_status(api::HEALTH_PATH, &reply, StatusCode::OK)
    }

    /// Calls `GET /v1/root` and returns the root certificate's DER. Nothing in
    /// this call checks the certificate; see [`crate::tls::fetch_root_unverified`].
    pub async fn get_root(&self) -> Result<Vec<u8>, Error> {
        let reply = self
            .execute(Method::GET, api::ROOT_PATH, None, None)
            .await?;
        self.expect_status(api::ROOT_PATH, &reply, StatusCode::OK)?;
        let description = format!("root certificate from {}{}", self.server, api::ROOT_PATH);
        Ok(pemfile::parse_single(
            &reply.body,
            pemfile::CERTIFICATE,
            &description,
        )?)
    }

    /// Calls `GET /v1/chain` and returns the DER certificates in the order
    /// served: intermediates, then the root.
    pub async fn get_chain(&self) -> Result<Vec<Vec<u8>>, Error> {
        let reply = self
            .execute(Method::GET, api::CHAIN_PATH, None, None)
            .await?;
        self.expect_status(api::CHAIN_PATH, &reply, StatusCode::OK)?;
        let description = format!("chain from {}{}", self.server, api::CHAIN_PATH);
        Ok(pemfile::parse_all(
            &reply.body,
            pemfile::CERTIFICATE,
            &description,
        )?)
    }

    /// Calls `POST /v1/sign` with a PEM CSR. The token travels only in the
    /// `Authorization: Bearer` header.
    pub async fn sign(&self, csr_pem: &str, token: &str) -> Result<SignResponse, Error> {
        let body = json_body(&SignRequest {
            csr: csr_pem.to_owned(),
            validity_seconds: None,
        })?;
        // NOTE: the HeaderValue copies the token into a buffer of its own,
        // which is freed but not zeroized after the request.
        let bearer = Zeroizing::new(format!("Bearer {token}"));
        let mut authorization = HeaderValue::from_str(&bearer).map_err(|_| {
            Error::InvalidRequest(
                "the token contains characters that are not allowed in an HTTP header".to_owned(),
            )
        })?;
        authorization.set_sensitive(true);
        let reply = self
            .execute(
                Method::POST,
                api::SIGN_PATH,
                Some(body),
                Some(authorization),
            )
            .await?;
        self.expect_json(api::SIGN_PATH, reply, StatusCode::OK)
    }

    /// Calls `POST /v1/renew` with a PEM CSR. The current certificate must be
    /// the client certificate of the TLS configuration given to [`Client::new`].
    pub async fn renew(
        &self,
        csr_pem: &str,
        validity_seconds: Option<u64>,
    ) -> Result<SignResponse, Error> {
        let body = json_body(&api::RenewRequest {
            csr: csr_pem.to_owned(),
            validity_seconds,
        })?;
        let reply = self
            .execute(Method::POST, api::RENEW_PATH, Some(body), None)
            .await?;
        self.expect_json(api::RENEW_PATH, reply, StatusCode::OK)
    }

    /// Calls `POST /v1/admin/tokens`. The server requires an admin client
    /// certificate, configured in the TLS configuration given to [`Client::new`].
    pub async fn create_token(
        &self,
        request: &CreateTokenRequest,
    ) -> Result<CreateTokenResponse, Error> {
        let body = json_body(request)?;
        let reply = self
            .execute(Method::POST, api::ADMIN_TOKENS_PATH, Some(body), None)
            .await?;
        self.expect_json(api::ADMIN_TOKENS_PATH, reply, StatusCode::CREATED)
    }

    /// Calls `POST /v1/admin/revoke` (admin client certificate required).
    pub async fn revoke(&self, request: &api::RevokeRequest) -> Result<api::RevokeResponse, Error> {
        let body = json_body(request)?;
        let reply = self
            .execute(Method::POST, api::ADMIN_REVOKE_PATH, Some(body), None)
            .await?;
        self.expect_json(api::ADMIN_REVOKE_PATH, reply, StatusCode::OK)
    }

    /// Calls `GET /v1/admin/intermediates` (admin client certificate required).
    pub async fn intermediates(&self) -> Result<api::IntermediatesResponse, Error> {
        let reply = self
            .execute(Method::GET, api::ADMIN_INTERMEDIATES_PATH, None, None)
            .await?;
        self.expect_json(api::ADMIN_INTERMEDIATES_PATH, reply, StatusCode::OK)
    }

    /// Calls `POST /v1/admin/intermediates/activate` (admin client
    /// certificate required) and returns the intermediates afterwards.
    pub async fn activate_intermediate(
        &self,
        request: &api::ActivateRequest,
    ) -> Result<api::IntermediatesResponse, Error> {
        let body = json_body(request)?;
        let reply = self
            .execute(Method::POST, api::ADMIN_ACTIVATE_PATH, Some(body), None)
            .await?;
        self.expect_json(api::ADMIN_ACTIVATE_PATH, reply, StatusCode::OK)
    }

    /// Calls `GET path_and_query` and decodes a 200 JSON response. For the
    /// admin listing endpoints, which take query parameters.
    pub async fn get_json<T: DeserializeOwned>(&self, path_and_query: &str) -> Result<T, Error> {
        let reply = self
            .execute(Method::GET, path_and_query, None, None)
            .await?;
        self.expect_json(path_and_query, reply, StatusCode::OK)
    }

    /// Calls `POST path` with an optional JSON body and decodes a 200 JSON response.
    pub async fn post_json<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, Error> {
        let body = body.map(json_body).transpose()?;
        let reply = self.execute(Method::POST, path, body, None).await?;
        self.expect_json(path, reply, StatusCode::OK)
    }

    async fn execute(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        authorization: Option<HeaderValue>,
    ) -> Result<Reply, Error> {
        let request = self.build_request(method.clone(), path, body, authorization)?;
        let mut connection = self.connection.lock().await;
        let exchange = self.exchange(&mut connection, request, &method, path);
        match tokio::time::timeout(self.timeouts.request, exchange).await {
            Ok(result) => result,
            Err(_elapsed) => {
                // The connection may still carry the abandoned response.
                *connection = None;
                Err(Error::RequestTimeout {
                    method: method.to_string(),
                    server: self.server.to_string(),
                    path: path.to_owned(),
                    seconds: self.timeouts.request.as_secs(),
                })
            }
        }
    }

    fn build_request(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        authorization: Option<HeaderValue>,
    ) -> Result<Request<Full<Bytes>>, Error> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.host_header.clone())
            .header(header::USER_AGENT, USER_AGENT)
            .header(
                header::ACCEPT,
                "application/json, application/pem-certificate-chain",
            );
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        if let Some(value) = authorization {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|error| {
                Error::InvalidRequest(format!("cannot build the request to {path} ({error})"))
            })
    }

    /// Sends `request`, opening a connection if there is none, and opens one
    /// new connection if the kept-alive one was closed before the request left.
    async fn exchange(
        &self,
        connection: &mut Option<SendRequest<Full<Bytes>>>,
        request: Request<Full<Bytes>>,
        method: &Method,
        path: &str,
    ) -> Result<Reply, Error> {
        let reused = connection
            .as_ref()
            .is_some_and(|sender| !sender.is_closed());
        match self.attempt(connection, request, method, path).await? {
            Attempt::Done(result) => result,
            Attempt::Unsent(request) if reused => {
                tracing::debug!(server = %self.server, "kept-alive connection closed, reconnecting");
                match self.attempt(connection, request, method, path).await? {
                    Attempt::Done(result) => result,
                    Attempt::Unsent(_) => Err(self.closed_error(method, path)),
                }
            }
            Attempt::Unsent(_) => Err(self.closed_error(method, path)),
        }
    }

    async fn attempt(
        &self,
        connection: &mut Option<SendRequest<Full<Bytes>>>,
        request: Request<Full<Bytes>>,
        method: &Method,
        path: &str,
    ) -> Result<Attempt, Error> {
        let sender = match connection {
            Some(sender) if !sender.is_closed() => sender,
            _ => connection.insert(self.connect().await?),
        };
        if sender.ready().await.is_err() {
            *connection = None;
            return Ok(Attempt::Unsent(request));
        }
        match sender.try_send_request(request).await {
            Ok(response) => Ok(Attempt::Done(self.read_reply(response, path).await)),
            Err(mut error) => {
                *connection = None;
                match error.take_message() {
                    Some(request) => Ok(Attempt::Unsent(request)),
                    None => Ok(Attempt::Done(Err(Error::Http {
                        method: method.to_string(),
                        server: self.server.to_string(),
                        path: path.to_owned(),
                        source: error.into_error(),
                    }))),
                }
            }
        }
    }

    fn closed_error(&self, method: &Method, path: &str) -> Error {
        Error::Connect {
            server: self.server.to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                format!("the server closed the connection before {method} {path} was sent"),
            ),
        }
    }

    async fn read_reply(&self, response: Response<Incoming>, path: &str) -> Result<Reply, Error> {
        let status = response.status();
        let request_id = response
            .headers()
            .get(api::REQUEST_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(|value| sanitize(value, 128));
        let retry_after_seconds = response
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok());
        let limited = Limited::new(response.into_body(), MAX_RESPONSE_BODY);
        let body = match limited.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.is::<LengthLimitError>() => {
                return Err(Error::ResponseTooLarge {
                    path: path.to_owned(),
                    limit: MAX_RESPONSE_BODY,
                });
            }
            Err(error) => {
                return Err(Error::UnexpectedResponse {
                    path: path.to_owned(),
                    status: status.as_u16(),
                    detail: format!("reading the body failed ({error})"),
                    request_id: request_id.unwrap_or_else(|| "none".to_owned()),
                });
            }
        };
        Ok(Reply {
            status,
            request_id,
            retry_after_seconds,
            body,
        })
    }

    fn expect_status(&self, path: &str, reply: &Reply, expected: StatusCode) -> Result<(), Error> {
        if reply.status == expected {
            return Ok(());
        }
        Err(error_from_reply(path, reply))
    }

    fn expect_json<T: DeserializeOwned>(
        &self,
        path: &str,
        reply: Reply,
        expected: StatusCode,
    ) -> Result<T, Error> {
        self.expect_status(path, &reply, expected)?;
        serde_json::from_slice(&reply.body).map_err(|error| Error::UnexpectedResponse {
            path: path.to_owned(),
            status: reply.status.as_u16(),
            detail: format!("the JSON body does not match the API ({error})"),
            request_id: reply
                .request_id
                .clone()
                .unwrap_or_else(|| "none".to_owned()),
        })
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, Error> {
        let seconds = self.timeouts.connect.as_secs();
        tokio::time::timeout(self.timeouts.connect, self.open_connection())
            .await
            .map_err(|_elapsed| Error::ConnectTimeout {
                server: self.server.to_string(),
                seconds,
            })?
    }

    async fn open_connection(&self) -> Result<SendRequest<Full<Bytes>>, Error> {
        let tcp = self.connect_tcp().await?;
        match &self.transport {
            Transport::Tls {
                connector,
                server_name,
            } => {
                let tls = connector
                    .connect(server_name.clone(), tcp)
                    .await
                    .map_err(|source| Error::Tls {
                        server: self.server.to_string(),
                        source,
                    })?;
                self.handshake(TokioIo::new(tls)).await
            }
            Transport::Plain => self.handshake(TokioIo::new(tcp)).await,
        }
    }

    async fn handshake<T>(&self, io: TokioIo<T>) -> Result<SendRequest<Full<Bytes>>, Error>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, connection) = http1::handshake(io).await.map_err(|source| Error::Http {
            method: "CONNECT".to_owned(),
            server: self.server.to_string(),
            path: String::new(),
            source,
        })?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "issuer connection ended with an error");
            }
        });
        Ok(sender)
    }

    async fn connect_tcp(&self) -> Result<TcpStream, Error> {
        let addresses = self.resolve().await?;
        let mut last_error = None;
        for address in addresses {
            if !self.server.is_tls() && !address.ip().is_loopback() {
                return Err(Error::PlainHttpNotLoopback {
                    server: self.server.to_string(),
                    address,
                });
            }
            match TcpStream::connect(address).await {
                Ok(stream) => {
                    // Requests are small and latency-bound; do not wait for Nagle.
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(Error::Connect {
            server: self.server.to_string(),
            source: last_error.unwrap_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "the host has no address")
            }),
        })
    }

    async fn resolve(&self) -> Result<Vec<SocketAddr>, Error> {
        let port = self.server.port();
        match self.server.host() {
            Host::Ip(ip) => Ok(vec![SocketAddr::new(*ip, port)]),
            Host::Dns(name) => tokio::net::lookup_host((name.as_str(), port))
                .await
                .map(Iterator::collect)
                .map_err(|source| Error::Connect {
                    server: self.server.to_string(),
                    source,
                }),
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Client({})", self.server)
    }
}

fn json_body<T: serde::Serialize>(value: &T) -> Result<Bytes, Error> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|error| Error::InvalidRequest(format!("failed to encode the JSON body ({error})")))
}

fn error_from_reply(path: &str, reply: &Reply) -> Error {
    let request_id = reply.request_id.clone();
    match serde_json::from_slice::<ErrorResponse>(&reply.body) {
        Ok(body) => Error::Server {
            status: reply.status.as_u16(),
            code: sanitize(&body.error, 64),
            message: sanitize(&body.message, MAX_MESSAGE_CHARS),
            request_id: request_id.unwrap_or_else(|| sanitize(&body.request_id, 128)),
            retry_after_seconds: reply.retry_after_seconds,
        },
        Err(_) => Error::UnexpectedResponse {
            path: path.to_owned(),
            status: reply.status.as_u16(),
            detail: format!(
                "the body is not an IronRoot error response: `{}`",
                sanitize(&String::from_utf8_lossy(&reply.body), 200)
            ),
            request_id: request_id.unwrap_or_else(|| "none".to_owned()),
        },
    }
}
