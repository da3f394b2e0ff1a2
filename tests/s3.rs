//! `s3://bucket/key` end to end: bundles put with the publisher's S3 primitive into a real
//! S3-compatible server on 127.0.0.1 that checks SigV4 (`s3s-fs`), then booted by the real
//! `bundle-bootstrap` with keys from the environment or from an IMDSv2 test server's instance role.

use std::fs;
use std::net::TcpListener;
use std::path::Path;

use startup_bundle::aws::credentials::{CredentialSource, Credentials};
use startup_bundle::publish::s3::{S3Config, S3Destination, S3Error};

use crate::support::http::{Behaviour, Server};
use crate::support::imds::{Imds, Instance};
use crate::support::s3_server::{ACCESS_KEY, S3Server, SECRET_KEY};
use crate::support::{
    AWS_VARS, Boot, ITER, PASS, Pass, boot, bundle, keygen, pack_signed, packed_shop, personality,
    run, scratch,
};

const BUCKET: &str = "bundles";
const KEY: &str = "releases/shop 1.bundle";

/// The publisher's view of the test server, with `secret`.
fn destination(server: &S3Server, secret: &str) -> S3Destination {
    let config = S3Config {
        endpoint_url: Some(server.endpoint()),
        ..S3Config::default()
    };
    let creds = Credentials::new(ACCESS_KEY.into(), secret.into(), None);
    S3Destination::with_credentials(
        BUCKET,
        &config,
        "us-east-1",
        creds,
        CredentialSource::Environment,
    )
    .expect("an S3 destination")
}

/// `bundle-bootstrap run URL` into `state`, with no AWS variables from the outside and IMDS at
/// `imds` (a closed port when the test has none), never at 169.254.169.254.
fn s3_boot(url: &str, endpoint: &str, imds: &str, state: &Path) -> Boot {
    AWS_VARS
        .iter()
        .fold(boot(url), |b, var| b.env_remove(var))
        .iter(ITER)
        .pass(Pass::Env(PASS))
        .args(["--endpoint-url", endpoint, "--imds-endpoint", imds])
        .args(["--retry-for", "3s"])
        .state_dir(state)
}

/// An IMDS endpoint nobody listens on.
fn no_imds() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())
}

fn s3_url(key: &str) -> String {
    format!("s3://{BUCKET}/{key}")
}

#[test]
fn publisher_puts_lists_and_gets_then_bootstrap_boots_with_env_keys() {
    let tmp = scratch();
    let file = packed_shop(tmp.path());
    let server = S3Server::start(&[BUCKET]);
    let dest = destination(&server, SECRET_KEY);
    dest.put(KEY, &file).unwrap();
    dest.put("releases/other.txt", &tmp.path().join("shop/10-db/start"))
        .unwrap();
    assert_eq!(dest.list("releases/").unwrap(), ["releases/other.txt", KEY]);
    assert!(dest.list("nothing/").unwrap().is_empty());
    assert_eq!(dest.get(KEY).unwrap(), fs::read(&file).unwrap());

    let state = tmp.path().join("state");
    s3_boot(&s3_url(KEY), &server.endpoint(), &no_imds(), &state)
        .args(["--region", "eu-west-1"])
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .run()
        .ok()
        .stdout_has("[20-web] web started")
        .stderr_has("signed with AKIA… from the environment")
        .stderr_has("ok:");
}

#[test]
fn boots_with_instance_role_credentials_and_region_from_imdsv2() {
    let tmp = scratch();
    let file = packed_shop(tmp.path());
    let server = S3Server::start(&[BUCKET]);
    destination(&server, SECRET_KEY).put(KEY, &file).unwrap();
    let imds = Imds::start(Instance {
        role: Some("boot-role".into()),
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET_KEY.into(),
        token: "session-token-from-the-role".into(),
        region: "eu-central-1".into(),
    });
    let state = tmp.path().join("state");
    let ran = s3_boot(&s3_url(KEY), &server.endpoint(), &imds.endpoint(), &state).run();
    ran.ok()
        .stdout_has("[10-db] db started")
        .stderr_has("in eu-central-1, signed with AKIA… from the instance role `boot-role`");
    assert!(!ran.stderr.contains(SECRET_KEY) && !ran.stderr.contains("session-token"));
    let seen = imds.seen();
    assert_eq!(seen[0], "PUT /latest/api/token 200", "{seen:?}");
    assert!(
        seen.iter().all(|s| !s.ends_with(" 401")),
        "every GET carried the token: {seen:?}"
    );
    assert!(seen.contains(&"GET /latest/meta-data/placement/region 200".to_string()));
}

#[test]
fn a_wrong_secret_gets_403_and_exit_2_with_a_hint() {
    let tmp = scratch();
    let file = packed_shop(tmp.path());
    let server = S3Server::start(&[BUCKET]);
    destination(&server, SECRET_KEY).put(KEY, &file).unwrap();

    let err = destination(&server, "not-the-secret")
        .get(KEY)
        .expect_err("a wrong secret is refused");
    assert!(
        matches!(err, S3Error::Status { status: 403, .. }),
        "{err:?}"
    );

    let state = tmp.path().join("state");
    let ran = s3_boot(&s3_url(KEY), &server.endpoint(), &no_imds(), &state)
        .args(["--region", "us-east-1"])
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        .run();
    ran.code(2)
        .stderr_has("S3 refused s3://bundles/releases/shop 1.bundle (HTTP 403")
        .stderr_has("hint: check the credentials");
    assert!(!ran.stderr.contains("not-the-secret"), "{ran}");
    assert!(!state.join("current").exists());
}

#[test]
fn a_missing_key_is_exit_2() {
    let tmp = scratch();
    let server = S3Server::start(&[BUCKET]);
    let state = tmp.path().join("state");
    s3_boot(
        &s3_url("releases/absent.bundle"),
        &server.endpoint(),
        &no_imds(),
        &state,
    )
    .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    .env("AWS_REGION", "us-east-1")
    .run()
    .code(2)
    .stderr_has("S3 has no s3://bundles/releases/absent.bundle (HTTP 404")
    .stderr_has("hint: check the bucket and key");
}

#[test]
fn an_anonymous_read_of_a_private_object_is_refused() {
    let tmp = scratch();
    let file = packed_shop(tmp.path());
    let server = S3Server::start(&[BUCKET]);
    destination(&server, SECRET_KEY).put(KEY, &file).unwrap();
    // IMDS answers, but the instance has no role: nothing signs the request.
    let imds = Imds::start(Instance {
        role: None,
        access_key_id: String::new(),
        secret_access_key: String::new(),
        token: String::new(),
        region: "us-east-1".into(),
    });
    let state = tmp.path().join("state");
    s3_boot(&s3_url(KEY), &server.endpoint(), &imds.endpoint(), &state)
        .run()
        .code(2)
        .stderr_has("no credentials found, reading anonymously")
        .stderr_has("signed with no credentials (anonymous)")
        .stderr_has("hint: the object is private and no credentials were found");
}

#[test]
fn a_public_object_is_read_anonymously_and_resumed() {
    let tmp = scratch();
    let file = packed_shop(tmp.path());
    let bytes = fs::read(&file).unwrap();
    // The fault-injecting server stands in for a public bucket, addressed path-style.
    let server = Server::start();
    let path = format!("/{BUCKET}/releases/shop%201.bundle");
    server.put(&path, bytes.clone());
    server.script(&path, vec![Behaviour::CutAfter(bytes.len() / 2)]);
    let state = tmp.path().join("state");
    s3_boot(&s3_url(KEY), &server.url(""), &no_imds(), &state)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["--region", "us-east-1"])
        .run()
        .ok()
        .stderr_has("reading anonymously")
        .stderr_has("cut after");
    let ranges: Vec<_> = server
        .requests()
        .into_iter()
        .filter_map(|r| r.range)
        .collect();
    assert_eq!(ranges, [format!("bytes={}-", bytes.len() / 2)]);
}

#[test]
fn bundle_publish_to_s3_then_a_signed_boot_from_the_pointer() {
    let tmp = scratch();
    let key = keygen(tmp.path(), "team");
    let file = tmp.path().join("shop.bundle");
    pack_signed(&personality(tmp.path()), &file, &key, &["--seq", "5"]).ok();
    let server = S3Server::start(&[BUCKET]);
    let mut publish = bundle();
    for var in AWS_VARS {
        publish.env_remove(var);
    }
    run(publish
        .arg("publish")
        .arg(&file)
        .args([
            "--to",
            "s3://bundles/prod",
            "--endpoint-url",
            &server.endpoint(),
            "--region",
            "us-east-1",
        ])
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY))
    .ok()
    .stdout_has("shop.latest");
    let listed = destination(&server, SECRET_KEY).list("prod/").unwrap();
    assert!(
        listed.contains(&"prod/shop.latest".to_string()),
        "{listed:?}"
    );

    let state = tmp.path().join("state");
    s3_boot(
        "s3://bundles/prod/shop.latest",
        &server.endpoint(),
        &no_imds(),
        &state,
    )
    .pubkey(&key.b64)
    .args(["--region", "us-east-1"])
    .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    .run()
    .ok()
    .stderr_has("points at shop")
    .stderr_has("signature good")
    .stdout_has("[20-web] web started");
}
