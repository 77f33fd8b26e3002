//! `GET /v1/root` and `GET /v1/chain`: the public certificates as PEM.

use http_body_util::Full;
use hyper::Response;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};

use super::Body;

/// Returns a precomputed PEM body with the `application/pem-certificate-chain`
/// media type (RFC 8555 section 9.1).
pub(super) fn pem_chain(pem: Bytes) -> Response<Body> {
    let mut response = Response::new(Full::new(pem));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/pem-certificate-chain"),
    );
    response
}
