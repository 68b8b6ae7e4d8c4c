//! Notices reach the resident through every channel, once; a failing
//! channel is retried, counted and given up on without holding up the rest.

use std::time::Duration;

use gridloop_engine::service::Clock;
use gridloop_engine::time::Millis;
use gridloop_http::courier::{CodePurpose, Courier};
use gridloop_notify::Channel;
use gridloop_notify::outbox::State;
use tokio::sync::watch;

use crate::support::{Hook, RESIDENT, Smtp, World, config, eventually, free_port};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_ticket_is_told_once_by_mail_by_webhook_and_on_the_page() {
    // Given a running notifier with e-mail and a webhook,
    let world = World::new().await;
    let (smtp, hook) = (Smtp::start(), Hook::start(&[]).await);
    let notifier = world.notifier(config(&smtp, &hook.url, 5));
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn({
        let notifier = notifier.clone();
        async move { notifier.run(stopped).await }
    });

    // when a ticket is taken, resolved and closed,
    let ticket = world.submit(1).await;
    world.take(&ticket).await;
    world.resolve(&ticket, "已上门探访，老人一切安好").await;
    world.close(&ticket).await;

    // then the resident gets one mail and one webhook call per moment.
    eventually("three mails and three webhook calls", || smtp.mails().len() >= 3 && hook.taken().len() >= 3).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (mails, calls) = (smtp.mails(), hook.got());
    assert_eq!((mails.len(), calls.len()), (3, 3), "nothing twice: {mails:#?} {calls:#?}");
    let resolved =
        mails.iter().find(|m| m["subject"].as_str().unwrap_or("").contains("已办结")).expect("the result mail");
    assert_eq!(resolved["to"], serde_json::json!(["xm@example.org"]));
    assert_eq!(resolved["subject"], "您的诉求 T-1 已办结 / Your request T-1 was resolved");
    let body = resolved["body"].as_str().expect("a body");
    assert!(body.contains("处理结果：已上门探访，老人一切安好") && body.contains("T-1"), "{body}");
    let call = calls.iter().find(|c| c.body["kind"] == "resolved").expect("the result call");
    assert!(calls.iter().all(|c| c.signed), "every call is signed: {calls:#?}");
    assert_eq!((call.body["ticket"].as_str(), call.body["resident"].as_str()), (Some("T-1"), Some(RESIDENT)));
    assert_eq!(call.body["phone"], "13800000001");
    assert!(call.body["text"].as_str().expect("text").contains("已上门探访"));
    // The mail's Message-ID and the webhook's key are the outbox's keys.
    let keys: Vec<String> =
        notifier.outbox().finished(Channel::Email).expect("reads").into_iter().map(|d| d.key).collect();
    let id = resolved["message_id"].as_str().expect("an id");
    assert!(keys.iter().any(|k| id == format!("<{k}@gridloop>")), "{id} among {keys:?}");

    // And the page lists the three, newest first.
    let page = notifier.notices(&World::resident(), 10).await.expect("reads");
    let kinds: Vec<&str> = page.iter().map(|n| n.kind.as_str()).collect();
    assert_eq!(kinds, ["closed", "resolved", "accepted"]);
    let status = notifier.status();
    assert!(status.iter().all(|c| c.sent_total == 3 && c.pending == 0 && c.failed_total == 0), "{status:?}");
    let _ = stop.send(true);
    running.await.expect("joins").expect("the notifier stops cleanly");
}

#[tokio::test]
async fn a_co_reporter_is_told_too_under_keys_of_their_own() {
    // Given a ticket another resident followed instead of reporting it again,
    let world = World::new().await;
    let (smtp, hook) = (Smtp::start(), Hook::start(&[]).await);
    let notifier = world.notifier(config(&smtp, &hook.url, 5));
    let ticket = world.submit(1).await;
    world.follow(&ticket, "r-2", "neighbour@example.org").await;
    // when it is resolved,
    world.take(&ticket).await;
    world.resolve(&ticket, "路灯已修复").await;
    notifier.catch_up().await.expect("writes the outbox");
    notifier.deliver_due(Channel::Email).await.expect("sends");
    notifier.deliver_due(Channel::Webhook).await.expect("sends");
    // then both hear of the taking and the result, each once, with keys of their own.
    let mut to: Vec<String> = smtp.mails().iter().map(|m| m["to"][0].as_str().unwrap_or("").to_string()).collect();
    to.sort();
    assert_eq!(to, ["neighbour@example.org", "neighbour@example.org", "xm@example.org", "xm@example.org"]);
    let calls = hook.taken();
    let keys: std::collections::BTreeSet<&str> = calls.iter().map(|c| c.key.as_str()).collect();
    assert_eq!((calls.len(), keys.len()), (4, 4), "{calls:#?}");
    let neighbour = gridloop_engine::ids::ResidentId::new("r-2").expect("valid");
    let page = notifier.notices(&neighbour, 10).await.expect("reads");
    assert_eq!(page.iter().map(|n| n.kind.as_str()).collect::<Vec<_>>(), ["resolved", "accepted"]);
    assert!(page[0].text.contains("路灯已修复"));
}

#[tokio::test]
async fn a_webhook_answering_500_is_retried_after_its_backoff_and_counted() {
    // Given a receiver that fails once, then takes the call,
    let world = World::new().await;
    let (smtp, hook) = (Smtp::start(), Hook::start(&[500]).await);
    let notifier = world.notifier(config(&smtp, &hook.url, 5));
    let ticket = world.submit(1).await;
    world.take(&ticket).await;
    notifier.catch_up().await.expect("writes the outbox");

    // when the sender tries it,
    assert_eq!(notifier.deliver_due(Channel::Webhook).await.expect("sends"), 1);
    let status = &notifier.status()[1];
    assert_eq!((status.channel.as_str(), status.pending, status.retried_total), ("webhook", 1, 1));
    assert!(status.last_error.as_deref().unwrap_or("").contains("500"), "{status:?}");
    // then it is not tried again before its backoff (half to all of a minute),
    assert_eq!(notifier.deliver_due(Channel::Webhook).await.expect("looks"), 0, "not due yet");
    world.clock.advance(Millis(29_000));
    assert_eq!(notifier.deliver_due(Channel::Webhook).await.expect("looks"), 0, "not due before half the wait");
    // and once it has passed it goes, under the same key.
    world.clock.advance(Millis(31_001));
    assert_eq!(notifier.deliver_due(Channel::Webhook).await.expect("sends"), 1);
    let got = hook.got();
    assert_eq!(got.iter().map(|h| h.status).collect::<Vec<_>>(), [500, 200]);
    assert_eq!(got[0].key, got[1].key, "a retry carries the same idempotency key");
    let status = &notifier.status()[1];
    assert_eq!((status.pending, status.sent_total, status.retried_total, status.failed_total), (0, 1, 1, 0));
    let finished = notifier.outbox().finished(Channel::Webhook).expect("reads");
    assert_eq!((finished.len(), finished[0].state, finished[0].attempts), (1, State::Sent, 2));
    // A finished delivery is forgotten only once it is older than the cutoff.
    let sent_at = finished[0].finished_at.expect("finished");
    assert_eq!(sent_at, world.clock.now());
    assert_eq!(notifier.outbox().prune(Channel::Webhook, sent_at).expect("prunes"), 0);
    assert_eq!(notifier.outbox().prune(Channel::Webhook, sent_at.plus(Millis(1))).expect("prunes"), 1);
    assert!(notifier.outbox().finished(Channel::Webhook).expect("reads").is_empty());
    assert_eq!(notifier.outbox().finished(Channel::Email).expect("reads").len(), 0, "the mail was never sent here");
}

#[tokio::test]
async fn a_webhook_refusing_with_400_fails_at_once() {
    let world = World::new().await;
    let (smtp, hook) = (Smtp::start(), Hook::start(&[400]).await);
    let notifier = world.notifier(config(&smtp, &hook.url, 5));
    let ticket = world.submit(1).await;
    world.take(&ticket).await;
    notifier.catch_up().await.expect("writes the outbox");
    notifier.deliver_due(Channel::Webhook).await.expect("sends");
    let status = &notifier.status()[1];
    assert_eq!((status.pending, status.failed_total, status.retried_total), (0, 1, 0), "{status:?}");
    let finished = notifier.outbox().finished(Channel::Webhook).expect("reads");
    assert_eq!(finished[0].state, State::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_webhook_is_given_up_after_its_attempts_and_stops_neither_mail_nor_follower() {
    // Given a webhook nobody listens on, three attempts at most,
    let world = World::new().await;
    let smtp = Smtp::start();
    let dead = format!("http://127.0.0.1:{}/hook", free_port());
    let notifier = world.notifier(config(&smtp, &dead, 3));
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn({
        let notifier = notifier.clone();
        async move { notifier.run(stopped).await }
    });
    // when two tickets are taken and resolved,
    for n in 1..=2 {
        let ticket = world.submit(n).await;
        world.take(&ticket).await;
        world.resolve(&ticket, "修好了").await;
    }
    // then the mail goes all the same,
    eventually("four mails", || smtp.mails().len() == 4).await;
    // and the webhook's four notices are retried until given up.
    for _ in 0..40 {
        world.clock.advance(Millis::minutes(10));
        tokio::time::sleep(Duration::from_millis(100)).await;
        if notifier.status()[1].failed_total == 4 {
            break;
        }
    }
    let webhook = &notifier.status()[1];
    assert_eq!((webhook.pending, webhook.failed_total, webhook.retried_total), (0, 4, 8), "{webhook:?}");
    let failed = notifier.outbox().finished(Channel::Webhook).expect("reads");
    assert!(failed.iter().all(|d| d.state == State::Failed && d.attempts == 3), "{failed:#?}");
    // A notifier started again on the same outbox still shows them.
    let again = world.notifier(config(&smtp, &dead, 3)).status();
    assert_eq!((again[1].failed_total, again[0].sent_total), (4, 4), "{again:?}");
    assert!(again[1].last_error.as_deref().unwrap_or("").contains("did not answer"), "{again:?}");
    // The follower went on: a third ticket's notice reaches the page and the mail.
    let ticket = world.submit(3).await;
    world.take(&ticket).await;
    eventually("the fifth mail", || smtp.mails().len() == 5).await;
    assert_eq!(notifier.notices(&World::resident(), 10).await.expect("reads").len(), 5);
    let _ = stop.send(true);
    running.await.expect("joins").expect("stops cleanly");
}

#[tokio::test]
async fn a_code_goes_out_at_once_through_mail_and_webhook_and_never_onto_the_page() {
    let world = World::new().await;
    let (smtp, hook) = (Smtp::start(), Hook::start(&[]).await);
    let notifier = world.notifier(config(&smtp, &hook.url, 5));
    let resident = World::resident();
    notifier.send_code(&resident, "482913", CodePurpose::LinkDevice).await.expect("queues");
    // The same code again is the same notice: not queued twice.
    notifier.send_code(&resident, "482913", CodePurpose::LinkDevice).await.expect("queues");
    notifier.deliver_due(Channel::Email).await.expect("sends");
    notifier.deliver_due(Channel::Webhook).await.expect("sends");
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0]["body"].as_str().expect("a body").contains("482913"));
    let calls = hook.taken();
    assert_eq!((calls.len(), calls[0].body["kind"].as_str()), (1, Some("code")));
    assert!(calls[0].body["text"].as_str().expect("text").contains("482913"));
    assert!(notifier.notices(&resident, 10).await.expect("reads").is_empty(), "a code is not a page notice");
    // Once sent, the outbox keeps no copy of the code.
    let kept = notifier.outbox().finished(Channel::Email).expect("reads");
    assert!(kept.iter().all(|d| !d.notice.text.contains("482913")), "{kept:#?}");
}

#[tokio::test]
async fn a_code_is_refused_when_no_channel_can_carry_it_or_it_is_no_code() {
    let world = World::new().await;
    let notifier = world.notifier(gridloop_notify::Config::default());
    let refused = notifier.send_code(&World::resident(), "111111", CodePurpose::ConfirmPhone).await;
    assert!(matches!(refused, Err(gridloop_engine::Error::Invalid { field: "channel", .. })), "{refused:?}");
    let (smtp, hook) = (Smtp::start(), Hook::start(&[]).await);
    let notifier = world.notifier(config(&smtp, &hook.url, 5));
    for bad in ["", "12 34", "<b>1</b>", &"9".repeat(33)] {
        let refused = notifier.send_code(&World::resident(), bad, CodePurpose::ConfirmPhone).await;
        assert!(matches!(refused, Err(gridloop_engine::Error::Invalid { field: "code", .. })), "{bad:?}: {refused:?}");
    }
    assert_eq!(notifier.status().iter().map(|c| c.pending).sum::<u64>(), 0, "nothing queued");
}

#[tokio::test]
async fn a_resident_without_an_address_is_skipped_by_mail_and_still_reached_by_webhook() {
    // Given a resident who gave a phone and no e-mail address,
    let world = World::new().await;
    let person = gridloop_engine::personal::Person::new("李四", "13900000002", "").expect("valid");
    gridloop_engine::personal::PersonalStore::put(&world.store.personal().expect("opens"), &World::resident(), &person)
        .expect("stores");
    let (smtp, hook) = (Smtp::start(), Hook::start(&[]).await);
    let notifier = world.notifier(config(&smtp, &hook.url, 5));
    // when their ticket is taken,
    let ticket = world.submit(1).await;
    world.take(&ticket).await;
    notifier.catch_up().await.expect("writes the outbox");
    notifier.deliver_due(Channel::Email).await.expect("looks");
    notifier.deliver_due(Channel::Webhook).await.expect("sends");
    // then no mail goes and none is counted failed, and the webhook has the phone.
    assert!(smtp.mails().is_empty());
    let skipped = notifier.outbox().finished(Channel::Email).expect("reads");
    assert_eq!(skipped.iter().map(|d| d.state).collect::<Vec<_>>(), [State::Skipped]);
    assert_eq!(notifier.status()[0].failed_total, 0);
    assert_eq!(hook.taken()[0].body["phone"], "13900000002");
}

#[tokio::test]
async fn metrics_show_each_channel_pending_sent_and_failed() {
    let world = World::new().await;
    let (smtp, hook) = (Smtp::start(), Hook::start(&[400]).await);
    let notifier = world.notifier(config(&smtp, &hook.url, 5));
    let ticket = world.submit(1).await;
    world.take(&ticket).await;
    notifier.catch_up().await.expect("writes the outbox");
    notifier.deliver_due(Channel::Webhook).await.expect("tries");
    let state = gridloop_http::AppState::new(
        world.service.clone(),
        gridloop_http::TokenTable::new(),
        gridloop_http::Cold::default(),
    )
    .await
    .expect("a state")
    .with_courier(std::sync::Arc::new(notifier));
    let request = axum::http::Request::get("/metrics").body(axum::body::Body::empty()).expect("a request");
    let answer = tower::ServiceExt::oneshot(gridloop_http::router(state), request).await.expect("answers");
    let bytes = axum::body::to_bytes(answer.into_body(), 1 << 20).await.expect("a body");
    let text = String::from_utf8(bytes.to_vec()).expect("UTF-8");
    for line in [
        "gridloop_notify_pending{channel=\"email\"} 1",
        "gridloop_notify_pending{channel=\"webhook\"} 0",
        "gridloop_notify_failed_total{channel=\"webhook\"} 1",
        "gridloop_notify_sent_total{channel=\"email\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
    }
}
