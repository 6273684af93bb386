//! Config: defaults, a full file, unknown keys and bad values.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use super::auth::{PasswordHash, SaslMechanism};
use super::databases::CetsBackend;
use super::listen::TlsMode;
use super::modules::PingTimeoutAction;
use super::*;
use crate::sasl::secret::ScramHash;
use crate::sasl::Mechanism;

/// Parses `text`, expecting an error; returns its message.
fn error(text: &str) -> String {
    match Config::from_toml(text) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn defaults_serve_localhost_with_sqlite_in_data() {
    let config = Config::default();
    assert_eq!(config.general.hosts, ["localhost"]);
    assert!(config.serves("localhost"));
    assert!(!config.serves("example.com"));
    assert_eq!(config.general.loglevel, LogLevel::Info);
    assert_eq!(config.general.data_dir, PathBuf::from("./data"));
    assert_eq!(config.database_url(), "sqlite://./data/bream.db");

    let [listener] = &config.listen.c2s[..] else {
        panic!("one default listener: {:?}", config.listen.c2s)
    };
    assert_eq!(listener.port, 5222);
    assert_eq!(listener.ip_address, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert_eq!(listener.tls.mode, TlsMode::Starttls);
    assert_eq!(listener.tls.certfile, None);
    assert_eq!(listener.max_stanza_size, 65_536);
    assert_eq!(listener.state_timeout, Duration::from_secs(5));
    assert_eq!(listener.idle_timeout, Duration::from_secs(600));
    assert_eq!(listener.max_outgoing_queue, 1000);

    assert_eq!(
        config.auth.mechanisms(),
        [
            Mechanism::ScramSha512,
            Mechanism::ScramSha256,
            Mechanism::ScramSha1,
            Mechanism::Plain
        ]
    );
    assert_eq!(config.auth.max_failed_attempts, 3);
    assert_eq!(config.auth.password.scram_iterations, 10_000);

    let storage = config.storage_options();
    assert_eq!(storage.pool_connections_max, 10);
    assert_eq!(storage.query_timeout, Duration::from_secs(5));

    let modules = &config.modules;
    assert!(modules.mod_roster.enabled && modules.mod_roster.versioning);
    assert!(modules.mod_offline.enabled);
    assert_eq!(modules.mod_offline.max_messages, 100);
    assert!(modules.mod_ping.enabled && !modules.mod_ping.send_pings);
    for switch in [
        &modules.mod_disco,
        &modules.mod_vcard,
        &modules.mod_private,
        &modules.mod_last,
        &modules.mod_blocking,
    ] {
        assert!(switch.enabled);
    }
    assert!(modules.mod_version.enabled);
    assert_eq!(config.shaper["normal"].max_rate, 1000);
    assert!(
        config.internal_databases.cets.is_none(),
        "a node runs alone by default"
    );
}

#[test]
fn an_empty_file_and_no_file_are_the_default() {
    assert_eq!(Config::from_toml("").unwrap(), Config::default());
    assert_eq!(Config::load(None).unwrap(), Config::default());
    // An empty section keeps its defaults too.
    assert_eq!(
        Config::from_toml("[general]\n[modules.mod_offline]\n").unwrap(),
        Config::default()
    );
}

const FULL: &str = r#"
[general]
hosts = ["Example.COM", "chat.example.com"]
loglevel = "debug"
data_dir = "/var/lib/bream"
node_name = "bream1@host1"
cookie = "s3cret"

[[listen.c2s]]
port = 5222
ip_address = "::"
tls.mode = "starttls_required"
tls.certfile = "/etc/bream/cert.pem"
tls.keyfile = "/etc/bream/key.pem"
max_stanza_size = 131072
state_timeout = 10000
idle_timeout = 300000
max_outgoing_queue = 500
shaper = "c2s_shaper"
access = "c2s"

[[listen.c2s]]
port = 5223
tls.mode = "tls"

[auth]
methods = ["rdbms"]
sasl_mechanisms = ["scram_sha256", "plain"]
max_failed_attempts = 5

[auth.password]
hash = ["sha256", "sha512"]
scram_iterations = 4096

[outgoing_pools.rdbms.default]
workers = 4
connection.url = "postgres://bream:hunter2@db:5432/bream"
connection.query_timeout = 2000
connection.connect_timeout = 1000

[internal_databases.cets]
backend = "file"
cluster_name = "prod"
node_list_file = "/etc/bream/nodes"

[modules.mod_roster]
versioning = false

[modules.mod_offline]
max_messages = 500

[modules.mod_ping]
send_pings = true
ping_interval = 30
ping_req_timeout = 10
timeout_action = "kill"

[modules.mod_vcard]
enabled = false

[modules.mod_version]
os_info = true

[shaper.normal]
max_rate = 2000

[acl]
local = [{ user_regex = "" }]

[access]
c2s = [{ acl = "local", value = "allow" }]
"#;

#[test]
fn a_full_file() {
    let config = Config::from_toml(FULL).unwrap();
    let general = &config.general;
    assert_eq!(general.hosts, ["example.com", "chat.example.com"]);
    assert!(config.serves("example.com"));
    assert_eq!(general.loglevel.filter_directive(), "debug");
    assert_eq!(general.data_dir, PathBuf::from("/var/lib/bream"));
    assert_eq!(general.node_name, "bream1@host1");
    assert_eq!(general.cookie.0, "s3cret");

    let [starttls, direct] = &config.listen.c2s[..] else {
        panic!("two listeners: {:?}", config.listen.c2s)
    };
    assert_eq!(starttls.ip_address, IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    assert_eq!(starttls.tls.mode, TlsMode::StarttlsRequired);
    assert_eq!(
        starttls.tls.keyfile.as_deref(),
        Some(std::path::Path::new("/etc/bream/key.pem"))
    );
    assert_eq!(starttls.max_stanza_size, 131_072);
    assert_eq!(starttls.state_timeout, Duration::from_secs(10));
    assert_eq!(starttls.idle_timeout, Duration::from_secs(300));
    assert_eq!(starttls.max_outgoing_queue, 500);
    assert_eq!(starttls.shaper.as_deref(), Some("c2s_shaper"));
    assert_eq!((direct.port, direct.tls.mode), (5223, TlsMode::Tls));
    assert_eq!(direct.max_stanza_size, 65_536);

    assert_eq!(
        config.auth.sasl_mechanisms,
        [SaslMechanism::ScramSha256, SaslMechanism::Plain]
    );
    assert_eq!(config.auth.max_failed_attempts, 5);
    assert_eq!(
        config.auth.password.hash,
        [PasswordHash::Sha256, PasswordHash::Sha512]
    );
    let details = config.auth.password.derive("pw").unwrap();
    assert_eq!(details.iteration_count(), 4096);
    assert!(details.secret(ScramHash::Sha1).is_none());
    assert!(details.secret(ScramHash::Sha256).is_some());

    let storage = config.storage_options();
    assert_eq!(storage.url, "postgres://bream:hunter2@db:5432/bream");
    assert_eq!(storage.pool_connections_max, 4);
    assert_eq!(storage.query_timeout, Duration::from_secs(2));
    assert_eq!(storage.connect_timeout, Duration::from_secs(1));
    // The password stays out of Debug output.
    let shown = format!("{config:?} {storage:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("s3cret"),
        "{shown}"
    );

    let cets = config
        .internal_databases
        .cets
        .clone()
        .expect("cets configured");
    assert_eq!(cets.cluster_name, "prod");
    assert_eq!(cets.backend, CetsBackend::File);
    let modules = &config.modules;
    assert!(!modules.mod_roster.versioning);
    assert_eq!(modules.mod_offline.max_messages, 500);
    assert_eq!(modules.mod_ping.ping_interval, Duration::from_secs(30));
    assert_eq!(modules.mod_ping.timeout_action, PingTimeoutAction::Kill);
    assert!(!modules.mod_vcard.enabled);
    assert!(modules.mod_private.enabled);
    assert!(modules.mod_version.os_info);
    assert_eq!(config.shaper["normal"].max_rate, 2000);
    assert!(!config.shaper.contains_key("fast"));
    assert!(config.acl.contains_key("local"));
    assert!(config.access.contains_key("c2s"));
}

#[test]
fn a_file_is_loaded_and_its_errors_name_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bream.toml");
    std::fs::write(&path, FULL).unwrap();
    assert_eq!(
        Config::load(Some(&path)).unwrap(),
        Config::from_toml(FULL).unwrap()
    );

    std::fs::write(&path, "[general]\nloglevel = \"loud\"\n").unwrap();
    let message = Config::load(Some(&path)).unwrap_err().to_string();
    assert!(
        message.contains("bream.toml") && message.contains("line 2"),
        "{message}"
    );

    let missing = dir.path().join("missing.toml");
    assert!(matches!(
        Config::load(Some(&missing)),
        Err(ConfigError::Read { .. })
    ));

    let large = dir.path().join("large.toml");
    let file = std::fs::File::create(&large).unwrap();
    file.set_len(CONFIG_BYTES_MAX + 1).unwrap();
    assert!(matches!(
        Config::load(Some(&large)),
        Err(ConfigError::TooLarge { .. })
    ));
}

#[test]
fn unknown_keys_stop_the_start() {
    for (text, key, line) in [
        ("[general]\nhostz = [\"a\"]\n", "hostz", 2),
        ("[genral]\n", "genral", 1),
        ("[[listen.c2s]]\nport = 5222\nportt = 1\n", "portt", 3),
        ("[listen.c2s_tls]\n", "c2s_tls", 1),
        ("[[listen.c2s]]\ntls.modee = \"tls\"\n", "modee", 2),
        ("[modules.mod_muc]\n", "mod_muc", 1),
        ("[modules.mod_offline]\nmax_msgs = 1\n", "max_msgs", 2),
        (
            "[outgoing_pools.rdbms.default]\nconnection.driver = \"pgsql\"\n",
            "driver",
            2,
        ),
        ("[outgoing_pools.rdbms.other]\n", "other", 1),
        ("[auth.password]\nformat = \"plain\"\n", "format", 2),
    ] {
        let message = error(text);
        assert!(
            message.contains(&format!("unknown field `{key}`")),
            "{text:?}: {message}"
        );
        assert!(
            message.contains(&format!("line {line}")),
            "{text:?}: {message}"
        );
    }
    // The table the key is in is named too.
    let message = error("[general]\nhosts = [\"a\"]\n\n[auth]\nmetods = []\n");
    assert!(message.contains("(in [auth])"), "{message}");
    assert!(message.contains("`metods = []`"), "{message}");
}

#[test]
fn bad_values_stop_the_start() {
    // Wrong types and unknown values: the parser names what it expected, on the key's line.
    for (text, expected) in [
        ("[general]\nhosts = \"localhost\"\n", "invalid type"),
        ("[general]\nloglevel = \"loud\"\n", "unknown variant `loud`"),
        ("[[listen.c2s]]\nport = 70000\n", "70000"),
        ("[[listen.c2s]]\nport = \"x\"\n", "invalid type"),
        (
            "[[listen.c2s]]\nip_address = \"not an ip\"\n",
            "invalid IP address",
        ),
        (
            "[[listen.c2s]]\ntls.mode = \"ssl\"\n",
            "unknown variant `ssl`",
        ),
        (
            "[auth]\nsasl_mechanisms = [\"digest_md5\"]\n",
            "unknown variant `digest_md5`",
        ),
        ("[auth]\nmethods = [\"ldap\"]\n", "unknown variant `ldap`"),
        (
            "[modules.mod_offline]\nmax_messages = -1\n",
            "invalid value",
        ),
        ("[modules.mod_ping]\nsend_pings = \"yes\"\n", "invalid type"),
        ("[general\n", "invalid table header"),
    ] {
        let message = error(text);
        assert!(message.contains(expected), "{text:?}: {message}");
        assert!(message.contains("line "), "{text:?}: {message}");
    }
    // Right types, wrong values: named by their dotted key.
    for (text, key) in [
        ("[general]\nhosts = []\n", "general.hosts"),
        ("[general]\nhosts = [\"a b\"]\n", "general.hosts[0]"),
        (
            "[general]\nhosts = [\"x.org\", \"X.org\"]\n",
            "general.hosts[1]",
        ),
        ("[general]\ndata_dir = \"\"\n", "general.data_dir"),
        (
            "[[listen.c2s]]\nport = 5222\n[[listen.c2s]]\nport = 5222\n",
            "listen.c2s[1].port",
        ),
        (
            "[[listen.c2s]]\nmax_stanza_size = 0\n",
            "listen.c2s[0].max_stanza_size",
        ),
        (
            "[[listen.c2s]]\nidle_timeout = 0\n",
            "listen.c2s[0].idle_timeout",
        ),
        (
            "[[listen.c2s]]\nmax_outgoing_queue = 0\n",
            "listen.c2s[0].max_outgoing_queue",
        ),
        (
            "[[listen.c2s]]\ntls.certfile = \"c.pem\"\n",
            "listen.c2s[0].tls.keyfile",
        ),
        ("[auth]\nsasl_mechanisms = []\n", "auth.sasl_mechanisms"),
        (
            "[auth]\nmax_failed_attempts = 0\n",
            "auth.max_failed_attempts",
        ),
        (
            "[auth.password]\nscram_iterations = 0\n",
            "auth.password.scram_iterations",
        ),
        (
            "[outgoing_pools.rdbms.default]\nworkers = 0\n",
            "outgoing_pools.rdbms.default.workers",
        ),
        (
            "[outgoing_pools.rdbms.default]\nconnection.url = \"mysql://x:pw@h/db\"\n",
            "outgoing_pools.rdbms.default.connection.url",
        ),
        (
            "[outgoing_pools.rdbms.default]\nconnection.query_timeout = 0\n",
            "outgoing_pools.rdbms.default.connection.query_timeout",
        ),
        (
            "[modules.mod_ping]\nping_interval = 0\n",
            "modules.mod_ping.ping_interval",
        ),
        ("[shaper.slow]\nmax_rate = 0\n", "shaper.slow.max_rate"),
    ] {
        let message = error(text);
        assert!(
            message.contains(&format!("invalid {key} = ")),
            "{text:?}: {message}"
        );
    }
    // A rejected URL is shown without its password.
    let message = error("[outgoing_pools.rdbms.default]\nconnection.url = \"mysql://x:pw@h/db\"\n");
    assert!(!message.contains(":pw@"), "{message}");
}

#[test]
fn the_default_database_url_survives_odd_paths() {
    let config = Config::from_toml("[general]\ndata_dir = \"/tmp/a?b#c\"\n").unwrap();
    assert_eq!(config.database_url(), "sqlite:///tmp/a%3Fb%23c/bream.db");
}

#[test]
fn the_environment_overrides_node_identity_and_database() {
    let mut config = Config::from_toml(
        r#"
        [general]
        node_name = "bream@file"
        [internal_databases.cets]
        cluster_name = "from-file"
        "#,
    )
    .expect("valid");
    let env = [
        ("BREAM_NODE_NAME", "bream@bream-2"),
        ("BREAM_NODE_IP", "10.1.2.3"),
        ("BREAM_DIST_PORT", "4400"),
        ("BREAM_COOKIE", "from-secret"),
        ("BREAM_DATABASE_URL", "postgres://bream:pw@db:5432/bream"),
        ("BREAM_CLUSTER_NAME", "from-env"),
        ("BREAM_UNRELATED", ""),
    ];
    config
        .apply_env(|name| {
            env.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
        .expect("valid overrides");
    assert_eq!(config.general.node_name, "bream@bream-2");
    assert_eq!(config.general.node_ip.to_string(), "10.1.2.3");
    assert_eq!(config.general.dist_port, 4400);
    assert_eq!(config.general.cookie.0, "from-secret");
    assert_eq!(config.database_url(), "postgres://bream:pw@db:5432/bream");
    assert_eq!(
        config.internal_databases.cets.expect("cets").cluster_name,
        "from-env"
    );
}

#[test]
fn bad_environment_values_are_refused_naming_the_variable() {
    for (name, value, expected) in [
        ("BREAM_NODE_IP", "pod-ip", "BREAM_NODE_IP"),
        ("BREAM_DIST_PORT", "0", "BREAM_DIST_PORT"),
        ("BREAM_DIST_PORT", "70000", "BREAM_DIST_PORT"),
        ("BREAM_NODE_NAME", "no-host", "general.node_name"),
        ("BREAM_DATABASE_URL", "mysql://x", "BREAM_DATABASE_URL"),
    ] {
        let mut config = Config::default();
        let error = config
            .apply_env(|asked| (asked == name).then(|| value.to_string()))
            .expect_err(value);
        assert!(error.to_string().contains(expected), "{error}");
    }
}

#[test]
fn cluster_keys_are_checked() {
    for (text, key) in [
        (
            "[internal_databases.cets]\nbackend = \"file\"",
            "node_list_file",
        ),
        (
            "[internal_databases.cets]\nheartbeat_deadline = 10",
            "heartbeat_deadline",
        ),
        ("[general]\nnode_name = \"nohost\"", "node_name"),
        ("[general]\ndist_port = 0", "dist_port"),
    ] {
        let error = Config::from_toml(text).expect_err(text);
        assert!(error.to_string().contains(key), "{error}");
    }
}

#[test]
fn max_user_sessions_is_read_from_the_access_rule_for_all() {
    let config = Config::from_toml(
        r#"
        [access]
        max_user_sessions = [{acl = "admin", value = 100}, {acl = "all", value = 2}]
        "#,
    )
    .expect("valid");
    assert_eq!(config.max_user_sessions(), Some(2));
    let unlimited =
        Config::from_toml("[access]\nmax_user_sessions = [{acl = \"all\", value = \"infinity\"}]")
            .expect("valid");
    assert_eq!(unlimited.max_user_sessions(), None);
    assert_eq!(Config::default().max_user_sessions(), None);
    for bad in [
        "[access]\nmax_user_sessions = 3",
        "[access]\nmax_user_sessions = [{acl = \"all\", value = 0}]",
        "[access]\nmax_user_sessions = [{acl = \"all\", value = \"many\"}]",
    ] {
        let error = Config::from_toml(bad).expect_err(bad);
        assert!(
            error.to_string().contains("access.max_user_sessions"),
            "{error}"
        );
    }
}

#[test]
fn stream_management_is_on_by_default_with_mongooseim_defaults() {
    use crate::c2s::sm::{SmConfig, StaleH};
    let sm = Config::default().modules.stream_management();
    assert_eq!(sm, Some(SmConfig::default()));
    let sm = sm.expect("on");
    assert_eq!(
        (sm.buffer_max, sm.ack_freq, sm.resume_timeout, sm.stale_h),
        (100, 1, Duration::from_secs(600), None)
    );
    let config = Config::from_toml(
        r#"
        [modules.mod_stream_management]
        buffer_max = 30
        ack_freq = 3
        resume_timeout = 60
        stale_h.enabled = true
        stale_h.geriatric = 120
        "#,
    )
    .expect("valid");
    let sm = config.modules.stream_management().expect("on");
    assert_eq!((sm.buffer_max, sm.ack_freq), (30, 3));
    assert_eq!(sm.resume_timeout, Duration::from_secs(60));
    assert_eq!(
        sm.stale_h,
        Some(StaleH {
            repeat_after: Duration::from_secs(1800),
            geriatric: Duration::from_secs(120),
        })
    );
    let off =
        Config::from_toml("[modules.mod_stream_management]\nenabled = false\n").expect("valid");
    assert_eq!(off.modules.stream_management(), None);
    for (bad, key) in [
        ("buffer_max = 0", "buffer_max"),
        ("ack_freq = 0", "ack_freq"),
        ("resume_timeout = 0", "resume_timeout"),
        ("stale_h.repeat_after = 0", "stale_h.repeat_after"),
        ("buffer_replicas = 2", "buffer_replicas"),
    ] {
        let text = format!("[modules.mod_stream_management]\n{bad}\n");
        let error = Config::from_toml(&text).expect_err(bad);
        assert!(
            error
                .to_string()
                .contains(&format!("modules.mod_stream_management.{key}")),
            "{error}"
        );
    }
    assert_eq!(sm.buffer_replicas, 0, "no mirror unless asked");
    let mirrored =
        Config::from_toml("[modules.mod_stream_management]\nbuffer_replicas = 1\n").expect("valid");
    let sm = mirrored.modules.stream_management().expect("on");
    assert_eq!(sm.buffer_replicas, 1);
    let message = error("[modules.mod_stream_management]\nbuffer = true\n");
    assert!(message.contains("unknown field `buffer`"), "{message}");
}

#[test]
fn client_state_indication_is_on_by_default_and_bounded() {
    use crate::c2s::csi::CsiConfig;
    assert_eq!(
        Config::default().modules.client_state(),
        Some(CsiConfig { buffer_max: 20 })
    );
    let config = Config::from_toml("[modules.mod_csi]\nbuffer_max = 5\n").expect("valid");
    assert_eq!(
        config.modules.client_state(),
        Some(CsiConfig { buffer_max: 5 })
    );
    let off = Config::from_toml("[modules.mod_csi]\nenabled = false\n").expect("valid");
    assert_eq!(off.modules.client_state(), None);
    let error = Config::from_toml("[modules.mod_csi]\nbuffer_max = 0\n").expect_err("zero");
    assert!(
        error.to_string().contains("modules.mod_csi.buffer_max"),
        "{error}"
    );
}

#[test]
fn server_pings_are_off_by_default_and_follow_mod_ping() {
    use crate::c2s::keepalive::PingConfig;
    assert_eq!(Config::default().modules.server_pings(), None);
    let config = Config::from_toml(
        "[modules.mod_ping]\nsend_pings = true\nping_interval = 30\nping_req_timeout = 5\ntimeout_action = \"kill\"\n",
    )
    .expect("valid");
    assert_eq!(
        config.modules.server_pings(),
        Some(PingConfig {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            kill_on_timeout: true,
        })
    );
    let off = Config::from_toml("[modules.mod_ping]\nenabled = false\nsend_pings = true\n")
        .expect("valid");
    assert_eq!(off.modules.server_pings(), None);
}

#[test]
fn sasl2_and_bind2_are_on_by_default() {
    let modules = Config::default().modules;
    assert!(modules.mod_sasl2.enabled && modules.mod_bind2.enabled);
    let off = Config::from_toml("[modules.mod_sasl2]\nenabled = false\n").expect("valid");
    assert!(!off.modules.mod_sasl2.enabled);
}
