//! A restart of the notifier anywhere loses no notice and doubles none.

use gridloop_engine::store::EventStore;
use gridloop_notify::Channel;

use crate::support::{Hook, Smtp, World, config};

async fn send_all(notifier: &gridloop_notify::Notifier<gridloop_store_sled::SledStore>) {
    notifier.deliver_due(Channel::Email).await.expect("sends mail");
    notifier.deliver_due(Channel::Webhook).await.expect("calls the webhook");
}

#[tokio::test]
async fn a_restart_after_the_outbox_write_and_before_sending_sends_each_notice_once() {
    // Given notices written to the outbox and nothing sent yet,
    let world = World::new().await;
    let (smtp, hook) = (Smtp::start(), Hook::start(&[]).await);
    let ticket = world.submit(1).await;
    world.take(&ticket).await;
    world.resolve(&ticket, "已处理").await;
    let notifier = world.notifier(config(&smtp, &hook.url, 5));
    assert!(notifier.catch_up().await.expect("writes the outbox") > 0);
    assert_eq!((smtp.mails().len(), hook.got().len()), (0, 0));

    // when the process stops there and starts again,
    drop(notifier);
    let world = world.restart();
    let notifier = world.notifier(config(&smtp, &hook.url, 5));
    assert_eq!(notifier.catch_up().await.expect("reads"), 0, "the position was saved with the outbox");
    send_all(&notifier).await;

    // then each notice goes once.
    assert_eq!((smtp.mails().len(), hook.got().len()), (2, 2));
    let status = notifier.status();
    assert!(status.iter().all(|c| c.pending == 0 && c.sent_total == 2), "{status:?}");
}

#[tokio::test]
async fn a_restart_after_sending_sends_nothing_again_and_tells_what_happened_while_down() {
    // Given a resolution told by mail and webhook,
    let world = World::new().await;
    let (smtp, hook) = (Smtp::start(), Hook::start(&[]).await);
    let ticket = world.submit(1).await;
    world.take(&ticket).await;
    world.resolve(&ticket, "已处理").await;
    let notifier = world.notifier(config(&smtp, &hook.url, 5));
    notifier.catch_up().await.expect("writes the outbox");
    send_all(&notifier).await;
    assert_eq!((smtp.mails().len(), hook.got().len()), (2, 2));

    // when the notifier stops, the ticket closes meanwhile, and it starts again,
    drop(notifier);
    let world = world.restart();
    world.close(&ticket).await;
    let notifier = world.notifier(config(&smtp, &hook.url, 5));
    notifier.catch_up().await.expect("reads what it missed");
    send_all(&notifier).await;
    // and once more, with nothing new,
    notifier.catch_up().await.expect("reads");
    send_all(&notifier).await;

    // then only the closing is told, once per channel.
    let mails = smtp.mails();
    assert_eq!(mails.len(), 3, "{mails:#?}");
    assert!(mails[2]["subject"].as_str().expect("a subject").contains("已结案"));
    let kinds: Vec<String> = hook.got().iter().map(|h| h.body["kind"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(kinds, ["accepted", "resolved", "closed"]);
    let page = notifier.outbox().page(&World::resident(), 10).expect("reads");
    assert_eq!(page.len(), 3);
}

#[tokio::test]
async fn a_batch_written_again_queues_nothing_twice() {
    // Given notices in the outbox, some already sent,
    let world = World::new().await;
    let (smtp, hook) = (Smtp::start(), Hook::start(&[]).await);
    let ticket = world.submit(1).await;
    world.take(&ticket).await;
    let notifier = world.notifier(config(&smtp, &hook.url, 5));
    notifier.catch_up().await.expect("writes the outbox");
    notifier.deliver_due(Channel::Email).await.expect("sends");
    // when the same event's notices are written again (a crash that repeats a batch),
    let events = world.service.store().read_all(1, 100).await.expect("reads");
    let mut notices = Vec::new();
    for event in &events {
        notices.extend(gridloop_notify::follower::notices_of(&world.service, event).await.expect("tells"));
    }
    assert_eq!(notices.len(), 1, "one notice: the ticket was taken");
    let queued = notifier.outbox().write(&notices, notifier.channels(), None).await.expect("writes");
    // then nothing is queued: the mail is finished, the webhook call pending.
    assert_eq!(queued, 0);
    send_all(&notifier).await;
    assert_eq!((smtp.mails().len(), hook.got().len()), (1, 1));
}

#[tokio::test]
async fn the_first_start_saves_where_it_begins_so_an_event_just_after_is_not_skipped() {
    // Given a notifier started for the first time at the log's end,
    let world = World::new().await;
    let (smtp, hook) = (Smtp::start(), Hook::start(&[]).await);
    let ticket = world.submit(1).await;
    let end = world.store.head_position();
    let first = gridloop_notify::Config { first_position: end + 1, ..config(&smtp, &hook.url, 5) };
    let notifier = world.notifier(first);
    assert_eq!(notifier.catch_up().await.expect("reads"), 0, "nothing from before it existed");
    // when the ticket is taken and the process dies before the notifier reads it,
    world.take(&ticket).await;
    drop(notifier);
    let world = world.restart();
    // then the next start, at a later end of the log, still tells it.
    let later =
        gridloop_notify::Config { first_position: world.store.head_position() + 1, ..config(&smtp, &hook.url, 5) };
    let notifier = world.notifier(later);
    assert!(notifier.catch_up().await.expect("reads") > 0);
    send_all(&notifier).await;
    assert_eq!((smtp.mails().len(), hook.got().len()), (1, 1));
}
