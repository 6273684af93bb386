//! The Prometheus listener over real sockets: health checks driven by the readiness watch,
//! and the counters of a real login, a failed login and messages (one stored offline) read
//! back from `/metrics`. The recorder is process-global, so values are compared before and
//! after rather than against zero.

use std::collections::HashMap;
use std::net::SocketAddr;

use bream_testkit::xmpp::{TestClient, TestServer, DOMAIN, NS_SASL, PASSWORD};
use bream_testkit::{eventually, raw_get, DEADLINE};
use bream_xmpp::metrics::exporter::{self, PrometheusSettings};
use tokio::sync::watch;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_readiness_and_counters_follow_traffic() {
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

    // The whole server beside it: the recorder is process-global, so its traffic shows on
    // this listener too.
    let server = TestServer::builder().users(["alice", "bob"]).start().await;
    let c2s_addr = server.c2s_addr();

    let before = scrape(addr).await;
    let mut wrong = TestClient::connect(c2s_addr).await;
    wrong.open().await;
    let failure = wrong.auth_plain("alice", "wrong").await;
    assert!(failure.is("failure", NS_SASL), "{failure}");
    let mut alice = TestClient::login_available(c2s_addr, "alice", PASSWORD, "phone").await;
    // Bob is offline: stored.
    alice
        .send("<message to='bob@localhost' type='chat' id='m1'><body>1</body></message>")
        .await;
    // Stored before bob logs in: his initial presence takes what is stored at that moment.
    eventually("m1 stored offline", DEADLINE, || async {
        server
            .storage
            .count_offline(DOMAIN, "bob")
            .await
            .expect("count")
            > 0
    })
    .await;
    let mut bob = TestClient::login_available(c2s_addr, "bob", PASSWORD, "desk").await;
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
    server.stop().await;
    metrics.shutdown().await;
}
