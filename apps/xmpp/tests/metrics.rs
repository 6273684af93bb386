//! The Prometheus listener over real sockets: health checks driven by the readiness watch,
//! and the counters of a real login, a failed login and messages (one stored offline) read
//! back from `/metrics`. The recorder is process-global, so values are compared before and
//! after rather than against zero.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bream_xmpp::c2s::{self, C2sSettings, ListenerSettings};
use bream_xmpp::config::Config;
use bream_xmpp::metrics::exporter::{self, PrometheusSettings};
use bream_xmpp::storage::Storage;
use tokio::sync::watch;

mod support;

use support::{raw_get, Client, DOMAIN, NS_SASL};

/// `/metrics` as `series -> value`, a series being the name with its labels as written.
async fn scrape(addr: SocketAddr) -> HashMap<String, f64> {
    let (status, response) = raw_get(addr, "/metrics", None).await;
    assert_eq!(status, 200, "{response}");
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    body.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

fn grew(before: &HashMap<String, f64>, after: &HashMap<String, f64>, series: &str, by: f64) {
    let old = before.get(series).copied().unwrap_or(0.0);
    let new = after.get(series).copied().unwrap_or(0.0);
    assert!(
        new - old >= by,
        "{series}: {old} -> {new}, want at least +{by}; scraped: {after:?}"
    );
}

#[tokio::test]
async fn health_follows_readiness_and_counters_follow_traffic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = Storage::connect(&format!(
        "sqlite://{}",
        dir.path().join("bream.db").display()
    ))
    .await
    .expect("storage");
    let (ready_sender, ready) = watch::channel(false);
    let metrics = exporter::serve(
        PrometheusSettings {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        },
        ready,
    )
    .await
    .expect("metrics listener starts");
    let addr = metrics.local_addr();
    assert_eq!(raw_get(addr, "/health/live", None).await.0, 200);
    assert_eq!(raw_get(addr, "/health/ready", None).await.0, 503);
    ready_sender.send_replace(true);
    let (status, response) = raw_get(addr, "/health/ready", None).await;
    assert_eq!(status, 200, "{response}");

    let mut config = Config::default();
    config.auth.password.scram_iterations = 64;
    for user in ["alice", "bob"] {
        let details = config.auth.password.derive("pw").expect("derive");
        storage
            .register_user(DOMAIN, user, &details)
            .await
            .expect("registered");
    }
    let mut settings = C2sSettings::new(DOMAIN);
    settings.listeners = vec![ListenerSettings::new(SocketAddr::from(([127, 0, 0, 1], 0)))];
    settings.data_dir = dir.path().to_path_buf();
    let (modules, offline) = bream_xmpp::server::modules(&config.modules, &storage);
    let server = c2s::serve_with_modules(settings, Arc::new(storage.clone()), offline, modules)
        .await
        .expect("c2s starts");
    let c2s_addr = server.local_addrs()[0];

    let before = scrape(addr).await;
    let (_wrong, failure) = Client::authenticate(c2s_addr, "alice", "wrong").await;
    assert!(failure.is("failure", NS_SASL), "{failure}");
    let mut alice = Client::login(c2s_addr, "alice", "pw", "phone").await;
    // Bob is offline: stored.
    alice
        .send("<message to='bob@localhost' type='chat' id='m1'><body>1</body></message>")
        .await;
    // Stored before bob logs in: his initial presence takes what is stored at that moment.
    let deadline = tokio::time::Instant::now() + support::DEADLINE;
    while storage.count_offline(DOMAIN, "bob").await.expect("count") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "m1 never stored");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let mut bob = Client::login(c2s_addr, "bob", "pw", "desk").await;
    let stored = bob.next_where(|element| element.name == "message").await;
    assert_eq!(stored.attr("id"), Some("m1"));
    alice
        .send("<message to='bob@localhost' type='chat' id='m2'><body>2</body></message>")
        .await;
    let live = bob.next_where(|element| element.name == "message").await;
    assert_eq!(live.attr("id"), Some("m2"));
    let after = scrape(addr).await;

    grew(
        &before,
        &after,
        "bream_xmpp_logins_total{mechanism=\"PLAIN\"}",
        2.0,
    );
    grew(
        &before,
        &after,
        "bream_xmpp_logins_failed_total{mechanism=\"PLAIN\"}",
        1.0,
    );
    grew(
        &before,
        &after,
        "bream_xmpp_stanzas_in_total{kind=\"message\"}",
        2.0,
    );
    grew(
        &before,
        &after,
        "bream_xmpp_stanzas_in_total{kind=\"presence\"}",
        2.0,
    );
    grew(
        &before,
        &after,
        "bream_xmpp_stanzas_out_total{kind=\"message\"}",
        1.0,
    );
    grew(&before, &after, "bream_xmpp_sessions", 2.0);
    grew(&before, &after, "bream_xmpp_routing_seconds_count", 2.0);
    grew(
        &before,
        &after,
        "bream_xmpp_offline_queue_messages_count",
        1.0,
    );
    grew(
        &before,
        &after,
        "bream_xmpp_database_query_seconds_count{operation=\"store_offline\"}",
        1.0,
    );
    grew(
        &before,
        &after,
        "bream_xmpp_database_query_seconds_count{operation=\"pass_details\"}",
        3.0,
    );
    assert!(
        after.contains_key("bream_xmpp_routing_seconds_bucket{le=\"0.001\"}"),
        "latency histograms have buckets: {after:?}"
    );

    drop(alice);
    drop(bob);
    server.shutdown().await;
    metrics.shutdown().await;
    storage.close().await;
}
