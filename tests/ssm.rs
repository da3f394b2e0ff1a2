//! `--pass ssm:NAME` and `--pass secretsmanager:ID` end to end: the real `bundle-bootstrap` reads
//! the passphrase from moto's SSM and Secrets Manager on 127.0.0.1, which check every SigV4
//! signature and IAM policy, with keys from the environment or an instance role from the IMDSv2
//! test server; and the default user-data boots that way with no `aws` CLI on the machine.

use std::fs;
use std::path::Path;

use crate::support::http::{Behaviour, Server};
use crate::support::imds::{Imds, Instance};
use crate::support::moto::{ACCOUNT, Key, moto};
use crate::support::{
    AWS_VARS, Boot, ITER, PASS, Pass, Ran, boot, bootstrap, bundle, free_port, packed_shop, run,
    scratch, sha256_hex, tool,
};

const PARAMETER: &str = "/startup-bundle/pass";
const SECRET: &str = "startup-bundle/pass";

/// An endpoint nobody listens on.
fn closed() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// How long a passphrase read may retry, unless a test says otherwise.
const RETRY_FOR: &str = "5s";

/// `bundle-bootstrap run FILE --pass SPEC` into `state`, with no AWS variable from the outside,
/// IMDS at `imds` and `--retry-for retry_for`.
fn boot_with(file: &Path, spec: &str, state: &Path, imds: &str, retry_for: &str) -> Boot {
    AWS_VARS
        .iter()
        .fold(boot(file), |b, var| b.env_remove(var))
        .iter(ITER)
        .pass(Pass::Spec(spec))
        .state_dir(state)
        .args(["--retry-for", retry_for, "--imds-endpoint", imds])
}

/// [`boot_with`] IMDS at a closed port and the usual retry budget.
fn pass_boot(file: &Path, spec: &str, state: &Path) -> Boot {
    boot_with(file, spec, state, &closed(), RETRY_FOR)
}

/// `boot` signing with `key` from the environment, in us-east-1.
fn with_key(boot: Boot, key: &Key) -> Boot {
    boot.env("AWS_ACCESS_KEY_ID", &key.id)
        .env("AWS_SECRET_ACCESS_KEY", &key.secret)
        .env("AWS_REGION", "us-east-1")
}

/// Neither the passphrase nor a module's output may show in a refused boot.
fn refused_before_running(ran: &Ran) {
    assert!(!ran.stdout.contains("started"), "a module ran:\n{ran}");
    assert!(
        !ran.stdout.contains(PASS) && !ran.stderr.contains(PASS),
        "the passphrase was printed:\n{ran}"
    );
}

#[test]
fn the_passphrase_comes_from_ssm_and_the_saved_configuration_keeps_its_source() {
    let m = moto();
    let tmp = scratch();
    let file = packed_shop(tmp.path());
    let config = tmp.path().join("etc/bootstrap.toml");
    let first = with_key(
        pass_boot(
            &file,
            &format!("ssm:{PARAMETER}"),
            &tmp.path().join("state"),
        ),
        &m.booter,
    )
    .env("AWS_ENDPOINT_URL_SSM", m.endpoint())
    .arg("--config")
    .arg(&config)
    .run();
    first
        .ok()
        .stdout_has("[20-web] web started")
        .stderr_has(&format!(
            "passphrase: SSM parameter {PARAMETER} in us-east-1 at {}/ (AWS_ENDPOINT_URL_SSM), \
             signed with AKIA… from the environment",
            m.endpoint()
        ));
    assert!(!first.stderr.contains(PASS) && !first.stdout.contains(PASS));
    assert!(
        !first.stderr.contains("passphrase source is not saved"),
        "{first}"
    );
    let saved = fs::read_to_string(&config).unwrap();
    assert!(
        saved.contains(&format!("pass = \"ssm:{PARAMETER}\"")),
        "{saved}"
    );

    // A later boot: no URL, no --pass: the saved source is read from SSM again.
    let mut later = bootstrap();
    later
        .args(["run", "--config"])
        .arg(&config)
        .env("AWS_ACCESS_KEY_ID", &m.booter.id)
        .env("AWS_SECRET_ACCESS_KEY", &m.booter.secret)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL_SSM", m.endpoint());
    run(&mut later)
        .ok()
        .stderr_has(&format!("SSM parameter {PARAMETER}"))
        .stdout_has("[20-web] web started");
}

#[test]
fn secrets_manager_is_read_through_aws_endpoint_url_and_a_binary_secret_is_refused() {
    let m = moto();
    let tmp = scratch();
    let file = packed_shop(tmp.path());
    let state = tmp.path().join("state");
    let secret_boot = |id: &str, retry_for: &str| {
        let spec = format!("secretsmanager:{id}");
        with_key(
            boot_with(&file, &spec, &state, &closed(), retry_for),
            &m.booter,
        )
        .env("AWS_ENDPOINT_URL", m.endpoint())
    };
    secret_boot(SECRET, RETRY_FOR)
        .run()
        .ok()
        .stdout_has("[10-db] db started")
        .stderr_has("Secrets Manager secret startup-bundle/pass in us-east-1")
        .stderr_has("(AWS_ENDPOINT_URL)");
    let binary = secret_boot("startup-bundle/binary", RETRY_FOR).run();
    binary
        .code(1)
        .stderr_has("Secrets Manager secret startup-bundle/binary holds a SecretBinary")
        .stderr_has("hint: store the passphrase as text");
    refused_before_running(&binary);

    // The service's own variable wins over AWS_ENDPOINT_URL; nobody answers there: retried
    // within --retry-for, then exit 2, the network's status.
    let unreachable = closed();
    let gone = secret_boot(SECRET, "1s")
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &unreachable)
        .run();
    gone.code(2)
        .stderr_has("passphrase: attempt 1 failed: cannot reach")
        .stderr_has(&format!(
            "cannot read Secrets Manager secret {SECRET}: no answer from {unreachable}/"
        ));
    refused_before_running(&gone);
}

#[test]
fn a_missing_parameter_a_wrong_secret_key_and_a_missing_permission_are_named() {
    let m = moto();
    let tmp = scratch();
    let file = packed_shop(tmp.path());
    let state = tmp.path().join("state");
    let attempt = |spec: &str, key: &Key| {
        let ran = with_key(pass_boot(&file, spec, &state), key)
            .env("AWS_ENDPOINT_URL", m.endpoint())
            .run();
        refused_before_running(&ran);
        ran
    };
    attempt("ssm:/startup-bundle/nope", &m.booter)
        .code(1)
        .stderr_has("no parameter /startup-bundle/nope in us-east-1")
        .stderr_has("hint: check the name and the region");

    // moto checks the signature: the right key id with a wrong secret is refused.
    let wrong = Key {
        secret: "not-the-secret".into(),
        ..m.booter.clone()
    };
    attempt(&format!("ssm:{PARAMETER}"), &wrong)
        .code(1)
        .stderr_has("refused the credentials AKIA… from the environment (AWS_ACCESS_KEY_ID)")
        .stderr_has("SignatureDoesNotMatch")
        .stderr_has("hint: check the credentials");

    // A user whose policy does not allow the read: the error names the permission and the ARN.
    attempt(&format!("ssm:{PARAMETER}"), &m.stranger)
        .code(1)
        .stderr_has(&format!(
            "access denied to SSM parameter {PARAMETER} in us-east-1 for AKIA… from the \
             environment (AWS_ACCESS_KEY_ID): it needs ssm:GetParameter on \
             arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/startup-bundle/pass"
        ))
        .stderr_has("kms:Decrypt");
    attempt(&format!("secretsmanager:{SECRET}"), &m.stranger)
        .code(1)
        .stderr_has(&format!(
            "it needs secretsmanager:GetSecretValue on \
             arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:startup-bundle/pass-??????"
        ));
}

#[test]
fn the_instance_role_and_the_region_come_from_imdsv2() {
    let m = moto();
    let tmp = scratch();
    let file = packed_shop(tmp.path());
    let state = tmp.path().join("state");
    let instance = |role: Option<&str>| Instance {
        role: role.map(str::to_string),
        access_key_id: m.role.id.clone(),
        secret_access_key: m.role.secret.clone(),
        token: m.role.token.clone().unwrap(),
        region: "eu-central-1".into(),
    };
    // The parameter exists only in eu-central-1: the region IMDS names.
    let imds = Imds::start(instance(Some("boot-role")));
    let spec = "ssm:/startup-bundle/eu-only";
    let ran = boot_with(&file, spec, &state, &imds.endpoint(), RETRY_FOR)
        .env("AWS_ENDPOINT_URL_SSM", m.endpoint())
        .run();
    ran.ok()
        .stdout_has("[20-web] web started")
        .stderr_has("SSM parameter /startup-bundle/eu-only in eu-central-1 at http://127.0.0.1:");
    ran.stderr_has("signed with ASIA… from the instance role `boot-role` via IMDSv2");
    let token = m.role.token.as_deref().unwrap();
    assert!(!ran.stderr.contains(&m.role.secret) && !ran.stderr.contains(token));

    // An instance without a role, and no keys in the environment: said, with what to attach.
    let bare = Imds::start(instance(None));
    let spec = format!("ssm:{PARAMETER}");
    let none = boot_with(&file, &spec, &state, &bare.endpoint(), RETRY_FOR)
        .env("AWS_ENDPOINT_URL_SSM", m.endpoint())
        .run();
    none.code(1)
        .stderr_has("passphrase: the instance has no role attached")
        .stderr_has(&format!(
            "cannot read SSM parameter {PARAMETER}: no AWS credentials"
        ))
        .stderr_has("hint: attach an instance role allowed ssm:GetParameter");
    refused_before_running(&none);
}

#[test]
fn throttling_and_server_errors_are_retried_and_a_foreign_answer_refused() {
    let tmp = scratch();
    let file = packed_shop(tmp.path());
    let state = tmp.path().join("state");
    // A fault-injecting server standing in for SSM: two failures, then a GetParameter answer.
    let server = Server::start();
    let answer = format!(
        r#"{{"Parameter":{{"Name":"{PARAMETER}","Type":"SecureString","Value":"{PASS}\n"}}}}"#
    );
    server.put("/", answer);
    server.script(
        "/",
        vec![
            Behaviour::Status(503),
            Behaviour::RetryAfter {
                status: 429,
                secs: 0,
            },
        ],
    );
    let key = Key {
        id: "AKIAFAKEFORRETRIES".into(),
        secret: "secret".into(),
        token: None,
    };
    let ssm_boot = || {
        with_key(pass_boot(&file, &format!("ssm:{PARAMETER}"), &state), &key)
            .env("AWS_ENDPOINT_URL_SSM", server.url("/"))
    };
    let ran = ssm_boot().run();
    ran.ok()
        .stdout_has("[20-web] web started")
        .stderr_has("passphrase: attempt 1 failed: HTTP 503")
        .stderr_has("passphrase: attempt 2 failed: HTTP 429");
    let posts = server.requests();
    assert_eq!(posts.len(), 3, "{posts:?}");
    for post in &posts {
        assert_eq!(post.method, "POST");
        assert_eq!(post.header("x-amz-target"), Some("AmazonSSM.GetParameter"));
        assert!(
            post.header("authorization")
                .is_some_and(|a| a.contains("/us-east-1/ssm/aws4_request")),
            "{post:?}"
        );
    }

    // An endpoint that answers 200 with something else is a configuration mistake, not a retry.
    server.put("/", "<html>a web server</html>");
    let foreign = ssm_boot().run();
    foreign
        .code(1)
        .stderr_has("with no Parameter.Value in it (not JSON)")
        .stderr_has("hint: is an AWS_ENDPOINT_URL variable pointing at something else");
    refused_before_running(&foreign);
}

#[test]
fn the_default_user_data_boots_with_an_ssm_passphrase_and_no_aws_cli() {
    let m = moto();
    let tmp = scratch();
    let t = tmp.path();
    let file = packed_shop(t);
    let server = Server::start();
    server.put("/shop.bundle", fs::read(&file).unwrap());
    let bootstrap_bin = fs::read(env!("CARGO_BIN_EXE_bundle-bootstrap")).unwrap();
    server.put("/bundle-bootstrap", bootstrap_bin.clone());
    let rendered = run(bundle()
        .args(["userdata", &server.url("/shop.bundle"), "--iter", ITER])
        .args(["--pass-from", &format!("ssm:{PARAMETER}")])
        // No systemd here, and no configuration to save (BUNDLE_BOOTSTRAP_CONFIG=none).
        .arg("--no-units")
        .args(["--bootstrap-url", &server.url("/bundle-bootstrap")])
        .args(["--bootstrap-sha256", &sha256_hex(&bootstrap_bin)])
        .arg("--state-dir")
        .arg(t.join("state"))
        .arg("--install-dir")
        .arg(t.join("bin"))
        .arg("--log-file")
        .arg(t.join("log/boot.log")));
    rendered.ok();
    assert!(!rendered.stdout.contains("aws "), "{}", rendered.stdout);
    let script = t.join("user-data.sh");
    fs::write(&script, &rendered.stdout).unwrap();
    // No aws CLI on this PATH, as on a stock Debian or Ubuntu image.
    run(tool("bash")
        .arg(&script)
        .env("PATH", "/usr/bin:/bin")
        .env("NO_PROXY", "127.0.0.1")
        .env("BUNDLE_BOOTSTRAP_CONFIG", "none")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", &m.booter.id)
        .env("AWS_SECRET_ACCESS_KEY", &m.booter.secret)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL_SSM", m.endpoint()))
    .ok()
    .stdout_has("[20-web] web started")
    .stdout_has(&format!("passphrase: SSM parameter {PARAMETER}"));
}
