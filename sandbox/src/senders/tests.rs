use super::*;

#[test]
fn success_rules_follow_the_contracts() {
    assert!(Success::Any2xx.accepts(200) && Success::Any2xx.accepts(201));
    assert!(Success::Any2xx.accepts(204) && !Success::Any2xx.accepts(302));
    assert!(Success::Only200.accepts(200) && !Success::Only200.accepts(201));
}

#[test]
fn shown_requests_mask_authorization_whatever_its_form() {
    let prepared = |value: &str| Prepared {
        url: "http://127.0.0.1:1/hook".into(),
        headers: vec![("Authorization".into(), value.into())],
        body: br#"{"a":1}"#.to_vec(),
    };
    let shown = show_request(&prepared("Basic b25zOnNlZ3JlZG8="));
    assert_eq!(shown["headers"]["Authorization"], "Basic ***");
    assert_eq!(shown["body"]["a"], 1);
    let shown = show_request(&prepared("ninguemsabe"));
    assert_eq!(shown["headers"]["Authorization"], "***");
}

fn outgoing(n: u64) -> Outgoing {
    Outgoing {
        event: "e".into(),
        tag: serde_json::json!(n),
        render: Arc::new(|| Err("never sent".into())),
        timeout_is_success: false,
    }
}

fn policy() -> DeliveryPolicy {
    DeliveryPolicy {
        timeout_ms: 1000,
        max_attempts: 1,
        backoff_ms: vec![],
        success: Success::Any2xx,
        give_up_statuses: vec![],
        concurrency: 1,
        hold: true,
    }
}

/// Without a runtime nothing is sent, so the queue shows what chaos drew.
#[test]
fn duplicates_depend_on_the_seed_only() {
    let draw = |seed: u64| {
        let outbox = Outbox::new(SenderId::Tae, policy());
        outbox.set_chaos(Some(DeliveryChaos { seed, duplicate_percent: 50.0, shuffle: true }));
        (0..200).for_each(|n| drop(outbox.enqueue(outgoing(n))));
        outbox.views().into_iter().map(|v| v.duplicate_of).collect::<Vec<_>>()
    };
    let first = draw(9);
    assert_eq!(draw(9), first);
    assert_ne!(draw(10), first);
    let copies = first.iter().flatten().count();
    assert!((60..=140).contains(&copies), "about half of 200: {copies}");
    let summary = {
        let outbox = Outbox::new(SenderId::Tae, policy());
        outbox.enqueue(outgoing(1));
        outbox.summary()
    };
    assert_eq!((summary.held, summary.pending, summary.settled), (1, 0, true));
}

#[test]
fn cancel_pending_touches_only_matching_pending_deliveries() {
    let outbox = Outbox::new(SenderId::Tae, policy());
    for n in 0..4 {
        outbox.enqueue(outgoing(n));
    }
    assert_eq!(outbox.cancel_pending(|tag| tag.as_u64().is_some_and(|n| n % 2 == 0)), 2);
    let statuses: Vec<DeliveryStatus> = outbox.views().iter().map(|v| v.status).collect();
    use DeliveryStatus::{Cancelled, Pending};
    assert_eq!(statuses, vec![Cancelled, Pending, Cancelled, Pending]);
    assert_eq!(outbox.cancel_pending(|_| true), 2);
    assert_eq!(outbox.cancel_pending(|_| true), 0);
}
