//! The one integration-test binary: runs the built `bundle` and `bundle-bootstrap` against the real
//! `openssl`, GNU `tar`, a real HTTP server on 127.0.0.1, and hostile inputs built in code.

mod support;

// The openssl-enc container against the real `openssl enc`, both ways; the vectors in tests/vectors/.
mod enc;
// Deterministic packing, GNU tar both ways, hostile archives.
mod archive;
// Issue 9's archive and decryption holes: directory bombs, the padding oracle, the unpack -C race,
// exit statuses and messages; one regression test each.
mod hardening_archive;
// Modules, bundle.toml, run order, `bundle check`.
mod personality;
// Downloads against a fault-injecting HTTP(S) server on 127.0.0.1.
mod fetch;
// Scripts run in order, output, timeouts, init records, the lock.
mod runner;
// The runner hardened: daemons outlive the run and keep logging; TERM and INT stop a run cleanly.
mod hardening_runner;
// `bundle check|pack|unpack|inspect|keygen` against openssl and tar, both ways.
mod cli_pack;
// `bundle-bootstrap run|status` and `bundle try` end to end.
mod cli_boot;
// `bundle userdata`: rendered scripts run for real under bash.
mod userdata;
// Issue 12: `bundle userdata` renders only what will work (run flags through bundle-bootstrap's
// parser, --shell-only's limits, init records shared with bundle-bootstrap, settings).
mod userdata_checks;
// Issue 11: one user-data for x86_64 and aarch64 (`{arch}`, pins per architecture, uname -m).
mod userdata_arch;
// Signatures: keygen/sign/verify against the real minisign, flips, rotation, rollback, expiry.
mod sign;
// The module library and templates: shellcheck, `bundle new`, base and perl for real.
mod library;
// s3://bucket/key: the publisher's S3 primitive and bundle-bootstrap against s3s-fs and an IMDSv2 server.
mod s3;
// --pass ssm:NAME and secretsmanager:ID against moto's SSM and Secrets Manager (SigV4 and IAM
// checked) and the IMDSv2 server; the default user-data booting that way without an aws CLI.
mod ssm;
// `bundle publish`/`releases`, pointer boots, and the publish race.
mod publish;
// The holes an attack found in the state folder, the signature binding, hooks, pruning, the
// rollback floor, status, watch and the passphrase: one regression test each.
mod hardening_state;
// SIGKILL at any point of a run leaves a state folder the next run accepts.
mod crash;
// Issue 9's fetch holes: the whole-fetch deadline, redirects that leak or downgrade, a full disk,
// and messages that blamed the wrong thing, each against a hostile server on 127.0.0.1.
mod hardening_fetch;
// After the first boot: the saved configuration, offline boots, rerun, rollback, status --wait.
mod lifecycle;
// Every boot: `bundle-bootstrap install` (systemd-analyze, a logging stand-in for systemctl,
// rollback) and `run --once-per-boot` with real runs.
mod units;
// The operator's path: `bundle new` names, the built-in module library, settings ([env]),
// `bundle check` catching what fails at boot; and names from hand-made bundles (hardening 15).
mod operator_personality;
// Issue 12 on the publisher's side: `bundle sign` reads what it signs, verify/inspect of URLs and
// pointers, releases, publish --from, credentials the way the AWS tools find them, small things.
mod operator_publisher;
// `watch` fit for a fleet: conditional GETs (304s), backoff of a failed release, quiet polls,
// pruned run logs — counted at the test server, never timed.
mod watch_fleet;
// `bundle try`: it says what it would change and asks first, a second try on a kept state, the
// signed pointer path, the printed commands run as printed, a failure's logs kept.
mod trial;
// A boot log an operator can read: the version first, timed lines, a begin and an end per script,
// progress during a slow download, the summary last.
mod boot_log;
// Issue 12: README.md's command blocks (quick start, the path to a running instance, signatures,
// publish and rollback) run as written, with a substitution table the README states.
mod readme;
