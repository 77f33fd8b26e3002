//! Withdrawing an operator's access: a revoked admin credential is refused.

mod common;

use common::{Host, TestRequest, create_token};
use hyper::StatusCode;
use ironroot_core::cert::CertificateInfo;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_admin_credential_is_refused() {
    let (mut host, _pki) = Host::ready();
    let alice = host.admin_credential("alice");
    let bob = host.admin_credential("bob");
    let daemon = host.start(&[]);

    // Bob is an admin until his certificate is revoked.
    create_token(&daemon, &bob, &["before.example"], None).await;
    let bob_serial = CertificateInfo::parse(bob.chain[0].as_ref(), "bob")
        .unwrap()
        .serial_hex();
    let body = serde_json::to_vec(&serde_json::json!({
        "serial": bob_serial,
        "reason": "keyCompromise",
    }))
    .unwrap();
    let revoked = daemon
        .send(TestRequest {
            method: None,
            path: "/v1/admin/revoke",
            bearer: None,
            body: Some(body),
            client: Some(&alice),
        })
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.message());

    let body = serde_json::to_vec(&serde_json::json!({ "names": ["after.example"] })).unwrap();
    let refused = daemon
        .send(TestRequest {
            method: None,
            path: "/v1/admin/tokens",
            bearer: None,
            body: Some(body),
            client: Some(&bob),
        })
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.error_code(), "admin_required");
    assert!(
        refused.message().contains("revoked"),
        "{}",
        refused.message()
    );

    // Alice keeps her access.
    create_token(&daemon, &alice, &["still.example"], None).await;
}
