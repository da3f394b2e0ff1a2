//! Issue 12 item 7: the publisher's credentials the way the AWS tools find them — a profile's
//! `credential_process`, a `role_arn` assumed with its `source_profile` through a real STS (moto),
//! a build host's instance role through IMDSv2 — against real servers on 127.0.0.1 that check
//! what they are sent (`s3s-fs` checks every SigV4 signature; moto can check keys against IAM).
//!
//! Before: only `AWS_*` variables and static keys of `~/.aws/credentials` were read; any other
//! profile said "no AWS credentials".

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::AWS_VARS;
use crate::support::imds::{Imds, Instance};
use crate::support::moto_iam::{IamKey, Moto};
use crate::support::s3_server::{ACCESS_KEY, S3Server, SECRET_KEY};
use crate::support::{
    Key, Mode, Ran, bundle, keygen, pack_signed, personality, run, scratch, write,
};

const BUCKET: &str = "bundles";
/// Besides tests/s3.rs's, what could point the tool at another STS or IMDS.
const MORE_AWS_VARS: &[&str] = &["AWS_ENDPOINT_URL_STS", "AWS_EC2_METADATA_SERVICE_ENDPOINT"];

/// A signed bundle in `root`.
fn signed_bundle(root: &Path) -> (PathBuf, Key) {
    let key = keygen(root, "k");
    let file = root.join("shop.bundle");
    pack_signed(&personality(root), &file, &key, &[]).ok();
    (file, key)
}

/// `bundle SUBCOMMAND …` with HOME at `home` (its `.aws/` the only shared files), no AWS variable
/// from outside, and IMDS switched off unless the test points `--imds-endpoint` somewhere.
fn aws_bundle(home: &Path) -> Command {
    let mut cmd = bundle();
    for var in AWS_VARS.iter().chain(MORE_AWS_VARS) {
        cmd.env_remove(var);
    }
    cmd.env("HOME", home)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

/// `bundle publish FILE --to s3://bundles/prod --endpoint-url ENDPOINT`.
fn publish(home: &Path, file: &Path, endpoint: &str) -> Command {
    let mut cmd = aws_bundle(home);
    cmd.arg("publish").arg(file).args([
        "--to",
        &format!("s3://{BUCKET}/prod"),
        "--endpoint-url",
        endpoint,
    ]);
    cmd
}

/// The pointer is in the bucket: the whole publish went through.
fn assert_published(server: &S3Server) {
    let pointer = server.root().join(BUCKET).join("prod/shop.latest");
    assert!(pointer.is_file(), "{} is missing", pointer.display());
}

/// A `credential_process` script in `home` printing these keys.
fn credential_script(home: &Path, id: &str, secret: &str) -> PathBuf {
    let script = home.join("creds.sh");
    write(
        home,
        "creds.sh",
        &format!(
            "#!/bin/sh\nprintf '%s' '{{\"Version\": 1, \"AccessKeyId\": \"{id}\", \"SecretAccessKey\": \"{secret}\", \"Expiration\": \"2099-01-01T00:00:00Z\"}}'\n"
        ),
        Mode::Exec,
    );
    script
}

#[test]
fn a_profiles_credential_process_signs_what_s3s_fs_checks() {
    let tmp = scratch();
    let (file, _) = signed_bundle(tmp.path());
    let server = S3Server::start(&[BUCKET]);
    let home = tmp.path().join("home");
    let script = credential_script(&home, ACCESS_KEY, SECRET_KEY);
    write(
        &home,
        ".aws/config",
        &format!(
            "[profile ci]\ncredential_process = {}\nregion = eu-west-1\n",
            script.display()
        ),
        Mode::Plain,
    );
    let ran = run(publish(&home, &file, &server.endpoint()).args(["--profile", "ci"]));
    ran.ok()
        .stderr_has("signing with AKIA… from the credential_process of profile `ci`");
    assert!(!ran.stderr.contains(SECRET_KEY), "{ran}");
    assert_published(&server);

    // Keys the server does not accept: its refusal names where they came from.
    credential_script(&home, ACCESS_KEY, "wrong/secret");
    run(publish(&home, &file, &server.endpoint()).args(["--profile", "ci"]))
        .code(2)
        .stderr_has("signed with credentials from the credential_process of profile `ci`")
        .stderr_has("hint:");
    // A process that fails is named, and so is the profile (AWS_PROFILE chooses it too).
    write(&home, "creds.sh", "#!/bin/sh\nexit 7\n", Mode::Exec);
    run(publish(&home, &file, &server.endpoint()).env("AWS_PROFILE", "ci"))
        .code(1)
        .stderr_has("the credential_process of profile `ci` gave no credentials: it exited with")
        .stderr_has("hint: run the credential_process command by hand");
}

#[test]
fn a_build_hosts_instance_role_signs_through_imdsv2() {
    let tmp = scratch();
    let (file, _) = signed_bundle(tmp.path());
    let server = S3Server::start(&[BUCKET]);
    let imds = Imds::start(Instance {
        role: Some("build-role".into()),
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET_KEY.into(),
        token: "session-token-of-the-build-host".into(),
        region: "eu-central-1".into(),
    });
    let home = tmp.path().join("home");
    fs::create_dir_all(&home).unwrap();
    let ran = run(publish(&home, &file, &server.endpoint())
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .args(["--imds-endpoint", &imds.endpoint()]));
    ran.ok().stderr_has("from the instance role `build-role`");
    assert!(!ran.stderr.contains("session-token"), "{ran}");
    assert_published(&server);
    // No instance role and nothing else: every source tried is named.
    run(&mut publish(&home, &file, &server.endpoint()))
        .code(1)
        .stderr_has("no AWS credentials")
        .stderr_has("AWS_EC2_METADATA_DISABLED=true")
        .stderr_has("aws configure export-credentials");
}

/// The shared files of a publisher who assumes `role` with a base profile's keys (and of a few
/// who cannot).
fn role_profiles(home: &Path, role: &str, publisher: &IamKey, intern: &IamKey) {
    write(
        home,
        ".aws/credentials",
        &format!(
            "[base]\naws_access_key_id = {}\naws_secret_access_key = {}\n\
             [intern]\naws_access_key_id = {}\naws_secret_access_key = {}\n\
             [forged]\naws_access_key_id = {}\naws_secret_access_key = not-the-secret\n",
            publisher.id, publisher.secret, intern.id, intern.secret, publisher.id
        ),
        Mode::Plain,
    );
    let mut config = String::new();
    for (profile, source) in [
        ("deploy", "base"),
        ("deploy-intern", "intern"),
        ("deploy-forged", "forged"),
        ("a", "b"),
        ("b", "a"),
    ] {
        config.push_str(&format!(
            "[profile {profile}]\nrole_arn = {role}\nsource_profile = {source}\nregion = eu-west-1\n"
        ));
    }
    config.push_str("[profile sso]\nsso_session = corp\nsso_account_id = 123456789012\n");
    write(home, ".aws/config", &config, Mode::Plain);
}

/// moto checks every signature against IAM and every call against IAM policies: the publisher's
/// base keys may only assume the role, and only the role may write the bucket.
#[test]
fn a_role_arn_is_assumed_through_sts_with_its_source_profile_and_refusals_name_the_permission() {
    let tmp = scratch();
    let (file, _) = signed_bundle(tmp.path());
    let moto = Moto::start();
    let publisher = moto.user("publisher", &["sts:AssumeRole"]);
    let intern = moto.user("intern", &[]);
    let role = moto.role("bundle-publisher", &["s3:*"]);
    moto.bucket(BUCKET);
    moto.enforce();
    let home = tmp.path().join("home");
    role_profiles(&home, &role, &publisher, &intern);
    let as_profile = |cmd: &mut Command, profile: &str| -> Ran {
        run(cmd
            .args(["--profile", profile])
            .env("AWS_ENDPOINT_URL_STS", moto.endpoint()))
    };
    as_profile(&mut publish(&home, &file, &moto.endpoint()), "deploy")
        .ok()
        .stderr_has(&format!(
            "signing with ASIA… from role {role} (profile `deploy`), assumed with profile `base` of {}",
            home.join(".aws/credentials").display()
        ));
    // The base keys alone may not touch the bucket (publish reads the current pointer first): S3
    // refuses, and the error names the keys' source and the permission.
    write(
        &home,
        ".aws/config",
        "[profile base]\nregion = eu-west-1\n",
        Mode::Plain,
    );
    as_profile(&mut publish(&home, &file, &moto.endpoint()), "base")
        .code(2)
        .stderr_has("HTTP 403 AccessDenied (signed with credentials from profile `base`")
        .stderr_has("hint: the credentials need s3:GetObject");
    role_profiles(&home, &role, &publisher, &intern);

    as_profile(
        &mut publish(&home, &file, &moto.endpoint()),
        "deploy-intern",
    )
    .code(1)
    .stderr_has(&format!(
        "assuming role {role} (profile `deploy-intern`) with profile `intern` of"
    ))
    .stderr_has("STS answered HTTP 403 AccessDenied")
    .stderr_has(&format!(
        "hint: profile `intern` of {} needs permission sts:AssumeRole on {role}",
        home.join(".aws/credentials").display()
    ));
    as_profile(
        &mut publish(&home, &file, &moto.endpoint()),
        "deploy-forged",
    )
    .code(1)
    .stderr_has("SignatureDoesNotMatch")
    .stderr_has("the access key or its secret is wrong (profile `forged`");
    as_profile(&mut publish(&home, &file, &moto.endpoint()), "a")
        .code(1)
        .stderr_has("loops back");
    as_profile(&mut publish(&home, &file, &moto.endpoint()), "sso")
        .code(1)
        .stderr_has("IAM Identity Center (SSO)")
        .stderr_has("aws configure export-credentials --profile sso --format env");
    as_profile(&mut publish(&home, &file, &moto.endpoint()), "nope")
        .code(1)
        .stderr_has("no profile `nope`");
}
